"""The Runs list and the dashboard, pushed live after each archived batch.

Both pages read the archive, so their updates are rendered from the records the archiver has
just saved (the run page, fed straight from the engine's events, is in bridge.py).
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.template.loader import render_to_string

from flows import history
from flows.live.groups import EVERY_ABILITIES, Abilities, group_name
from flows.models import RunRecord


def render_dashboard() -> str:
    return render_to_string("flows/_dashboard.html", history.dashboard())


def render_run_rows(runs: list[RunRecord], abilities: Abilities) -> str:
    return render_to_string(
        "flows/_run_rows.html", {"runs": runs, "can_retry": abilities.can_retry}
    )


async def publish_archived(records: list[RunRecord], new: set[str]) -> None:
    """Send the archived runs' rows to the Runs pages and a fresh dashboard to dashboards.

    A row differs only by can_retry (its bulk-retry checkbox), so each is rendered twice, not
    once per Abilities."""
    layer = get_channel_layer()
    rows_by_retry = {can_retry: _rows(records, new, can_retry) for can_retry in (False, True)}
    for abilities in EVERY_ABILITIES:
        message = {"type": "runs.rows", "rows": rows_by_retry[abilities.can_retry]}
        await layer.group_send(group_name("runs", abilities), message)
    html = await database_sync_to_async(render_dashboard)()
    await layer.group_send(group_name("dashboard"), {"type": "live.html", "frames": [html]})


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
