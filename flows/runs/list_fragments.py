"""The Runs list's and the dashboard's fragments: what their pages render, and what the live
feeds and the Runs list's consumer push to the pages already open."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from flows.models import RunRecord
from flows.runs import history
from flows.runs.groups import Abilities
from flows.runs.runs_list import RowsUpdate


def render_dashboard() -> str:
    return render_to_string("flows/_dashboard.html", history.dashboard())


def render_runs_pager(run_filter: history.RunFilter, next_cursor: str) -> str:
    return render_to_string(
        "flows/_runs_pager.html", {"filter": run_filter, "next_cursor": next_cursor}
    )


def render_run_rows(runs: list[RunRecord], abilities: Abilities) -> str:
    return render_to_string(
        "flows/_run_rows.html", {"runs": runs, "can_retry": abilities.can_retry}
    )


def render_rows_update(update: RowsUpdate) -> list[str]:
    """The frames that apply a batch of rows to an open Runs page, in order: the rows it shows
    replaced (and "no runs" gone), the new rows where they sort, then the rows pushed past the
    page gone and the pager after the last row left. New rows travel in frames of their own: a
    parser wraps rows that share a frame with a <tbody> in a tbody of their own."""
    replaced = "".join(update.replaced)
    if update.no_runs_gone:
        replaced += _render_oob("flows/_run_rows_gone.html", {"no_runs": True})
    frames = [replaced]
    for before, rows in update.inserted:
        # Rows that _rows rendered from _run_row.html: escaped already.
        context = {"before": before, "rows": mark_safe("".join(rows))}
        frames.append(_render_oob("flows/_run_rows_inserted.html", context))
    if update.pushed_out:
        frames.append(_render_oob("flows/_run_rows_gone.html", {"flow_ids": update.pushed_out}))
        frames.append(render_runs_pager(update.page.filter, update.next_cursor))
    return frames


def _render_oob(template: str, context: dict[str, Any]) -> str:
    """An out-of-band fragment, without the line ends around it: pages match frames exactly."""
    return render_to_string(template, context).strip()
