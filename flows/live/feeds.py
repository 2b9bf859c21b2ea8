"""The Runs list, the dashboard and the failure inbox, pushed live after each archived batch.

These pages read the archive, so their updates are rendered from the records the archiver has
just saved (the run page, fed straight from the engine's events, is in bridge.py). Only
watched groups get them, and the rendering happens off the event loop. A batch's rows go out
at once; the dashboard at most once every DASHBOARD_SECONDS, since it counts a day of runs and
a busy archiver saves several batches a second; the failure inbox likewise.
"""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as redis
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.template.loader import render_to_string

from flows.failures.inbox_updates import publish_inbox
from flows.live import watchers
from flows.models import RunRecord
from flows.runs.groups import EVERY_ABILITIES, Page, group_name
from flows.runs.list_fragments import render_dashboard
from flows.runs.runs_list import LiveRow

DASHBOARD = group_name("dashboard")
DASHBOARD_SECONDS = 1.0
# The inbox groups every failed run in one aggregate: at most one refresh a second too.
INBOX_SECONDS = 1.0


class Throttled:
    """A page refreshed at most once every `seconds`: marked stale by a batch, sent when due,
    so its last change always goes out."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.stale = False
        self.sent_at = float("-inf")

    def due(self, now: float) -> bool:
        """Whether it is stale and its interval has passed; if so, it counts as sent now."""
        if not self.stale or now < self.sent_at + self.seconds:
            return False
        self.stale, self.sent_at = False, now
        return True


class LiveFeeds:
    """Told after every archived batch, empty ones too (the archiver ends one every
    archiver.BATCH_WINDOW even when idle), so a page held back goes out soon after it is
    due."""

    def __init__(self) -> None:
        self.dashboard = Throttled(DASHBOARD_SECONDS)
        self.inbox = Throttled(INBOX_SECONDS)

    async def __call__(self, client: redis.Redis, records: list[RunRecord]) -> None:
        if records:
            self.dashboard.stale = True
            # A run leaving a failure group (retried) is archived as running, not failed:
            # any batch may have changed the groups.
            self.inbox.stale = True
        now = time.monotonic()
        dashboard_due, inbox_due = self.dashboard.due(now), self.inbox.due(now)
        if not records and not dashboard_due and not inbox_due:
            return
        pages: list[tuple[Page, str]] = [("runs", ""), ("dashboard", ""), ("inbox", "")]
        watched = await watchers.watched(client, pages)
        if records:
            await publish_rows(watched, records)
        if dashboard_due and DASHBOARD in watched:
            html = await database_sync_to_async(render_dashboard)()
            await get_channel_layer().group_send(DASHBOARD, {"type": "live.html", "frames": [html]})
        if inbox_due:
            await publish_inbox(watched)


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
