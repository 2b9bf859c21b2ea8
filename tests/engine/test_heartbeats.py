"""Runners' heartbeats: what a live runner says of itself, a killed one shown as gone after
three of its lease periods (not before), a stopped one removing its own."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import Callable
from importlib import metadata

from flows.engine import FlowExecutor, StepStatus
from flows.engine.connections import async_client, blocking_client
from flows.engine.heartbeats import (
    Heartbeat,
    RunnerHeartbeat,
    read_heartbeats,
)
from flows.engine.keys import Keys
from tests.engine.flows import one_step_flow, wait_for_step_status

LEASE_SECONDS = 1.0  # start_runner_process's
# Bounds on waits for a process to start beating, or for its silence to count as gone.
DEADLINE_SECONDS = 20.0


async def _heartbeat_of(
    redis_url: str, pid: int, condition: Callable[[RunnerHeartbeat], bool]
) -> RunnerHeartbeat:
    """The heartbeat of the runner process `pid` once it meets `condition`. Polled: a beat is
    a state rewritten in place, which publishes nothing to wait on."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    with blocking_client(redis_url, decode_responses=True) as client:
        while True:
            found = [beat for beat in read_heartbeats(client, Keys()) if beat.pid == pid]
            if found and condition(found[0]):
                return found[0]
            assert time.monotonic() < deadline, f"no such heartbeat of {pid} in time"
            await asyncio.sleep(0.05)


def _heartbeats(redis_url: str) -> list[RunnerHeartbeat]:
    with blocking_client(redis_url, decode_responses=True) as client:
        return read_heartbeats(client, Keys())


async def test_a_runner_process_says_what_it_is_and_which_steps_it_runs(
    redis_url: str, executor: FlowExecutor, start_runner_process
):
    process = start_runner_process(concurrency=3)
    flow_id = await executor.execute_flow(one_step_flow("mock_api('slow', delay=30)"))
    await wait_for_step_status(executor, flow_id, "one", StepStatus.RUNNING)

    beat = await _heartbeat_of(redis_url, process.pid, lambda beat: bool(beat.running))

    assert (beat.host, beat.concurrency, beat.lease_seconds) == (
        socket.gethostname(),
        3,
        LEASE_SECONDS,
    )
    assert beat.version == metadata.version("flowsite")
    assert beat.running == [(flow_id, "one")]
    assert beat.free_slots == 2
    assert not beat.gone
    assert beat.started_at <= beat.beat_at


async def test_a_killed_runner_is_shown_as_gone_after_three_lease_periods_of_silence(
    redis_url: str, start_runner_process
):
    process = start_runner_process()
    await _heartbeat_of(redis_url, process.pid, lambda beat: True)

    process.send_signal(signal.SIGKILL)
    await asyncio.to_thread(process.wait)
    killed_at = time.monotonic()
    just_after = await _heartbeat_of(redis_url, process.pid, lambda beat: True)
    gone = await _heartbeat_of(redis_url, process.pid, lambda beat: beat.gone)

    assert not just_after.gone
    # Its last beat came about a third of a lease before the kill (less, or a little more on a
    # busy machine): gone no sooner than two leases after it, with room to spare.
    assert time.monotonic() - killed_at >= 2 * LEASE_SECONDS
    assert gone.seconds_silent > 3 * LEASE_SECONDS


async def test_a_runner_stopped_gracefully_removes_its_heartbeat(
    redis_url: str, start_runner_process
):
    stopping = start_runner_process()
    staying = start_runner_process()
    for process in (stopping, staying):
        await _heartbeat_of(redis_url, process.pid, lambda beat: True)

    stopping.send_signal(signal.SIGTERM)

    assert await asyncio.to_thread(stopping.wait) == 0
    assert [beat.pid for beat in _heartbeats(redis_url)] == [staying.pid]


async def test_a_starting_runner_forgets_runners_silent_for_more_than_a_day(redis_url: str):
    keys = Keys()
    day_old = {
        "host": "old",
        "pid": 1,
        "concurrency": 1,
        "lease_seconds": 5.0,
        "version": "0",
        "running": [],
        "started_at": "1.0",
        "beat_at": str(time.time() - 25 * 3600),
    }
    async with async_client(redis_url, decode_responses=True) as client:
        await client.hset(keys.runners, "old-runner", json.dumps(day_old))
        heartbeat = Heartbeat(client, keys, "new-runner", concurrency=1, lease_seconds=1.0)

        await heartbeat.beat([], forget_gone=True)

    assert [beat.name for beat in _heartbeats(redis_url)] == ["new-runner"]
