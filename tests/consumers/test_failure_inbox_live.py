"""The failure inbox stays current over its socket: the groups on connect, a run that fails
while the page is open (archived by the real archiver, pushed by the live feeds), and a
dismissal, which changes no run, pushed at once to every open inbox."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from flows.engine.builder import Flow, Step
from flows.engine.executor import FlowExecutor
from flows.engine.statuses import FlowStatus
from flows.failures import group_actions
from flows.failures.inbox import failure_groups
from flows.roles import ADMIN, VIEWER
from tests.web.background import runner_in_background

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("short_lived_connections"),
]

WAIT = 30  # a bound on how long a frame may take, not a pause
FAILING = Flow("shop", (Step("charge", 'fail("No such customer: cus_%d" % input["n"])'),))


async def _fail_a_run(redis_url: str) -> None:
    async with runner_in_background(), FlowExecutor(redis_url) as executor:
        state = await executor.wait_for_flow(await executor.execute_flow(FAILING, {"n": 7}))
    assert state.status == FlowStatus.FAILED


async def _until_saying(socket: WebsocketCommunicator, text: str) -> str:
    """The first inbox frame that says this (the archiver may save the run's launch first)."""
    while text not in (frame := await socket.receive_from(WAIT)):
        assert frame.startswith('<div id="failure-groups">')
    return frame


async def _open(connect, make_user, role: str) -> WebsocketCommunicator:
    socket = await connect("/ws/failures/", await database_sync_to_async(make_user)(role))
    connected, _code = await socket.connect()
    assert connected
    return socket


async def test_anonymous_users_are_refused(connect):
    connected, _code = await (await connect("/ws/failures/", None)).connect()

    assert not connected


async def test_a_failure_reaches_open_inboxes_with_actions_for_admins_only(
    connect, make_user, archiver, redis_url: str
):
    viewer = await _open(connect, make_user, VIEWER)
    admin = await _open(connect, make_user, ADMIN)
    assert "No failures to look at." in await viewer.receive_from(WAIT)
    assert "No failures to look at." in await admin.receive_from(WAIT)

    await _fail_a_run(redis_url)

    seen_by_viewer = await _until_saying(viewer, "No such customer: cus_&lt;id&gt;")
    seen_by_admin = await _until_saying(admin, "No such customer: cus_&lt;id&gt;")
    assert "Retry all 1" not in seen_by_viewer
    assert "Retry all 1" in seen_by_admin


async def test_a_dismissal_is_pushed_to_open_inboxes(connect, make_user, archiver, redis_url: str):
    await _fail_a_run(redis_url)
    viewer = await _open(connect, make_user, VIEWER)
    await _until_saying(viewer, "No such customer")

    @database_sync_to_async
    def dismiss() -> None:
        [group] = failure_groups()
        group_actions.dismiss(group.key, make_user(ADMIN))

    await dismiss()

    assert "No failures to look at." in await viewer.receive_from(WAIT)
