"""Live pages over WebSockets: refused without login or permission, the current state first,
then each transition as the page's own fragment for the right element id."""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User

from flows.engine.builder import Flow, Step
from flows.engine.connections import async_client
from flows.engine.executor import FlowExecutor
from flows.live import watchers
from flows.live.bridge import LiveBridge
from flows.live.feeds import DASHBOARD_SECONDS, LiveFeeds
from flows.models import RunRecord
from flows.roles import ADMIN, OPERATOR, VIEWER
from flows.runs import actions, history
from flows.runs.groups import Abilities, group_name

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("short_lived_connections"),
]

# A bound on how long a message may take, not a pause: receive_from returns on arrival.
WAIT = 30
TEN_O_CLOCK = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
TWO_STEPS = Flow("pair", (Step("first", "1"), Step("second", "2")))


async def _launch(flow: Flow = TWO_STEPS) -> str:
    async with FlowExecutor(settings.REDIS_URL, key_prefix=settings.FLOWS_KEY_PREFIX) as executor:
        return await executor.execute_flow(flow, {"n": 1})


async def _cancel(flow_id: str) -> None:
    async with FlowExecutor(settings.REDIS_URL, key_prefix=settings.FLOWS_KEY_PREFIX) as executor:
        assert (await executor.cancel_flow(flow_id)).done


def _ids(html: str) -> list[str]:
    return re.findall(r'^<(?:section|tr|tbody|div) id="([^"]+)"', html, re.MULTILINE)


async def test_anonymous_users_are_refused(connect):
    socket = await connect(f"/ws/runs/{await _launch()}/", None)

    connected, _code = await socket.connect()

    assert not connected


async def test_users_without_the_view_permission_are_refused(connect):
    nobody = await User.objects.acreate(username="nobody")

    connected, _code = await (await connect("/ws/dashboard/", nobody)).connect()

    assert not connected


async def test_an_unknown_run_is_refused(connect, make_user):
    socket = await connect("/ws/runs/nope/", await _make(make_user, VIEWER))

    connected, _code = await socket.connect()

    assert not connected


@pytest.mark.parametrize(
    "flow_id",
    ["a%20b", "f" * 200, "%C3%A9t%C3%A9", "A" * 32, "a%2Fb"],
    ids=["space", "long", "non-ascii", "upper", "slash"],
)
async def test_an_id_no_run_can_have_is_refused_without_an_error(connect, make_user, flow_id):
    socket = await connect(f"/ws/runs/{flow_id}/", await _make(make_user, VIEWER))

    connected, _code = await socket.connect()

    assert not connected


async def test_the_current_state_is_sent_on_connect(connect, make_user):
    flow_id = await _launch()
    socket = await connect(f"/ws/runs/{flow_id}/", await _make(make_user, VIEWER))

    connected, _ = await socket.connect()
    frames = [await socket.receive_from(WAIT) for _ in range(3)]

    assert connected
    assert [_ids(frame) for frame in frames] == [
        ["run-summary"],
        ["step-row-first", "step-row-second"],
        ["run-audit"],
    ]
    assert 'data-status="created"' in frames[0]


async def test_a_transition_arrives_as_html_for_the_changed_elements(connect, make_user, bridge):
    flow_id = await _launch()
    socket = await connect(f"/ws/runs/{flow_id}/", await _make(make_user, OPERATOR))
    await socket.connect()
    await _receive_state(socket)

    await _cancel(flow_id)
    summary, rows = await socket.receive_from(WAIT), await socket.receive_from(WAIT)

    assert _ids(summary) == ["run-summary"]
    assert _ids(rows) == ["step-row-first", "step-row-second"]
    assert '<section id="run-summary" class="run-summary" data-status="cancelled"' in summary
    assert "Cancel run" not in summary  # no longer running


async def test_live_updates_come_back_after_redis_loses_everything(connect, make_user, bridge):
    async with async_client(settings.REDIS_URL) as client:
        await client.flushdb()  # as a Redis restarted without persistence: the bridge's group too
    flow_id = await _launch()
    socket = await connect(f"/ws/runs/{flow_id}/", await _make(make_user, VIEWER))
    await socket.connect()
    await _receive_state(socket)

    await _cancel(flow_id)

    assert "cancelled" in await socket.receive_from(WAIT)


async def test_buttons_follow_the_watchers_permissions(connect, make_user):
    flow_id = await _launch()
    viewer = await connect(f"/ws/runs/{flow_id}/", await _make(make_user, VIEWER))
    operator = await connect(f"/ws/runs/{flow_id}/", await _make(make_user, OPERATOR))
    await viewer.connect()
    await operator.connect()

    assert "Cancel run" not in await viewer.receive_from(WAIT)
    assert "Cancel run" in await operator.receive_from(WAIT)


