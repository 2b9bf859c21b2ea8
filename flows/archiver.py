"""The archiver: keeps RunRecords in the database up to date from the engine's events.

It reads the events stream through its own consumer group ("archive"), so every event is
archived once even across restarts (unacknowledged events are taken over), collects a batch
(what came in BATCH_WINDOW seconds after the first event, up to BATCH_SIZE), reads the touched
runs from Redis in two round trips and upserts them. The runner never waits for it.

A run that has ended is archived whole: its flow hash and every step hash, what the run page
renders once Redis lets the run go. A run still going only has its listing kept current
(status, progress, times): the Runs list and the dashboard read those, its page reads Redis, and
reading and writing every step hash of a long run on every batch was most of the web process's
work while runs went on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as redis
from channels.db import database_sync_to_async

from flows.engine.statuses import FlowStatus
from flows.event_service import EventGroupService
from flows.models import FlowDefinition, RunRecord
from flows.runs import RawRun, read_raw_runs

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
BATCH_WINDOW = 0.2
UPDATED_FIELDS = [
    field.name
    for field in RunRecord._meta.concrete_fields
    if field.name not in {"id", "flow_id", "created_at"}
]
LISTING_FIELDS = [name for name in UPDATED_FIELDS if name not in {"state", "steps"}]

# Told which runs a batch archived and which of them are new (the live pages refresh from these),
# with the archiver's Redis client; told of empty batches too.
OnArchived = Callable[[redis.Redis, list[RunRecord], set[str]], Awaitable[None]]


class Archiver(EventGroupService):
    group = "archive"

    def __init__(
        self, redis_url: str, key_prefix: str = "", on_archived: OnArchived | None = None
    ) -> None:
        super().__init__(redis_url, key_prefix)
        self.on_archived = on_archived

    async def work(self) -> None:
        await self.archive_batch()

    async def archive_batch(self, block_ms: int = 200) -> int:
        """Archive one batch of events (waiting up to block_ms for the first); return its size."""
        events = await self.reader.read(BATCH_SIZE, block_ms)
        if not events:
            if self.on_archived:
                await self.on_archived(self.client, [], set())
            return 0
        if len(events) < BATCH_SIZE:
            # Let the batch fill rather than waking for each event that follows.
            await asyncio.sleep(BATCH_WINDOW)
            events += await self.reader.read(BATCH_SIZE - len(events), block_ms=None)
        flow_ids = list(dict.fromkeys(event["flow_id"] for _id, event in events))
        new = {
            event["flow_id"]
            for _id, event in events
            if event["kind"] == "flow" and event["status"] == FlowStatus.CREATED
        }
        runs = await read_raw_runs(self.client, self.keys, flow_ids, ended_only_steps=True)
        records = await _save(runs)
        # Acknowledged only once saved: if this process dies first, another archiver (or this
        # one, restarted) takes the events over and archives them again; upserts make it safe.
        await self.reader.ack([event_id for event_id, _event in events])
        if self.on_archived:
            await self.on_archived(self.client, records, new)
        return len(events)


@database_sync_to_async
def _save(runs: list[RawRun]) -> list[RunRecord]:
    """Upsert the ended runs whole and the others' listings (a statement each); a run whose
    definition was deleted keeps no link."""
    records = [run.record() for run in runs]
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
    return records
