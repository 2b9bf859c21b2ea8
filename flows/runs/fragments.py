"""The run page's fragments, rendered from a run snapshot for one set of abilities.

Pages, the consumers' connect-time state and the bridge's live updates all render through
here, so a step row looks the same however it reached the browser.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.template.loader import render_to_string

from flows.engine.statuses import FlowStatus
from flows.engine_client import RunSnapshot
from flows.graph_layout import drawn_nodes, lay_out_flow
from flows.models import AuditEntry
from flows.runs.groups import Abilities


def run_context(run: RunSnapshot, abilities: Abilities, live_at: str = "") -> dict[str, Any]:
    """What _run_summary.html and _step_row.html need. Reads only the run's state, not its
    steps, so a live update holding just the changed steps renders the same."""
    state = run.state
    ended = {*state.completed_steps, *state.skipped_steps}
    failed_step, rerun_steps = "", []
    if state.status == FlowStatus.FAILED:
        # A failed run's current step is its (first) failed step; a retry goes on with every
        # step not yet completed or skipped.
        failed_step = state.current_step
        rerun_steps = [step.name for step in state.definition.steps if step.name not in ended]
    return {
        "run": run,
        "can_cancel": abilities.can_cancel,
        "can_retry": abilities.can_retry,
        "failed_step": failed_step,
        "rerun_steps": rerun_steps,
        "progress": {
            "completed": len(state.completed_steps),
            "skipped": len(state.skipped_steps),
            "ended": len(ended),
            "total": len(state.definition.steps),
        },
        "live_at": live_at,
    }


def run_graph(run: RunSnapshot) -> dict[str, Any]:
    """What _graph.html needs for the run page: drawn once with the page, its nodes then
    follow their rows' live updates in the browser (static/flows/live.js), so the bridge
    renders nothing more per update."""
    layout = lay_out_flow(run.state.definition)
    # The id each row has in _step_row.html.
    anchors = {step.name: f"step-row-{step.name}" for step in run.state.definition.steps}
    statuses = {step.step_id: str(step.status) for step in run.steps}
    return {"graph": layout, "graph_nodes": drawn_nodes(layout, anchors, statuses)}


def render_run_update(
    run: RunSnapshot, abilities: Abilities, step_ids: Iterable[str] | None = None, live_at: str = ""
) -> list[str]:
    """Frames for the summary and the given step rows (all when None), each fragment's root
    carrying its swap id. Rows travel in a frame of their own: an HTML parser drops a <tr>
    that follows a <section> in the same fragment."""
    context = run_context(run, abilities, live_at)
    rows = _render_rows(context, step_ids)
    summary = render_to_string("flows/_run_summary.html", context)
    return [summary, rows] if rows else [summary]


def render_live_updates(
    run: RunSnapshot, step_ids: set[str], live_at: str, audience: Iterable[Abilities]
) -> dict[Abilities, list[str]]:
    """render_run_update's frames for each Abilities of the audience, each distinct fragment
    rendered once (the bridge's hot path): the summary differs only by can_cancel, and only
    while the run can be cancelled; rows only by can_retry, and only when the failed step is
    among them."""
    cancel_matters = not run.state.status.is_final
    retry_matters = run.state.status == FlowStatus.FAILED and run.state.current_step in step_ids
    summaries: dict[bool, str] = {}
    rows: dict[bool, str] = {}
    frames = {}
    for abilities in audience:
        cancel = abilities.can_cancel and cancel_matters
        retry = abilities.can_retry and retry_matters
        context = run_context(run, Abilities(cancel, retry), live_at)
        if cancel not in summaries:
            summaries[cancel] = render_to_string("flows/_run_summary.html", context)
        if retry not in rows:
            rows[retry] = _render_rows(context, step_ids)
        frames[abilities] = [summaries[cancel], rows[retry]] if rows[retry] else [summaries[cancel]]
    return frames


def _render_rows(context: dict[str, Any], step_ids: Iterable[str] | None) -> str:
    wanted = None if step_ids is None else set(step_ids)
    steps = [step for step in context["run"].steps if wanted is None or step.step_id in wanted]
    # One template for all the rows: a render_to_string per row cost more than the rows.
    return render_to_string("flows/_step_rows.html", {**context, "steps": steps}) if steps else ""


def render_run_audit(audit: list[AuditEntry]) -> str:
    return render_to_string("flows/_run_audit.html", {"audit": audit})


def render_run_state(run: RunSnapshot, abilities: Abilities, audit: list[AuditEntry]) -> list[str]:
    """Everything live on the run page: what a (re)connecting socket gets first."""
    return [*render_run_update(run, abilities), render_run_audit(audit)]
