"""The current state of a live page's parts, as a (re)connecting socket first receives it."""

from __future__ import annotations

from flows.live.fragments import render_run_state
from flows.live.groups import Abilities
from flows.models import AuditEntry
from flows.runs import load_run

AUDIT_SHOWN = 50


def run_audit(flow_id: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(flow_id=flow_id)[:AUDIT_SHOWN])


def run_state_frames(flow_id: str, abilities: Abilities) -> list[str] | None:
    """Summary, step rows and audit trail of the run; None when there is no such run."""
    run = load_run(flow_id)
    if run is None:
        return None
    return render_run_state(run, abilities, run_audit(flow_id))
