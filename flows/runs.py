"""A run as its raw Redis hashes: read in one round trip per batch of runs, turned into the
archive's RunRecord, or into the snapshot the pages render. Archived runs keep the same hashes,
so a run renders the same whether Redis still holds it or only the archive does."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

import redis.asyncio as redis
from django.conf import settings

from flows import engine_client
from flows.engine.keys import Keys
from flows.engine.state import FlowState, StepState
from flows.engine.statuses import FlowStatus
from flows.engine.store import RunNotFound
from flows.engine_client import RunSnapshot
from flows.models import RunRecord


@dataclass(frozen=True)
class RawRun:
    flow_hash: dict[str, str]
    step_hashes: list[dict[str, str]]

    def snapshot(self) -> RunSnapshot:
        return RunSnapshot(
            FlowState.from_hash(self.flow_hash),
            [StepState.from_hash(step) for step in self.step_hashes],
        )

    def record(self) -> RunRecord:
        """An unsaved RunRecord holding this run (the archiver upserts these in bulk)."""
        state = FlowState.from_hash(self.flow_hash)
        meta = state.meta
        return RunRecord(
            flow_id=state.flow_id,
            name=state.name,
            definition_id=meta.get("definition_id"),
            definition_version=meta.get("definition_version"),
            status=state.status,
            current_step=state.current_step,
            error=state.error,
            launched_by=str(meta.get("launched_by", "")),
            patch_count=state.patch_count,
            step_count=len(state.definition.steps),
            completed_count=len(state.completed_steps),
            state=self.flow_hash,
            steps=self.step_hashes,
            created_at=state.created_at,
            started_at=state.started_at,
            finished_at=state.finished_at,
            updated_at=state.updated_at,
        )


def archived_snapshot(record: RunRecord) -> RunSnapshot:
    return RawRun(record.state, record.steps).snapshot()


def _step_keys(keys: Keys, flow_hash: dict[str, str]) -> list[str]:
    """The keys of a run's step hashes, in its definition's order."""
    steps = json.loads(flow_hash["definition"])["steps"]
    return [keys.step(flow_hash["flow_id"], step["name"]) for step in steps]


async def read_raw_runs(
    client: redis.Redis, keys: Keys, flow_ids: list[str], *, ended_only_steps: bool = False
) -> list[RawRun]:
    """These runs' hashes in two round trips; runs Redis no longer holds are left out. With
    `ended_only_steps`, only runs that have ended come with their step hashes (the others with
    none): what the archiver keeps of a run still going is its listing, not its steps."""
    async with client.pipeline(transaction=False) as pipe:
        for flow_id in flow_ids:
            pipe.hgetall(keys.flow(flow_id))
        flow_hashes = [found for found in await pipe.execute() if found]
    step_keys = [
        _step_keys(keys, flow_hash)
        if not ended_only_steps or FlowStatus(flow_hash["status"]).is_final
        else []
        for flow_hash in flow_hashes
    ]
    async with client.pipeline(transaction=False) as pipe:
        for key in itertools.chain.from_iterable(step_keys):
            pipe.hgetall(key)
        step_hashes = iter(await pipe.execute())
    return [
        RawRun(flow_hash, [step for step in (next(step_hashes) for _ in run_keys) if step])
        for flow_hash, run_keys in zip(flow_hashes, step_keys, strict=True)
    ]


async def read_changed_runs(
    client: redis.Redis, keys: Keys, changed: dict[str, set[str]]
) -> list[RunSnapshot]:
    """Each run's state with only the given steps (flow_id -> step ids), in one round trip:
    what a live update renders, since the page already shows the other steps. Runs Redis no
    longer holds are left out."""
    wanted = {flow_id: sorted(step_ids - {""}) for flow_id, step_ids in changed.items()}
    async with client.pipeline(transaction=False) as pipe:
        for flow_id, step_ids in wanted.items():
            pipe.hgetall(keys.flow(flow_id))
            for step_id in step_ids:
                pipe.hgetall(keys.step(flow_id, step_id))
        answers = iter(await pipe.execute())
    runs = []
    for step_ids in wanted.values():
        flow_hash = next(answers)
        steps = [StepState.from_hash(step) for step in (next(answers) for _ in step_ids) if step]
        if flow_hash:
            runs.append(RunSnapshot(FlowState.from_hash(flow_hash), steps))
    return runs


def read_raw_run(flow_id: str) -> RawRun | None:
    """One run's hashes as Redis holds them now, None if it is gone: two round trips on the
    pooled synchronous client, with no event loop and no new connection, since every page load
    and every connecting socket reads one."""
    client, keys = engine_client.reader(), Keys(settings.FLOWS_KEY_PREFIX)
    flow_hash = client.hgetall(keys.flow(flow_id))
    if not flow_hash:
        return None
    with client.pipeline(transaction=False) as pipe:
        for key in _step_keys(keys, flow_hash):
            pipe.hgetall(key)
        return RawRun(flow_hash, [step for step in pipe.execute() if step])


def record_launched_run(flow_id: str) -> RunRecord:
    """Store the RunRecord of a run just launched, so it is listed at once; return it as stored.
    Raises RunNotFound if Redis no longer holds the run."""
    raw = read_raw_run(flow_id)
    if raw is None:
        raise RunNotFound(f"run {flow_id} left Redis before it could be recorded")
    # This races the archiver, which upserts the same row for the run's changes. Both build it
    # with RawRun.record() from the run's hashes, so it is the same row whoever writes it, and the
    # archiver has the last word: any change after either read noted the run as changed, for it
    # to archive. So if its row is there first, ours is skipped (ignore_conflicts: the database
    # settles the race on the unique flow_id, no IntegrityError); if ours is, its upsert then
    # overwrites every field but created_at, which both read from the same hash.
    RunRecord.objects.bulk_create([raw.record()], ignore_conflicts=True)
    return RunRecord.objects.get(flow_id=flow_id)


def load_run(flow_id: str) -> RunSnapshot | None:
    """The run from Redis while Redis holds it, else from the archive; None if neither does."""
    raw = read_raw_run(flow_id)
    if raw is not None:
        return raw.snapshot()
    record = RunRecord.objects.filter(flow_id=flow_id).first()
    return archived_snapshot(record) if record else None
