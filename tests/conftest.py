"""Suite-wide setup: every test talks to a real Redis named by REDIS_URL.

`make test` sets REDIS_URL to the machine's Redis (CI: database 15) or to an embedded server it
starts. Tests flush that database, so refuse to run against an unnamed one.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator

import pytest
import redis

from flows.engine.connections import client_url, is_cluster_url


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get("REDIS_URL"):
        raise pytest.UsageError(
            "REDIS_URL is not set. Run `make test` (it starts an embedded Redis), or point "
            "REDIS_URL at a Redis database the tests may flush, e.g. redis://127.0.0.1:6379/15"
        )
    from django.conf import settings

    # Threads (ASGI servers, database_sync_to_async) must not keep connections open past their
    # work, or the test database cannot be dropped at the end of the session.
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ["REDIS_URL"]


@pytest.fixture(autouse=True)
def clean_redis(redis_url: str) -> Iterator[None]:
    """Each test starts and ends with an empty Redis database: no run leaks between tests."""
    _flush(redis_url)
    yield
    _flush(redis_url)


def _flush(redis_url: str) -> None:
    """FLUSHDB on the server, or on every master of the cluster (plain clients: a sync
    RedisCluster here left a socket to be closed by the garbage collector)."""
    with redis.Redis.from_url(client_url(redis_url)) as seed:
        if not is_cluster_url(redis_url):
            seed.flushdb()
            return
        slots = seed.execute_command("CLUSTER", "SLOTS")
    for host, port in {(owner[0].decode(), owner[1]) for _first, _last, owner, *_ in slots}:
        with redis.Redis(host=host, port=port) as master:
            master.flushdb()


@pytest.fixture
def use_redis(settings) -> Callable[[str], None]:
    """Point the whole site at another Redis for this test: the engine client (which forgets its
    clients when REDIS_URL changes), the channel layer (Channels rebuilds it when CHANNEL_LAYERS
    changes) and the lifespan's services, if the ASGI server starts after this."""

    def point_at(url: str) -> None:
        settings.REDIS_URL = url
        layers = copy.deepcopy(settings.CHANNEL_LAYERS)
        layers["default"]["CONFIG"]["hosts"][0]["address"] = client_url(url)
        settings.CHANNEL_LAYERS = layers

    return point_at
