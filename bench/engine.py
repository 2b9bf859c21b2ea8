"""Engine benchmark (not a test): `make bench` or `python bench/engine.py` against $REDIS_URL.

Prints the median wall time of a 40-step flow of trivial scripts from execute_flow to
wait_for_flow returning, the per-step overhead, execute_flow's median latency, wait_for_flow's
median latency on a run that has ended, and two throughputs of 2,000 one-step flows with 2
runner processes: the engine's own (completions read from its events stream) and the public
API's (execute_flows, then wait_for_flows). Targets on a 2-core machine: 40-step flow <= 60 ms
(<= 1.5 ms/step), >= 1,000 one-step flows/s, execute_flow <= 1 ms, wait_for_flow on an ended
run <= 0.3 ms, public API >= 1,500 flows/s and within 20% of the engine's own.

Everything lives under a fresh key prefix, deleted afterwards, so a shared Redis is safe.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import uvloop
from _support import delete_prefix

from flows.engine import Flow, FlowExecutor, FlowStatus, new_flow, new_step


@functools.cache
def chain(steps: int) -> Flow:
    builder = new_flow(f"bench_{steps}")
    for index in range(steps):
        builder.add_step(new_step(f"s{index}").script("1").build())
    return builder.build()


@contextmanager
def runners_on_a_fresh_prefix(redis_url: str, count: int, concurrency: int) -> Iterator[str]:
    """`count` runner processes working under a fresh key prefix, which it yields; on exit the
    runners stop gracefully (SIGTERM) and everything under the prefix is deleted."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    command = [
        sys.executable,
        "-m",
        "flows.engine",
        "--redis-url",
        redis_url,
        "--key-prefix",
        prefix,
        "--concurrency",
        str(concurrency),
        "--log-level",
        "WARNING",
    ]
    runners = [subprocess.Popen(command) for _ in range(count)]
    try:
        yield prefix
    finally:
        for runner in runners:
            runner.send_signal(signal.SIGTERM)
        for runner in runners:
            runner.wait()
        delete_prefix(redis_url, prefix)


async def chain_wall_times(
    executor: FlowExecutor, steps: int, repeats: int, timeout: float = 60
) -> list[float]:
    flow = chain(steps)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        flow_id = await executor.execute_flow(flow)
        state = await executor.wait_for_flow(flow_id, timeout=timeout)
        times.append(time.perf_counter() - started)
        assert state.status == FlowStatus.COMPLETED, state
    return times


async def execute_latencies(executor: FlowExecutor, count: int) -> list[float]:
    """Time execute_flow alone, then let the runners finish those runs before going on."""
    flow = chain(1)
    latencies, flow_ids = [], []
    for _ in range(count):
        started = time.perf_counter()
        flow_ids.append(await executor.execute_flow(flow))
        latencies.append(time.perf_counter() - started)
    for flow_id in flow_ids:
        await executor.wait_for_flow(flow_id, timeout=60)
    return latencies


async def ended_wait_latencies(executor: FlowExecutor, count: int) -> list[float]:
    """Time wait_for_flow on runs that have already ended (the runs of the launch test)."""
    flow_ids = await executor.redis.zrange(executor.keys.runs, -count, -1)
    latencies = []
    for flow_id in flow_ids:
        started = time.perf_counter()
        await executor.wait_for_flow(flow_id, timeout=60)
        latencies.append(time.perf_counter() - started)
    return latencies


async def public_api_throughput(executor: FlowExecutor, flows: int) -> float:
    """Flows/s from execute_flows until wait_for_flows has every final state."""
    started = time.perf_counter()
    flow_ids = await executor.execute_flows(chain(1), [{}] * flows)
    states = await executor.wait_for_flows(flow_ids, timeout=120)
    elapsed = time.perf_counter() - started
    assert {state.status for state in states} == {FlowStatus.COMPLETED}
    return flows / elapsed


async def throughput(executor: FlowExecutor, flows: int) -> float:
    """Flows/s from the first launch until the last of `flows` one-step flows completes.

    Completion is read from the engine's own events stream (one blocking XREAD per batch)."""
    flow = chain(1)
    last_event = (await executor.redis.xinfo_stream(executor.keys.events))["last-generated-id"]
    started = time.perf_counter()
    for _ in range(flows // 100):
        await asyncio.gather(*(executor.execute_flow(flow) for _ in range(100)))
    completed = 0
    while completed < flows:
        answer = await executor.redis.xread({executor.keys.events: last_event}, block=5000)
        if not answer:
            raise RuntimeError(f"stalled after {completed} of {flows} flows")
        for _stream, events in answer:
            for event_id, fields in events:
                last_event = event_id
                payload = fields["event"]
                if '"kind":"flow"' in payload and '"status":"completed"' in payload:
                    completed += 1
    return flows / (time.perf_counter() - started)


def parse_with_redis_url(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The benchmark's options, with --redis-url (default: $REDIS_URL), which it needs."""
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    arguments = parser.parse_args()
    if not arguments.redis_url:
        parser.error("set REDIS_URL or pass --redis-url (make bench does this for you)")
    return arguments


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=8, help="per runner process")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--flows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="of each throughput")
    arguments = parse_with_redis_url(parser)
    with runners_on_a_fresh_prefix(arguments.redis_url, 2, arguments.concurrency) as prefix:
        async with FlowExecutor(arguments.redis_url, key_prefix=prefix) as executor:
            await chain_wall_times(executor, 40, 3)  # warm up workers and connections
            wall = statistics.median(await chain_wall_times(executor, 40, arguments.repeats))
            latency = statistics.median(await execute_latencies(executor, 500))
            ended_wait = statistics.median(await ended_wait_latencies(executor, 500))
            # Alternate the two, so that both see the same machine; compare their medians.
            engine_rates, api_rates = [], []
            for _ in range(arguments.rounds):
                engine_rates.append(await throughput(executor, arguments.flows))
                api_rates.append(await public_api_throughput(executor, arguments.flows))
    print(f"redis: {arguments.redis_url}; 2 runner processes x concurrency {arguments.concurrency}")
    print(f"40-step flow, median of {arguments.repeats}: {wall * 1000:.1f} ms (target <= 60 ms)")
    print(f"per-step overhead: {wall / 40 * 1000:.2f} ms (target <= 1.5 ms)")
    print(f"execute_flow latency, median of 500: {latency * 1000:.3f} ms (target <= 1 ms)")
    print(
        f"wait_for_flow on an ended run, median of 500: {ended_wait * 1000:.3f} ms"
        " (target <= 0.3 ms)"
    )
    engine_rate, api_rate = statistics.median(engine_rates), statistics.median(api_rates)
    print(
        f"engine throughput, {arguments.flows} one-step flows: {engine_rate:.0f} flows/s "
        f"(target >= 1,000; rounds: {', '.join(f'{r:.0f}' for r in engine_rates)})"
    )
    print(
        f"public API (execute_flows + wait_for_flows): {api_rate:.0f} flows/s, "
        f"{api_rate / engine_rate:.0%} of the engine's (target >= 1,500 and >= 80%; rounds: "
        f"{', '.join(f'{r:.0f}' for r in api_rates)})"
    )


if __name__ == "__main__":
    uvloop.run(main())
