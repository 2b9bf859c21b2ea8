"""Reads of whole runs (state and steps, typed) for readers outside the runner: the web app's
pages and sockets, its archive and its live bridge.

A read takes at most two round trips: the flow hashes first (with the steps named up front, if
any), then the step hashes the flow hashes turned out to need (a run's definition names its
steps). What to read and how to parse it is written once, in _RunsRead; the two drivers below
only run its batches of HGETALLs on a pipeline, one blocking and one awaited, since queuing on a
pipeline is the same for both of redis-py's clients. So a page load reads a run on a pooled
synchronous client, with no event loop to hop to, through RunReader.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

import redis
import redis.asyncio

from flows.engine.connections import blocking_client, partitions_of
from flows.engine.keys import Keys
from flows.engine.state import FlowState, RunSnapshot, StepState
from flows.engine.statuses import FlowStatus


class Steps(enum.Enum):
    """Which steps come with each run read."""

    ALL = "all"
    # Every step of the runs that have ended, none of the others: the archive keeps a going
    # run's listing only.
    OF_ENDED_RUNS = "of ended runs"


# Steps, or for each run the ids of the only steps to read with it (a run not named: none).
StepSelection = Steps | Mapping[str, Sequence[str]]
Hash = dict[str, str]


class _RunsRead:
    """One read of runs, as batches of hashes to read; runs Redis no longer holds are left out,
    the others keep the order they were asked in."""

    def __init__(self, keys: Keys, flow_ids: Sequence[str], steps: StepSelection) -> None:
        self.keys = keys
        self.flow_ids = list(flow_ids)
        self.steps = steps
        named = steps if isinstance(steps, Mapping) else {}
        self.step_ids = [list(named.get(flow_id, ())) for flow_id in self.flow_ids]
        self.found: list[tuple[FlowState, list[Hash]]] = []

    def first_batch(self) -> list[str]:
        """The flow hashes, then any steps named up front."""
        steps = [
            self.keys.step(flow_id, step_id)
            for flow_id, step_ids in zip(self.flow_ids, self.step_ids, strict=True)
            for step_id in step_ids
        ]
        return [self.keys.flow(flow_id) for flow_id in self.flow_ids] + steps

    def second_batch(self, answers: list[Hash]) -> list[str]:
        """Take the first batch's answers; return the step hashes still to read."""
        flow_hashes, rest = answers[: len(self.flow_ids)], iter(answers[len(self.flow_ids) :])
        named = [[next(rest) for _ in step_ids] for step_ids in self.step_ids]
        self.found = [
            (FlowState.from_hash(flow_hash), step_hashes)
            for flow_hash, step_hashes in zip(flow_hashes, named, strict=True)
            if flow_hash
        ]
        return [key for state, _ in self.found for key in self._step_keys(state)]

    def runs(self, answers: list[Hash]) -> list[RunSnapshot]:
        """Take the second batch's answers; return the runs read."""
        rest = iter(answers)
        runs = []
        for state, step_hashes in self.found:
            step_hashes = step_hashes + [next(rest) for _ in self._step_keys(state)]
            steps = [StepState.from_hash(step_hash) for step_hash in step_hashes if step_hash]
            runs.append(RunSnapshot(state, steps))
        return runs

    def _step_keys(self, state: FlowState) -> list[str]:
        """The keys of the run's steps to read in the second batch, in its definition's order."""
        if isinstance(self.steps, Mapping):
            return []
        if self.steps is Steps.OF_ENDED_RUNS and not state.status.is_final:
            return []
        return [self.keys.step(state.flow_id, step.name) for step in state.definition.steps]


async def read_runs(
    client: redis.asyncio.Redis, keys: Keys, flow_ids: Sequence[str], steps: StepSelection
) -> list[RunSnapshot]:
    """The runs (RunStore.read_runs), on an asyncio client."""
    read = _RunsRead(keys, flow_ids, steps)
    second = read.second_batch(await _hashes(client, read.first_batch()))
    return read.runs(await _hashes(client, second))


def read_runs_blocking(
    client: redis.Redis, keys: Keys, flow_ids: Sequence[str], steps: StepSelection
) -> list[RunSnapshot]:
    """The runs (RunReader.read_runs), on a synchronous client."""
    read = _RunsRead(keys, flow_ids, steps)
    second = read.second_batch(_hashes_blocking(client, read.first_batch()))
    return read.runs(_hashes_blocking(client, second))


async def _hashes(client: redis.asyncio.Redis, hash_keys: list[str]) -> list[Hash]:
    if not hash_keys:
        return []  # no round trip for nothing
    async with client.pipeline(transaction=False) as pipe:
        for key in hash_keys:
            pipe.hgetall(key)
        return await pipe.execute()


def _hashes_blocking(client: redis.Redis, hash_keys: list[str]) -> list[Hash]:
    if not hash_keys:
        return []
    with client.pipeline(transaction=False) as pipe:
        for key in hash_keys:
            pipe.hgetall(key)
        return pipe.execute()


class RunReader:
    """Runs read synchronously, on one pooled client: for callers with no event loop at hand
    that read on every request (a page load, a connecting socket), sparing each an event loop
    hop and a new connection."""

    def __init__(self, redis_url: str, key_prefix: str = "") -> None:
        # Public: the web app's watchers join and leave on it (watches.py).
        self.client = blocking_client(redis_url, decode_responses=True)
        self.keys = Keys(key_prefix, partitions_of(redis_url))

    def read_runs(
        self, flow_ids: Sequence[str], steps: StepSelection = Steps.ALL
    ) -> list[RunSnapshot]:
        """These runs with the steps asked for, in at most two round trips; runs Redis no
        longer holds are left out."""
        return read_runs_blocking(self.client, self.keys, flow_ids, steps)

    def read_run(self, flow_id: str) -> RunSnapshot | None:
        """The run with all its steps; None if Redis no longer holds it."""
        return next(iter(self.read_runs([flow_id])), None)

    def statuses(self, flow_ids: Sequence[str]) -> dict[str, FlowStatus]:
        """Each run's status in one round trip; runs Redis no longer holds are left out."""
        if not flow_ids:
            return {}
        with self.client.pipeline(transaction=False) as pipe:
            for flow_id in flow_ids:
                pipe.hget(self.keys.flow(flow_id), "status")
            found = pipe.execute()
        return {
            flow_id: FlowStatus(status)
            for flow_id, status in zip(flow_ids, found, strict=True)
            if status
        }

    def close(self) -> None:
        self.client.close()
