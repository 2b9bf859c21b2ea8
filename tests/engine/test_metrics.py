"""The metrics the transitions count (runs launched and ended, step durations, lease takeovers)
and the state read beside them (queue, runners, live sockets, archive lag): exact values after
known runs, read as /metrics reads them."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from flows.engine import FlowExecutor, FlowStatus, Runner, StepStatus, new_flow, new_step
from flows.engine.connections import blocking_client, partitions_of
from flows.engine.keys import Keys
from flows.engine.metrics import STEP_SECONDS_BUCKETS, EngineMetrics, read_metrics
from flows.engine.watches import Watches
from tests.engine.flows import chain_flow, wait_for_step_status

PAGES = ("run", "runs", "dashboard")


@pytest.fixture
def blocking(redis_url: str) -> Iterator[redis.Redis]:
    with blocking_client(redis_url, decode_responses=True) as client:
        yield client


Reader = Callable[..., EngineMetrics]


@pytest.fixture
def read(blocking: redis.Redis, redis_url: str) -> Reader:
    """The metrics now (watchers that joined before `live_since` expired)."""
    keys = Keys("", partitions_of(redis_url))

    def read_now(live_since: float = 0.0) -> EngineMetrics:
        return read_metrics(blocking, keys, live_pages=PAGES, live_since=live_since)

    return read_now


def _divide_flow():
    """One step dividing by input["d"]: d=0 fails it, at once and for good (no retries)."""
    step = new_step("divide").script('10 // input["d"]').retries(0).build()
    return new_flow("divide").add_step(step).build()


def test_the_scripts_and_the_reader_share_the_buckets():
    prelude = (Path(__file__).parents[2] / "flows/engine/lua/prelude.lua").read_text()
    table = re.search(r"STEP_SECONDS_BUCKETS = \{([^}]*)\}", prelude)
    assert table is not None
    assert [float(bound) for bound in table.group(1).split(",")] == list(STEP_SECONDS_BUCKETS)


def test_a_fresh_installation_reads_all_zeros(read: Reader):
    metrics = read()

    assert metrics == EngineMetrics(live_clients={"run": 0, "runs": 0, "dashboard": 0})


async def test_three_completed_and_one_failed_run_are_counted_exactly(
    executor: FlowExecutor, runner: Runner, read: Reader
):
    flow = _divide_flow()
    flow_ids = await executor.execute_flows(flow, [{"d": 2}, {"d": 5}, {"d": 1}, {"d": 0}])
    finals = await executor.wait_for_flows(flow_ids, timeout=30)

    metrics = read()

    assert sorted(final.status for final in finals) == [
        FlowStatus.COMPLETED,
        FlowStatus.COMPLETED,
        FlowStatus.COMPLETED,
        FlowStatus.FAILED,
    ]
    assert metrics.runs_started == {"divide": 4}
    assert metrics.runs_ended == {("divide", "completed"): 3, ("divide", "failed"): 1}
    durations = metrics.step_durations[("divide", "divide")]
    assert durations.count == 4
    assert durations.buckets[-1] == 4  # no attempt of a division takes an hour
    assert 0 < durations.sum_seconds < 30
    assert metrics.lease_takeovers == {}
    assert metrics.queued_tasks == 0
    assert metrics.held_tasks == 0
    assert metrics.archive_pending_runs == 4  # no archive follows the engine's tests
    assert (metrics.runners_alive, metrics.free_slots + metrics.busy_slots) == (1, 2)


async def test_an_attempt_lands_in_the_bucket_of_its_duration(
    executor: FlowExecutor, runner: Runner, read: Reader
):
    """mock_api's delay holds the script for 0.3 s at least (more on a busy machine): the one
    attempt counts in the first bucket whose bound is at least its duration, and in no bucket
    below."""
    step = new_step("wait").script("mock_api('slow', delay=0.3)").build()
    flow = new_flow("waits").add_step(step).build()
    started = time.monotonic()
    await executor.wait_for_flow(await executor.execute_flow(flow), timeout=30)
    wall_seconds = time.monotonic() - started

    durations = read().step_durations[("waits", "wait")]

    assert durations.count == 1
    assert 0.3 <= durations.sum_seconds <= wall_seconds
    first = next(
        i for i, bound in enumerate(STEP_SECONDS_BUCKETS) if durations.sum_seconds <= bound
    )
    assert durations.buckets[first] == 1
    assert durations.buckets[first - 1] == 0
    assert STEP_SECONDS_BUCKETS[first - 1] >= 0.25


async def test_skipped_steps_are_not_timed_and_names_may_hold_any_character(
    executor: FlowExecutor, runner: Runner, read: Reader
):
    flow = (
        new_flow("a|b 流")
        .add_step(new_step("x|y").script("1").build())
        .add_step(new_step("never").script("2").when("False").build())
        .build()
    )
    await executor.wait_for_flow(await executor.execute_flow(flow), timeout=30)

    metrics = read()

    assert list(metrics.step_durations) == [("a|b 流", "x|y")]
    assert metrics.runs_ended == {("a|b 流", "completed"): 1}


async def test_queued_tasks_with_no_runner_are_counted_with_the_age_of_the_oldest(
    executor: FlowExecutor, read: Reader
):
    before = time.time()
    await executor.execute_flows(chain_flow(2), [{}, {}, {}])
    await executor.execute_flow(
        new_flow("both").add_step(new_step("a").script("1").build()).build()
    )

    metrics = read()

    assert (metrics.queued_tasks, metrics.held_tasks) == (4, 0)
    assert 0 <= metrics.oldest_queued_seconds <= time.time() - before + 1
    assert metrics.runs_started == {"chain": 3, "both": 1}
    assert (metrics.runners_alive, metrics.runners_gone, metrics.free_slots) == (0, 0, 0)


async def test_a_killed_runners_step_taken_over_counts_one_lease_takeover(
    executor: FlowExecutor, start_runner_process, read: Reader
):
    slow = new_step("slow").script("mock_api('slow', delay=2)").build()
    flow = new_flow("slow_one").add_step(slow).build()
    doomed = start_runner_process(concurrency=1, lease_seconds=1.0)
    flow_id = await executor.execute_flow(flow)
    await wait_for_step_status(executor, flow_id, "slow", StepStatus.RUNNING)
    held = read()

    doomed.send_signal(signal.SIGKILL)
    await asyncio.to_thread(doomed.wait)
    start_runner_process(concurrency=3, lease_seconds=1.0)
    final = await executor.wait_for_flow(flow_id, timeout=60)
    metrics = read()

    assert (held.queued_tasks, held.held_tasks) == (0, 1)
    assert final.status == FlowStatus.COMPLETED
    assert metrics.lease_takeovers == {"slow_one": 1}
    assert metrics.runs_ended == {("slow_one", "completed"): 1}
    assert metrics.step_durations[("slow_one", "slow")].count == 1  # the lost attempt is not


def test_live_sockets_are_counted_by_page_until_they_expire(
    blocking: redis.Redis, read: Reader, redis_url: str
):
    watches = Watches(partitions=partitions_of(redis_url), expire_seconds=3600)
    watches.join(blocking, "run", "a" * 32, "run.a|one")
    watches.join(blocking, "run", "b" * 32, "run.b|two")
    watches.join(blocking, "dashboard", "", "dashboard|three")
    watches.leave(blocking, "run", "b" * 32, "run.b|two")

    assert read(watches.since()).live_clients == {"run": 1, "runs": 0, "dashboard": 1}
    assert read(time.time() + 1).live_clients == {"run": 0, "runs": 0, "dashboard": 0}


async def test_archive_lag_is_the_age_of_the_oldest_change_not_archived(
    executor: FlowExecutor, blocking: redis.Redis, read: Reader
):
    flow_id = await executor.execute_flow(chain_flow(1))
    changed_at = float(blocking.zscore(executor.keys.partition_of(flow_id).changed_runs, flow_id))

    metrics = read()

    assert metrics.archive_pending_runs == 1
    seconds, microseconds = blocking.time()
    assert 0 <= metrics.archive_lag_seconds <= seconds + microseconds / 1e6 - changed_at
