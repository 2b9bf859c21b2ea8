"""A live page's socket while Redis is unreachable: accepted, then closed with a reason the page
shows and a code (1013, try again later) on which it reconnects."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from channels.db import database_sync_to_async

from flows.roles import VIEWER
from tests.test_supervision import UNREACHABLE_REDIS

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("short_lived_connections"),
]

WAIT = 30  # a bound on how long the close may take, not a pause


@pytest.mark.parametrize("path", ["/ws/runs/0123456789abcdef0123456789abcdef/", "/ws/dashboard/"])
async def test_a_live_socket_closes_saying_redis_is_unreachable(
    connect, make_user, use_redis: Callable[[str], None], path: str
):
    use_redis(UNREACHABLE_REDIS)
    socket = await connect(path, await database_sync_to_async(make_user)(VIEWER))

    connected, _ = await socket.connect(WAIT)
    closed = await socket.receive_output(WAIT)

    assert connected
    assert closed == {"type": "websocket.close", "code": 1013, "reason": "Redis is unreachable"}
