"""The Runs list and the dashboard, pushed live after each archived batch.

Both pages read the archive, so their updates are rendered from the records the archiver has
just saved (the run page, fed straight from the engine's events, is in bridge.py). Only
watched groups get them, and the rendering happens off the event loop.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as redis
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.template.loader import render_to_string

from flows import history
from flows.live import watchers
from flows.live.groups import EVERY_ABILITIES, Abilities, group_name
from flows.models import RunRecord

DASHBOARD = group_name("dashboard")


def render_dashboard() -> str:
    return render_to_string("flows/_dashboard.html", history.dashboard())


def render_run_rows(runs: list[RunRecord], abilities: Abilities) -> str:
    return render_to_string(
        "flows/_run_rows.html", {"runs": runs, "can_retry": abilities.can_retry}
    )


async def publish_archived(client: redis.Redis, records: list[RunRecord], new: set[str]) -> None:
    """Send the archived runs' rows to the watched Runs pages and a fresh dashboard to watched
    dashboards. A row differs only by can_retry (its bulk-retry checkbox), so it is rendered
    at most twice, not once per Abilities."""
    runs_groups = {group_name("runs", abilities): abilities for abilities in EVERY_ABILITIES}
    watched = await watchers.watched(client, [("runs", ""), ("dashboard", "")])
    layer = get_channel_layer()
    rows_by_retry: dict[bool, list[dict[str, Any]]] = {}
    for group in watched & runs_groups.keys():
        can_retry = runs_groups[group].can_retry
        if can_retry not in rows_by_retry:
            # Pure rendering, no database: a thread of its own keeps the loop and the
            # consumers' database thread free.
            rows_by_retry[can_retry] = await sync_to_async(_rows, thread_sensitive=False)(
                records, new, can_retry
            )
        await layer.group_send(group, {"type": "runs.rows", "rows": rows_by_retry[can_retry]})
    if DASHBOARD in watched:
        html = await database_sync_to_async(render_dashboard)()
        await layer.group_send(DASHBOARD, {"type": "live.html", "frames": [html]})


def _rows(records: list[RunRecord], new: set[str], can_retry: bool) -> list[dict[str, Any]]:
    return [
        {
            "flow_id": record.flow_id,
            "name": record.name,
            "status": record.status,
            "new": record.flow_id in new,
            "html": render_to_string(
                "flows/_run_row.html", {"run": record, "can_retry": can_retry}
            ),
        }
        for record in records
    ]
