"""What a concurrency limit adds to a run's start: `python bench/concurrency_limits.py` against
$REDIS_URL. Target: <= 0.3 ms.

Two measures, each alternating rounds of a one-step flow without limits and the same flow with a
limit over the whole flow and one per customer (both with room, as a start that does not wait):
- execute_flow's latency (median of sequential launches, no runner): taking the slots at launch;
- a run's whole life, execute_flow until wait_for_flow returns, on 2 runner processes (median of
  sequential runs): also giving the slots back at its end, which checks the line of waiting runs.

Everything lives under a fresh key prefix, deleted afterwards, so a shared Redis is safe.
"""

from __future__ import annotations

import argparse
import statistics
import time

import uvloop
from engine import parse_with_redis_url, runners_on_a_fresh_prefix

from flows.engine import Flow, FlowExecutor, new_flow, new_step
from flows.engine.concurrency import MAX_RUNS_AT_ONCE

TARGET_MS = 0.3
ROUNDS = 5


def _flow(limited: bool) -> Flow:
    builder = new_flow("limited" if limited else "free")
    builder.add_step(new_step("work").script("1").build())
    if limited:
        builder.concurrency_limit(MAX_RUNS_AT_ONCE)
        builder.concurrency_limit(MAX_RUNS_AT_ONCE, per='input["customer"]')
    return builder.build()


async def _launch_latencies(executor: FlowExecutor, flow: Flow, count: int) -> list[float]:
    times = []
    for n in range(count):
        started = time.perf_counter()
        await executor.execute_flow(flow, {"customer": n % 50})
        times.append(time.perf_counter() - started)
    return times


async def _run_latencies(executor: FlowExecutor, flow: Flow, count: int) -> list[float]:
    times = []
    for n in range(count):
        started = time.perf_counter()
        flow_id = await executor.execute_flow(flow, {"customer": n % 50})
        await executor.wait_for_flow(flow_id, timeout=30)
        times.append(time.perf_counter() - started)
    return times


async def _alternating(measure, executor: FlowExecutor, count: int) -> tuple[float, float]:
    """Medians (free, limited) over ROUNDS alternating rounds: the machine's drift hits both."""
    free: list[float] = []
    limited: list[float] = []
    for _ in range(ROUNDS):
        free += await measure(executor, _flow(False), count)
        limited += await measure(executor, _flow(True), count)
    return statistics.median(free) * 1000, statistics.median(limited) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="runs per round")
    arguments = parse_with_redis_url(parser)
    with runners_on_a_fresh_prefix(arguments.redis_url, 0, 1) as prefix:
        async with FlowExecutor(arguments.redis_url, key_prefix=prefix) as executor:
            await _alternating(_launch_latencies, executor, 50)  # warm up
            launch = await _alternating(_launch_latencies, executor, arguments.count)
    with runners_on_a_fresh_prefix(arguments.redis_url, 2, 8) as prefix:
        async with FlowExecutor(arguments.redis_url, key_prefix=prefix) as executor:
            await _alternating(_run_latencies, executor, 20)  # warm up the runners
            run = await _alternating(_run_latencies, executor, arguments.count // 2)
    print(f"redis: {arguments.redis_url}; {ROUNDS} alternating rounds")
    for what, (free, limited) in [("execute_flow", launch), ("launch to end, 1 step", run)]:
        print(
            f"{what}: {free:.3f} ms without limits, {limited:.3f} ms with two "
            f"(+{limited - free:.3f} ms; target <= {TARGET_MS} ms)"
        )


if __name__ == "__main__":
    uvloop.run(main())
