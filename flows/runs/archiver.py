"""The archiver: keeps RunRecords in the database up to date with the runs in Redis.

Every BATCH_WINDOW seconds it takes the runs that changed since its last batch (the engine
notes them as they change: flows/engine/changes.py), reads them through the engine in two round
trips per CHUNK runs, upserts them, and only then forgets them, so a run changed meanwhile, or a
batch cut short by a crash, is taken again. The runner never waits for it, and it does no work
per event: a run that moves through forty steps between two batches is read and written once.

A run that has ended is archived whole: its state and every step, what the run page renders
once Redis lets the run go. A run still going only has its listing kept current (status,
progress, times): the Runs list and the dashboard read those, its page reads Redis, and reading
and writing every step of a long run on every batch was most of the web process's work while
runs went on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import redis.asyncio as redis
from channels.db import database_sync_to_async
from django.utils import timezone

from flows.alerts.recording import record_failures
from flows.background import RoundsUntilStopped
from flows.engine.executor import FlowExecutor
from flows.engine.reads import Steps
from flows.engine.state import RunSnapshot
from flows.engine.statuses import FlowStatus
from flows.models import FlowDefinition, RunRecord
from flows.runs.records import new_record

BATCH_WINDOW = 0.2
CHUNK = 1000  # runs read and upserted together
UPDATED_FIELDS = [
    field.name
    for field in RunRecord._meta.concrete_fields
    if field.name not in {"id", "flow_id", "created_at"}
]
LISTING_FIELDS = [name for name in UPDATED_FIELDS if name != "snapshot"]

# Told which runs a batch archived (the live pages refresh from these), with the archiver's
# Redis client; told of empty batches too.
OnArchived = Callable[[redis.Redis, list[RunRecord]], Awaitable[None]]


class Archiver(RoundsUntilStopped):
    def __init__(
        self, redis_url: str, key_prefix: str = "", on_archived: OnArchived | None = None
    ) -> None:
        self.engine = FlowExecutor(redis_url, key_prefix=key_prefix)
        self.client = self.engine.redis  # what on_archived is given
        self.changes = self.engine.changed_runs()
        self.on_archived = on_archived
        super().__init__()

    async def work(self) -> None:
        """Archive a batch every BATCH_WINDOW (the engine notes changed runs whether an
        archiver runs or not); when stopped, what changed up to the stop."""
        await self.archive_batch()
        await self.pause(BATCH_WINDOW)

    async def finish(self) -> None:
        await self.archive_batch()

    async def close(self) -> None:
        await self.engine.close()

    async def archive_batch(self) -> int:
        """Archive every run changed since the last batch, CHUNK runs at a time (a backlog
        after an outage neither builds one huge statement nor one huge live update); return
        how many there were."""
        taken = await self.changes.take()
        flow_ids = list(taken)
        if not flow_ids and self.on_archived:
            await self.on_archived(self.client, [])  # a dashboard held back may be due
        for start in range(0, len(flow_ids), CHUNK):
            chunk = flow_ids[start : start + CHUNK]
            runs = await self.engine.read_runs(chunk, steps=Steps.OF_ENDED_RUNS)
            records = await _save(runs)
            # Forgotten only once saved: if this process dies first, the runs are taken again.
            await self.changes.forget({flow_id: taken[flow_id] for flow_id in chunk})
            if self.on_archived:
                await self.on_archived(self.client, records)
        return len(taken)


@database_sync_to_async
def _save(runs: list[RunSnapshot]) -> list[RunRecord]:
    """Upsert the ended runs whole and the others' listings (a statement each); a run whose
    definition was deleted keeps no link."""
    records = [new_record(run) for run in runs]
    linked = {record.definition_id for record in records} - {None}
    existing = set(FlowDefinition.objects.filter(pk__in=linked).values_list("pk", flat=True))
    for record in records:
        if record.definition_id not in existing:
            record.definition_id = None
    ended = [record for record in records if FlowStatus(record.status).is_final]
    going = [record for record in records if not FlowStatus(record.status).is_final]
    for batch, fields in ((ended, UPDATED_FIELDS), (going, LISTING_FIELDS)):
        if batch:
            RunRecord.objects.bulk_create(
                batch, update_conflicts=True, unique_fields=["flow_id"], update_fields=fields
            )
    # After the records: should this fail, the batch is taken again, and alerts with it.
    record_failures(ended, timezone.now())
    return records
