"""The run page's fragments, rendered from a run snapshot for one set of abilities.

Pages, the consumers' connect-time state and the bridge's live updates all render through
here, so a step row looks the same however it reached the browser.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.template.loader import render_to_string

from flows.engine.statuses import FlowStatus, StepStatus
from flows.engine_client import RunSnapshot
from flows.live.groups import Abilities
from flows.models import AuditEntry


def run_context(run: RunSnapshot, abilities: Abilities, live_at: str = "") -> dict[str, Any]:
    """What _run_summary.html and _step_row.html need."""
    failed_step, rerun_steps = "", []
    if run.state.status == FlowStatus.FAILED:
        names = [step.step_id for step in run.steps]
        for index, step in enumerate(run.steps):
            if step.status == StepStatus.FAILED:
                failed_step, rerun_steps = step.step_id, names[index:]
                break
    return {
        "run": run,
        "can_cancel": abilities.can_cancel,
        "can_retry": abilities.can_retry,
        "failed_step": failed_step,
        "rerun_steps": rerun_steps,
        "progress": {"done": len(run.state.completed_steps), "total": len(run.steps)},
        "live_at": live_at,
    }


def render_run_update(
    run: RunSnapshot, abilities: Abilities, step_ids: Iterable[str] | None = None, live_at: str = ""
) -> list[str]:
    """Frames for the summary and the given step rows (all when None), each fragment's root
    carrying its swap id. Rows travel in a frame of their own: an HTML parser drops a <tr>
    that follows a <section> in the same fragment."""
    context = run_context(run, abilities, live_at)
    wanted = None if step_ids is None else set(step_ids)
    rows = [
        render_to_string("flows/_step_row.html", {**context, "step": step})
        for step in run.steps
        if wanted is None or step.step_id in wanted
    ]
    summary = render_to_string("flows/_run_summary.html", context)
    return [summary, "".join(rows)] if rows else [summary]


def render_run_state(run: RunSnapshot, abilities: Abilities, audit: list[AuditEntry]) -> list[str]:
    """Everything live on the run page: what a (re)connecting socket gets first."""
    audit_html = render_to_string("flows/_run_audit.html", {"audit": audit})
    return [*render_run_update(run, abilities), audit_html]
