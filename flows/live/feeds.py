"""The Runs list and the dashboard, pushed live after each archived batch.

Both pages read the archive, so their updates are rendered from the records the archiver has
just saved (the run page, fed straight from the engine's events, is in bridge.py). Only
watched groups get them, and the rendering happens off the event loop. A batch's rows go out
at once; the dashboard at most once every DASHBOARD_SECONDS, since it counts a day of runs and
a busy archiver saves several batches a second.
"""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as redis
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.template.loader import render_to_string

from flows.live import watchers
from flows.models import RunRecord
from flows.runs.groups import EVERY_ABILITIES, group_name
from flows.runs.list_fragments import render_dashboard
from flows.runs.runs_list import LiveRow

DASHBOARD = group_name("dashboard")
DASHBOARD_SECONDS = 1.0


class LiveFeeds:
    """Told after every archived batch, empty ones too (the archiver ends one every
    archiver.BATCH_WINDOW even when idle), so a dashboard held back goes out soon after it is
    due."""

    def __init__(self) -> None:
        self.dashboard_stale = False
        self.dashboard_sent_at = float("-inf")

    async def __call__(self, client: redis.Redis, records: list[RunRecord]) -> None:
        if records:
            self.dashboard_stale = True
        now = time.monotonic()
        dashboard_due = self.dashboard_stale and now >= self.dashboard_sent_at + DASHBOARD_SECONDS
        if not records and not dashboard_due:
            return
        watched = await watchers.watched(client, [("runs", ""), ("dashboard", "")])
        if records:
            await publish_rows(watched, records)
        if dashboard_due:
            self.dashboard_stale, self.dashboard_sent_at = False, now
            if DASHBOARD in watched:
                html = await database_sync_to_async(render_dashboard)()
                await get_channel_layer().group_send(
                    DASHBOARD, {"type": "live.html", "frames": [html]}
                )


async def publish_rows(watched: set[str], records: list[RunRecord]) -> None:
    """Send the archived runs' rows to the watched Runs pages. A row differs only by can_retry
    (its bulk-retry checkbox), so it is rendered at most twice, not once per Abilities."""
    runs_groups = {group_name("runs", abilities): abilities for abilities in EVERY_ABILITIES}
    layer = get_channel_layer()
    rows_by_retry: dict[bool, list[dict[str, Any]]] = {}
    for group in watched & runs_groups.keys():
        can_retry = runs_groups[group].can_retry
        if can_retry not in rows_by_retry:
            # Pure rendering, no database: a thread of its own keeps the loop and the
            # consumers' database thread free.
            rows_by_retry[can_retry] = await sync_to_async(_rows, thread_sensitive=False)(
                records, can_retry
            )
        await layer.group_send(group, {"type": "runs.rows", "rows": rows_by_retry[can_retry]})


def _rows(records: list[RunRecord], can_retry: bool) -> list[dict[str, Any]]:
    rows = []
    for record in records:
        html = render_to_string("flows/_run_row.html", {"run": record, "can_retry": can_retry})
        rows.append(LiveRow.of(record, html).to_message())
    return rows
