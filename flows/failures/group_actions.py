"""What an admin does to a whole failure group: retry every run, fix the failed step once and
resume every run with the fix, or dismiss the group.

Each run goes through the same audited single-run action as its own page uses
(flows/runs/actions.py), so every run's audit trail says what was done to it, and the engine
decides run by run: a run that is no longer failed, or no longer in Redis, is skipped and the
report says why, rather than the whole group failing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from flows import engine_client
from flows.engine.builder import Step
from flows.engine.store import ActionResult, RunNotFound
from flows.failures import inbox_updates
from flows.failures.inbox import GroupKey
from flows.models import AuditEntry, FailureDismissal
from flows.runs import actions

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

GONE = "the run is no longer in Redis"
OTHER_STEP = "the run's copy of the step differs from the sample's"


@dataclass
class GroupReport:
    """How many runs an action on a group did something to, and why it skipped the others."""

    verb: str  # what was done to a run: "retried", "resumed"
    done: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, result: ActionResult) -> None:
        if result.done:
            self.done += 1
        else:
            self.skipped[result.message] += 1

    @property
    def message(self) -> str:
        """E.g. "3 resumed, 2 skipped because the run is no longer in Redis (2)"."""
        text = f"{self.done} {self.verb}"
        if self.skipped:
            reasons = "; ".join(f"{reason} ({count})" for reason, count in self.skipped.items())
            text += f", {self.skipped.total()} skipped because {reasons}"
        return text


def retry_all(key: GroupKey, user: AbstractBaseUser) -> GroupReport:
    """Send the failed step of every run of the group back to Pending."""
    report = GroupReport("retried")
    for flow_id in _flow_ids(key):
        try:
            report.add(actions.retry(flow_id, key.step, user))
        except RunNotFound:
            report.add(ActionResult(False, GONE))
    return report


def fix_and_resume_all(
    key: GroupKey, sample_step: Step, fixed: Step, user: AbstractBaseUser
) -> GroupReport:
    """Resume every run of the group with `fixed` in place of its failed step.

    Only runs whose own copy of the step is the sample's (`sample_step`, what the fix was made
    from and tested as) take the fix: a run launched from another version of the flow is
    skipped, since the fix was not made for its step."""
    report = GroupReport("resumed")
    for flow_id in _flow_ids(key):
        report.add(_fix_one(flow_id, sample_step, fixed, user))
    return report


def _fix_one(flow_id: str, sample_step: Step, fixed: Step, user: AbstractBaseUser) -> ActionResult:
    try:
        run = engine_client.read_run(flow_id)
        definition = run.state.definition
        if definition.step(fixed.name) != sample_step:
            return ActionResult(False, OTHER_STEP)
        return actions.fix_and_resume(flow_id, definition, fixed, user)
    except RunNotFound:
        return ActionResult(False, GONE)
    except KeyError:
        return ActionResult(False, f"the run has no step {fixed.name}")
    except ValueError as error:  # the engine refused the patched definition for this run
        return ActionResult(False, str(error))


def fixed_step(sample_step: Step, script: str, timeout: float, retries: int) -> Step:
    """The sample's step with what the fix form edits; what it runs after, its condition and
    its backoff stay."""
    return replace(sample_step, script=script, timeout=timeout, retries=retries)


@transaction.atomic
def dismiss(key: GroupKey, user: AbstractBaseUser) -> None:
    """Hide the group until one of its runs fails again after now; audited, and the open
    inboxes told. (A run that failed just before now but is archived just after stays hidden
    with the group: it is one of the failures dismissed.)"""
    now = timezone.now()
    FailureDismissal.objects.update_or_create(
        name=key.flow,
        step=key.step,
        error_signature=key.signature,
        defaults={"dismissed_at": now, "dismissed_by": user},
    )
    AuditEntry.record(
        AuditEntry.Action.DISMISS_FAILURES,
        user,
        flow=key.flow,
        step=key.step,
        signature=key.signature,
        runs=key.failed_runs().count(),
    )
    transaction.on_commit(inbox_updates.send_inbox)


def _flow_ids(key: GroupKey) -> list[str]:
    return list(key.failed_runs().values_list("flow_id", flat=True))