async def test_no_update_is_sent_for_a_run_the_page_does_not_show(connect, make_user, bridge):
    shown, other = await _launch(), await _launch()
    socket = await connect(f"/ws/runs/{shown}/", await _make(make_user, ADMIN))
    await socket.connect()
    await _receive_state(socket)

    await _cancel(other)
    await _cancel(shown)  # the bridge handles events in order: other's update would come first
    html = await socket.receive_from(WAIT)

    assert f"<code>{shown}</code>" in html
    assert other not in html


async def test_a_run_nobody_watches_gets_no_update(connect, make_user, bridge):
    shown, unwatched = await _launch(), await _launch()
    layer = get_channel_layer()
    eavesdropper = await layer.new_channel()  # in the group, but not a watching page
    await layer.group_add(group_name("run", Abilities(), unwatched), eavesdropper)
    socket = await connect(f"/ws/runs/{shown}/", await _make(make_user, VIEWER))
    await socket.connect()
    await _receive_state(socket)

    await _cancel(unwatched)
    await _cancel(shown)
    await socket.receive_from(WAIT)  # the bridge got past both events

    # The bridge sends a batch's updates concurrently: allow one it might still be sending.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(eavesdropper), timeout=1)


async def test_a_closed_page_stops_being_watched(connect, make_user, client: redis.Redis):
    flow_id = await _launch()
    socket = await connect(f"/ws/runs/{flow_id}/", await _make(make_user, VIEWER))
    group = group_name("run", Abilities(), flow_id)
    await socket.connect()
    await _receive_state(socket)
    watched_while_open = await watchers.watched(client, [("run", flow_id)])

    await socket.disconnect()

    assert watched_while_open == {group}
    assert await watchers.watched(client, [("run", flow_id)]) == set()


async def test_an_action_reaches_the_audit_trail_of_pages_already_open(connect, make_user):
    flow_id = await _launch()
    watcher = await connect(f"/ws/runs/{flow_id}/", await _make(make_user, VIEWER))
    await watcher.connect()
    await _receive_state(watcher)
    operator = await _make(make_user, OPERATOR)

    await database_sync_to_async(actions.cancel)(flow_id, operator)
    audit = await watcher.receive_from(WAIT)

    assert _ids(audit) == ["run-audit"]
    assert f"<strong>{operator.username}</strong> cancelled" in audit


async def test_a_new_run_appears_on_top_of_the_runs_list(connect, make_user, archiver):
    socket = await connect("/ws/runs/", await _make(make_user, VIEWER))
    await socket.connect()
    assert (await socket.receive_from(WAIT)).startswith('<tbody id="run-rows">')

    flow_id = await _launch()
    gone, added = await socket.receive_from(WAIT), await socket.receive_from(WAIT)

    assert gone == '<tr id="no-runs" hx-swap-oob="delete"></tr>'
    assert added.startswith(f'<tbody hx-swap-oob="beforeend:#run-rows"><tr id="run-row-{flow_id}"')


async def test_the_runs_list_keeps_to_one_page_as_new_runs_come(
    connect, make_user, archiver, monkeypatch
):
    monkeypatch.setattr(history, "PAGE_SIZE", 2)
    socket = await connect("/ws/runs/", await _make(make_user, VIEWER))
    await socket.connect()
    await socket.receive_from(WAIT)
    first = await _launch()
    await socket.receive_from(WAIT)  # "no runs" goes
    await socket.receive_from(WAIT)
    second = await _launch()
    await socket.receive_from(WAIT)

    third = await _launch()
    added, gone, pager = [await socket.receive_from(WAIT) for _ in range(3)]

    assert added.startswith(
        f'<tbody hx-swap-oob="beforebegin:#run-row-{second}"><tr id="run-row-{third}"'
    )
    assert gone == f'<tr id="run-row-{first}" hx-swap-oob="delete"></tr>'
    assert pager.startswith('<nav id="runs-pager"') and "Older runs" in pager
    assert urllib.parse.quote(second) in pager  # the next page starts after the last row shown


async def test_a_burst_of_new_runs_shows_only_a_page_of_the_newest(connect, make_user, monkeypatch):
    monkeypatch.setattr(history, "PAGE_SIZE", 2)
    socket = await connect("/ws/runs/", await _make(make_user, VIEWER))
    await socket.connect()
    await socket.receive_from(WAIT)
    rows = [
        {
            "flow_id": f"f{second}",
            "name": "pair",
            "status": "created",
            "key": [TEN_O_CLOCK.timestamp() + second, f"f{second}"],
            "cursor": f"2026-11-30T10:00:0{second}+00:00~f{second}",
            "html": f'<tr id="run-row-f{second}"></tr>',
        }
        for second in range(3)
    ]

    await get_channel_layer().group_send(
        group_name("runs", Abilities()), {"type": "runs.rows", "rows": rows}
    )

    assert await socket.receive_from(WAIT) == '<tr id="no-runs" hx-swap-oob="delete"></tr>'
    added = await socket.receive_from(WAIT)
    assert added.startswith('<tbody hx-swap-oob="beforeend:#run-rows">')
    assert re.findall(r'id="(run-row-[^"]+)"', added) == ["run-row-f2", "run-row-f1"]
    assert await socket.receive_nothing(timeout=0.5)  # nothing to push out


