"""Fan-out/fan-in benchmark (not a test): `python bench/fan_out.py` against $REDIS_URL.

One step, then 100 no-op steps that each run after it, then one step after all 100, with 2
runner processes x concurrency 8. Prints the median wall time from execute_flow until
wait_for_flow returns, its steps/s, how many of the 100 branches ran at the same moment at
most (from the steps' own start and finish times), and the same for a 40-step chain for
comparison. Target: the fan's steps/s at least 3x the chain's (the branches really overlap).

Everything lives under a fresh key prefix, deleted afterwards, so a shared Redis is safe.
"""

from __future__ import annotations

import argparse
import statistics
import time

import uvloop
from engine import chain_wall_times, parse_with_redis_url, runners_on_a_fresh_prefix

from flows.engine import Flow, FlowExecutor, FlowStatus, StepState, new_flow, new_step


def fan(width: int) -> Flow:
    builder = new_flow(f"fan_{width}").add_step(new_step("start").script("1").build())
    branches = [f"b{index}" for index in range(width)]
    for name in branches:
        builder.add_step(new_step(name).script("1").after("start").build())
    return builder.add_step(new_step("join").script("1").after(*branches).build()).build()


def most_at_once(steps: list[StepState]) -> int:
    """The most steps running at the same moment, by their recorded start and finish."""
    moments = sorted(
        [(step.started_at, 1) for step in steps] + [(step.finished_at, -1) for step in steps]
    )
    running = peak = 0
    for _at, change in moments:
        running += change
        peak = max(peak, running)
    return peak


async def fan_runs(executor: FlowExecutor, flow: Flow, repeats: int) -> tuple[list[float], int]:
    """Wall times of `repeats` runs of the fan one after the other, and the widest overlap."""
    times, widest = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        flow_id = await executor.execute_flow(flow)
        state = await executor.wait_for_flow(flow_id, timeout=60)
        times.append(time.perf_counter() - started)
        assert state.status == FlowStatus.COMPLETED, state
        branches = [step for step in await executor.get_steps(flow_id) if step.step_id[0] == "b"]
        widest = max(widest, most_at_once(branches))
    return times, widest


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8, help="per runner process")
    parser.add_argument("--repeats", type=int, default=20)
    arguments = parse_with_redis_url(parser)
    flow = fan(arguments.width)
    steps = arguments.width + 2
    with runners_on_a_fresh_prefix(arguments.redis_url, 2, arguments.concurrency) as prefix:
        async with FlowExecutor(arguments.redis_url, key_prefix=prefix) as executor:
            await fan_runs(executor, flow, 3)  # warm up workers and connections
            await chain_wall_times(executor, 40, 3)
            fan_times, widest = await fan_runs(executor, flow, arguments.repeats)
            chain_times = await chain_wall_times(executor, 40, arguments.repeats)
    fan_wall, chain_wall = statistics.median(fan_times), statistics.median(chain_times)
    fan_rate, chain_rate = steps / fan_wall, 40 / chain_wall
    print(f"2 runner processes x concurrency {arguments.concurrency}")
    print(
        f"fan-out/fan-in, 1 -> {arguments.width} -> 1 ({steps} steps), median of "
        f"{arguments.repeats}: {fan_wall * 1000:.1f} ms, {fan_rate:,.0f} steps/s; "
        f"at most {widest} branches at once"
    )
    print(
        f"40-step chain, median of {arguments.repeats}: {chain_wall * 1000:.1f} ms, "
        f"{chain_rate:,.0f} steps/s"
    )
    print(f"fan / chain steps/s: {fan_rate / chain_rate:.1f}x (target >= 3x)")


if __name__ == "__main__":
    uvloop.run(main())
