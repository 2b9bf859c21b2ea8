"""Consumer fixtures: WebSocket clients of the real ASGI application (AuthMiddlewareStack,
origin check, routing) over the real channels-redis layer, logged in by session cookie, and the
live bridge and archiver running in the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as redis
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from flows.engine.connections import async_client
from flows.live.bridge import LiveBridge
from flows.live.feeds import LiveFeeds
from flows.runs.archiver import Archiver
from flowsite.asgi import application
from flowsite.lifespan import keep_running
from tests.web.conftest import make_user, short_lived_connections  # noqa: F401 - shared

Connect = Callable[..., "asyncio.Future[WebsocketCommunicator]"]
# The site as the sockets reach it: the Host header they are sent with, and the page's origin.
HOST = b"127.0.0.1:8000"
ORIGIN = b"http://127.0.0.1:8000"


def _cookie_for(user: User | None) -> bytes:
    if user is None:
        return b""
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Open a socket to a path as a user (None: anonymous), from a page of the site unless told
    another origin; all are closed at teardown."""
    opened: list[WebsocketCommunicator] = []

    async def open_socket(
        path: str, user: User | None, origin: bytes = ORIGIN, host: bytes = HOST
    ) -> WebsocketCommunicator:
        cookie = await database_sync_to_async(_cookie_for)(user)
        headers = [(b"host", host), (b"origin", origin), (b"cookie", cookie)]
        communicator = WebsocketCommunicator(application, path, headers=headers)
        opened.append(communicator)
        return communicator

    yield open_socket
    for communicator in opened:
        await communicator.disconnect()


async def _serve(service: LiveBridge | Archiver) -> AsyncIterator[None]:
    """Run the service as the web process's lifespan does: started again should it fail."""
    stopping = asyncio.Event()
    await service.start()
    task = asyncio.create_task(keep_running(service, stopping), name=type(service).__name__)
    yield
    stopping.set()
    service.stop()
    await task


@pytest.fixture
async def client() -> AsyncIterator[redis.Redis]:
    """A client of the test Redis, closed at teardown even when the test fails (a client left
    open warns when collected, failing whichever later test is running then)."""
    async with async_client(settings.REDIS_URL, decode_responses=True) as client:
        yield client


@pytest.fixture
async def idle_bridge() -> AsyncIterator[LiveBridge]:
    """A started bridge the test drives itself (bridge.work()); closed at teardown as a stopped
    one closes (its group left, its clients closed: on a cluster, its stream bells' too)."""
    bridge = LiveBridge(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX)
    await bridge.start()
    yield bridge
    await bridge.close()


@pytest.fixture
async def bridge() -> AsyncIterator[None]:
    async for _ in _serve(LiveBridge(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX)):
        yield


@pytest.fixture
async def archiver() -> AsyncIterator[None]:
    service = Archiver(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX, on_archived=LiveFeeds())
    async for _ in _serve(service):
        yield
