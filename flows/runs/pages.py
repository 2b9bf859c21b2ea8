"""The current state of a live page's parts, as a (re)connecting socket first receives it, and
as an action pushes it to the pages already open."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.http import QueryDict

from flows.models import AuditEntry
from flows.runs import history, list_fragments, runs_list
from flows.runs.fragments import render_run_audit, render_run_state
from flows.runs.groups import EVERY_ABILITIES, Abilities, group_name
from flows.runs.records import load_run
from flows.runs.runs_list import RunsList

AUDIT_SHOWN = 50


def run_audit(flow_id: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(flow_id=flow_id)[:AUDIT_SHOWN])


def run_state_frames(flow_id: str, abilities: Abilities) -> list[str] | None:
    """Summary, step rows and audit trail of the run; None when there is no such run."""
    run = load_run(flow_id)
    if run is None:
        return None
    return render_run_state(run, abilities, run_audit(flow_id))


def runs_list_state(query: QueryDict, abilities: Abilities) -> tuple[RunsList, list[str]] | None:
    """The Runs page's rows for its query, and what it shows from then on (for placing the rows
    that come later); None when its cursor names no page."""
    run_filter = runs_list.filter_from_query(query)
    try:
        runs, _next_cursor = history.runs_page(run_filter)
    except history.BadCursor:
        return None
    page = RunsList.showing(run_filter, runs, history.PAGE_SIZE)
    return page, [list_fragments.render_run_rows(runs, abilities)]


def send_run_audit(flow_id: str) -> None:
    """Push the run's audit trail to its open pages, once an action has been recorded in it.
    The same for every viewer, and actions are rare: sent to every group, no watcher check."""
    message = {"type": "live.html", "frames": [render_run_audit(run_audit(flow_id))]}
    layer = get_channel_layer()

    async def send() -> None:
        for abilities in EVERY_ABILITIES:
            await layer.group_send(group_name("run", abilities, flow_id), message)

    async_to_sync(send)()
