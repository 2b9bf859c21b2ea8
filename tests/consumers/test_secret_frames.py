"""A live run page never receives a secret's value: the frames carry `[secret:NAME]`."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from flows.engine import FlowExecutor, new_flow, new_step
from flows.roles import VIEWER
from flows.secrets import vault
from tests.web.background import runner_in_background

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("short_lived_connections"),
]

WAIT = 30  # a bound on how long a frame may take, not a pause
VALUE = "sk_live_9Zq2LiveFrameSecret"
FLOW = (
    new_flow("live_secret")
    .add_step(
        new_step("read").script('log("key=" + secret("API_KEY"))\n{"k": secret("API_KEY")}').build()
    )
    .build()
)


async def test_the_frames_of_a_run_that_used_a_secret_hold_only_the_placeholder(
    connect, make_user, bridge
):
    await database_sync_to_async(vault.set_secret)("API_KEY", VALUE, None)
    async with FlowExecutor(settings.REDIS_URL, key_prefix=settings.FLOWS_KEY_PREFIX) as executor:
        flow_id = await executor.execute_flow(FLOW)
    viewer = await database_sync_to_async(make_user)(VIEWER)
    socket = await connect(f"/ws/runs/{flow_id}/", viewer)
    await socket.connect()
    frames = [await socket.receive_from(WAIT) for _ in ("summary", "rows", "audit")]
    async with runner_in_background():
        while "[secret:API_KEY]" not in frames[-1]:
            frames.append(await socket.receive_from(WAIT))

    assert not any(VALUE in frame for frame in frames)
