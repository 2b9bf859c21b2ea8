"""Runs as the web app keeps them: the archive's RunRecord of a run the engine read, and a run
loaded from Redis while Redis holds it, else from the archive. The archive keeps the engine's
versioned form of the run (RunSnapshot.to_dict), never its Redis layout, so a run renders the
same whether Redis still holds it or only the archive does."""

from __future__ import annotations

import json

from flows import engine_client
from flows.engine.state import RunSnapshot
from flows.engine.statuses import FlowStatus
from flows.engine.store import RunNotFound
from flows.error_signatures import error_signature
from flows.models import RunRecord


def new_record(run: RunSnapshot) -> RunRecord:
    """An unsaved RunRecord holding this run (the archiver upserts these in bulk)."""
    state = run.state
    meta = state.meta
    return RunRecord(
        flow_id=state.flow_id,
        name=state.name,
        definition_id=meta.get("definition_id"),
        definition_version=meta.get("definition_version"),
        status=state.status,
        current_step=state.current_step,
        error=state.error,
        error_signature=error_signature(state.error) if state.status == FlowStatus.FAILED else "",
        launched_by=str(meta.get("launched_by", "")),
        trigger_kind=str((meta.get("trigger") or {}).get("kind", ""))[:16],
        patch_count=state.patch_count,
        step_count=len(state.definition.steps),
        # The Runs list's progress: steps done with, whether completed or skipped.
        completed_count=len(state.completed_steps) + len(state.skipped_steps),
        snapshot=json.dumps(run.to_dict(), separators=(",", ":")),
        created_at=state.created_at,
        started_at=state.started_at,
        finished_at=state.finished_at,
        updated_at=state.updated_at,
    )


def archived_run(record: RunRecord) -> RunSnapshot:
    return RunSnapshot.from_dict(json.loads(record.snapshot))


def record_launched_run(flow_id: str) -> RunRecord:
    """Store the RunRecord of a run just launched, so it is listed at once; return it as stored.
    Raises RunNotFound if Redis no longer holds the run."""
    run = engine_client.reader().read_run(flow_id)
    if run is None:
        raise RunNotFound(f"run {flow_id} left Redis before it could be recorded")
    # This races the archiver, which upserts the same row for the run's changes. Both build it
    # with new_record() from the engine's read of the run, so it is the same row whoever writes
    # it, and the archiver has the last word: any change after either read noted the run as
    # changed, for it to archive. So if its row is there first, ours is skipped
    # (ignore_conflicts: the database settles the race on the unique flow_id, no
    # IntegrityError); if ours is, its upsert then overwrites every field but created_at, which
    # both read from the same run.
    RunRecord.objects.bulk_create([new_record(run)], ignore_conflicts=True)
    return RunRecord.objects.get(flow_id=flow_id)


def load_run(flow_id: str) -> RunSnapshot | None:
    """The run from Redis while Redis holds it, else from the archive; None if neither does."""
    run = engine_client.reader().read_run(flow_id)
    if run is not None:
        return run
    record = RunRecord.objects.filter(flow_id=flow_id).first()
    return archived_run(record) if record else None
