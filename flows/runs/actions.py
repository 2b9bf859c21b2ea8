"""Operator actions on runs: retry, fix and resume, cancel, each recorded in the audit trail.

The engine makes every action idempotent (a step that is not failed is not retried again, an
ended run is not cancelled again): those come back as not done, with the reason, and are not
audited since nothing happened. An audited action reaches the run's open pages at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from django.db import transaction

from flows import engine_client
from flows.engine.builder import Flow, Step
from flows.engine.state import RunSnapshot
from flows.engine.statuses import FlowStatus, StepStatus
from flows.engine.store import ActionResult, RunNotFound
from flows.models import AuditEntry, FlowDefinition, StepDefinition
from flows.runs import pages

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

Action = AuditEntry.Action


def _audited(
    result: ActionResult, action: Action, user: AbstractBaseUser, flow_id: str, **details: object
) -> ActionResult:
    if result.done:
        AuditEntry.record(action, user, flow_id=flow_id, message=result.message, **details)
        transaction.on_commit(lambda: pages.send_run_audit(flow_id))
    return result


def retry(flow_id: str, step_id: str, user: AbstractBaseUser) -> ActionResult:
    """Send the failed step back to Pending; the run resumes from it. Raises RunNotFound."""
    result = engine_client.retry_step(flow_id, step_id)
    return _audited(result, Action.RETRY, user, flow_id, step=step_id)


def cancel(flow_id: str, user: AbstractBaseUser) -> ActionResult:
    return _audited(engine_client.cancel_run(flow_id), Action.CANCEL, user, flow_id)


def script_diff(before: str, after: str, step_id: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(),
        after.splitlines(),
        fromfile=f"{step_id} (run)",
        tofile=f"{step_id} (fixed)",
        lineterm="",
    )
    return "\n".join(lines)


def fix_and_resume(
    flow_id: str, definition: Flow, fixed: Step, user: AbstractBaseUser
) -> ActionResult:
    """Resume the run from the fixed step, with its own definition patched to use it."""
    replacement = replace(
        definition,
        steps=tuple(fixed if step.name == fixed.name else step for step in definition.steps),
    )
    result = engine_client.retry_step(flow_id, fixed.name, replacement)
    before = definition.step(fixed.name)
    return _audited(
        result,
        Action.FIX_AND_RESUME,
        user,
        flow_id,
        step=fixed.name,
        diff=script_diff(before.script, fixed.script, fixed.name),
        timeout=[before.timeout, fixed.timeout],
        retries=[before.retries, fixed.retries],
    )


@transaction.atomic
def save_fix(definition_id: int | None, fixed: Step, user: AbstractBaseUser) -> str:
    """Copy a fixed step into the flow definition the run came from (a new version)."""
    step = (
        StepDefinition.objects.select_for_update()
        .filter(flow_id=definition_id, name=fixed.name)
        .first()
    )
    if step is None:
        return "The flow definition no longer has this step: the fix was not saved to it."
    step.script, step.timeout, step.retries = fixed.script, fixed.timeout, fixed.retries
    step.save(update_fields=["script", "timeout", "retries"])
    flow = FlowDefinition.objects.get(pk=definition_id)
    flow.record_change(user)
    return f"Saved to flow {flow.name} (version {flow.version})."


def what_the_step_saw(run: RunSnapshot, step_id: str) -> tuple[dict, dict]:
    """The run's input and the outputs of its completed steps: what the step may read when it
    runs again (in a graph, steps of another branch may have completed since)."""
    outputs = {
        step.step_id: step.output
        for step in run.steps
        if step.status == StepStatus.COMPLETED and step.step_id != step_id
    }
    return run.state.input, outputs


def retry_failed_runs(flow_ids: Iterable[str], user: AbstractBaseUser) -> list[ActionResult]:
    """Retry the failed step of each failed run among these (bulk retry)."""
    results = []
    for flow_id in flow_ids:
        try:
            run = engine_client.read_run(flow_id)
        except RunNotFound:
            results.append(ActionResult(False, f"run {flow_id} is no longer in Redis"))
            continue
        failed = [step.step_id for step in run.steps if step.status == StepStatus.FAILED]
        if run.state.status != FlowStatus.FAILED or not failed:
            results.append(ActionResult(False, f"run {flow_id} has not failed"))
            continue
        results.append(retry(flow_id, failed[0], user))
    return results
