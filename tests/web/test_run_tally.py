"""RunTally, the per-hour count of runs by flow and status the charts read: the database keeps
it in step with every way a run's row is written (migration 0018's triggers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flows.models import RunRecord, RunTally
from flows.runs.archiver import LISTING_FIELDS

HOUR = datetime(2026, 12, 2, 10, tzinfo=UTC)


def _tally() -> dict[tuple[datetime, str, str], int]:
    return {
        (cell.hour, cell.name, cell.status): cell.runs for cell in RunTally.objects.exclude(runs=0)
    }


def _record(number: int, status: str, created: datetime, name: str = "pay") -> RunRecord:
    return RunRecord(flow_id=f"tally{number}", name=name, status=status, created_at=created)


def test_created_runs_are_counted_in_the_utc_hour_they_were_created(db: None):
    RunRecord.objects.bulk_create(
        [
            _record(1, "running", HOUR),
            _record(2, "running", HOUR + timedelta(minutes=59, seconds=59.999)),
            _record(3, "running", HOUR + timedelta(hours=1)),
            _record(4, "failed", HOUR + timedelta(minutes=5), name="ship"),
        ]
    )
    RunRecord.objects.create(flow_id="tally5", name="pay", status="running", created_at=HOUR)

    assert _tally() == {
        (HOUR, "pay", "running"): 3,
        (HOUR + timedelta(hours=1), "pay", "running"): 1,
        (HOUR, "ship", "failed"): 1,
    }


def test_the_archivers_upsert_moves_runs_between_statuses_and_leaves_the_rest(db: None):
    RunRecord.objects.bulk_create([_record(n, "running", HOUR) for n in range(3)])
    changed = [_record(0, "completed", HOUR), _record(1, "failed", HOUR)]
    still_going = _record(2, "running", HOUR)
    new = _record(3, "running", HOUR)

    RunRecord.objects.bulk_create(
        [*changed, still_going, new],
        update_conflicts=True,
        unique_fields=["flow_id"],
        update_fields=LISTING_FIELDS,
    )

    assert _tally() == {
        (HOUR, "pay", "completed"): 1,
        (HOUR, "pay", "failed"): 1,
        (HOUR, "pay", "running"): 2,
    }


def test_updates_and_deletes_of_rows_are_counted_out(db: None):
    RunRecord.objects.bulk_create([_record(n, "failed", HOUR) for n in range(3)])

    RunRecord.objects.filter(flow_id="tally0").update(status="completed")
    RunRecord.objects.filter(flow_id="tally1").delete()
    record = RunRecord.objects.get(flow_id="tally2")
    record.created_at = HOUR - timedelta(days=1)
    record.save()

    assert _tally() == {
        (HOUR, "pay", "completed"): 1,
        (HOUR - timedelta(days=1), "pay", "failed"): 1,
    }
