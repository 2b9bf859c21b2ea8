"""The dashboard's charts arrive with its state on connect and follow the archive live."""

from __future__ import annotations

import re

import pytest
import redis.asyncio as redis
from channels.db import database_sync_to_async
from django.utils import timezone

from flows.live.feeds import LiveFeeds
from flows.models import RunRecord
from flows.roles import VIEWER

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("short_lived_connections"),
]

WAIT = 30  # a bound, not a pause: receive_from returns on arrival


def _failed(flow_id: str) -> RunRecord:
    now = timezone.now()
    return RunRecord.objects.create(
        flow_id=flow_id,
        name="pay",
        status="failed",
        created_at=now,
        started_at=now,
        finished_at=now,
    )


def _failed_count(html: str) -> str:
    return re.search(r'data-status="failed" data-count="(\d+)"', html).group(1)


async def test_the_charts_come_first_then_follow_newly_archived_runs(
    connect, make_user, client: redis.Redis
):
    await database_sync_to_async(_failed)("first")
    socket = await connect("/ws/dashboard/", await database_sync_to_async(make_user)(VIEWER))
    await socket.connect()
    state = await socket.receive_from(WAIT)
    second = await database_sync_to_async(_failed)("second")

    await LiveFeeds()(client, [second])  # the archiver's batch that saved it
    update = await socket.receive_from(WAIT)

    assert state.startswith('<div id="dashboard">') and 'id="dashboard-charts"' in state
    assert _failed_count(state) == "1"
    assert _failed_count(update) == "2"
    assert "100.0% (2 of 2 ended)" in update