async def test_a_run_that_comes_to_match_the_filter_goes_in_where_it_sorts(connect, make_user):
    def archived(flow_id: str, minute: int) -> None:
        created_at = TEN_O_CLOCK + timedelta(minutes=minute)
        RunRecord.objects.create(
            flow_id=flow_id, name="pair", status="failed", created_at=created_at
        )

    await database_sync_to_async(lambda: [archived("newer", 20), archived("older", 0)])()
    socket = await connect("/ws/runs/?status=failed", await _make(make_user, VIEWER))
    await socket.connect()
    await socket.receive_from(WAIT)
    now_failed = {
        "flow_id": "between",
        "status": "failed",
        "key": [(TEN_O_CLOCK + timedelta(minutes=10)).timestamp(), "between"],
        "cursor": "",
        "name": "pair",
        "html": '<tr id="run-row-between"></tr>',
    }
    completed = {**now_failed, "flow_id": "done", "status": "completed", "html": "<tr></tr>"}

    await get_channel_layer().group_send(
        group_name("runs", Abilities()), {"type": "runs.rows", "rows": [now_failed, completed]}
    )

    inserted = await socket.receive_from(WAIT)
    assert inserted == (
        '<tbody hx-swap-oob="beforebegin:#run-row-older"><tr id="run-row-between"></tr></tbody>'
    )
    assert await socket.receive_nothing(timeout=0.5)  # the completed run is not for this page


async def test_a_filtered_runs_list_gets_only_new_runs_of_its_flow(connect, make_user, archiver):
    socket = await connect("/ws/runs/?flow=wanted", await _make(make_user, VIEWER))
    dashboard = await connect("/ws/dashboard/", await _make(make_user, OPERATOR))
    await socket.connect()
    await dashboard.connect()
    await socket.receive_from(WAIT)
    await dashboard.receive_from(WAIT)

    other = await _launch()
    wanted = await _launch(Flow("wanted", (Step("only", "1"),)))
    await socket.receive_from(WAIT)  # "no runs" goes
    rows = await socket.receive_from(WAIT)
    while other not in (board := await dashboard.receive_from(WAIT)):
        pass  # the archiver may have taken the two launches in separate batches

    assert f'id="run-row-{wanted}"' in rows
    assert other not in rows
    assert _ids(board) == ["dashboard"]


async def test_with_no_run_page_open_the_bridge_skips_the_events_then_follows_a_page(
    connect, make_user, idle_bridge: LiveBridge
):
    bridge = idle_bridge
    flow_id = await _launch()

    await bridge.work()  # nobody watches: the events are passed over, none read
    events = bridge.events.keys.partition_of(flow_id).events
    stream = await bridge.client.xinfo_stream(events)
    groups = await bridge.client.xinfo_groups(events)
    socket = await connect(f"/ws/runs/{flow_id}/", await _make(make_user, VIEWER))
    await socket.connect()
    await _receive_state(socket)
    await _cancel(flow_id)
    await bridge.work()  # a page is open: the cancel is read and sent

    live = next(group for group in groups if group["name"] == LiveBridge.group)
    assert live["last-delivered-id"] == stream["last-generated-id"]
    assert (live["consumers"], live["entries-read"]) == (0, None)  # moved past, never read
    assert "cancelled" in await socket.receive_from(WAIT)


async def test_the_dashboard_is_refreshed_at_most_once_a_second_and_its_last_change_goes_out(
    connect, make_user, client: redis.Redis
):
    socket = await connect("/ws/dashboard/", await _make(make_user, VIEWER))
    await socket.connect()
    await socket.receive_from(WAIT)
    feeds = LiveFeeds()
    archived = [RunRecord(flow_id="f1", name="pair", status="running")]

    await feeds(client, archived)
    first = await socket.receive_from(WAIT)
    await feeds(client, archived)  # within the second: held back
    held_back = await socket.receive_nothing(timeout=0.5)
    feeds.dashboard.sent_at -= DASHBOARD_SECONDS  # as if the second had passed
    await feeds(client, [])  # the archiver's next batch, empty

    assert _ids(first) == ["dashboard"]
    assert held_back
    assert _ids(await socket.receive_from(WAIT)) == ["dashboard"]


async def _receive_state(socket: WebsocketCommunicator) -> None:
    for _frame in ("summary", "rows", "audit"):
        await socket.receive_from(WAIT)


async def _make(make_user, role: str) -> User:
    return await database_sync_to_async(make_user)(role)
