"""Long-run benchmark (not a test): `python bench/long_chain.py` against $REDIS_URL.

Prints the wall time per step of a 5,000-step chain of trivial scripts against a 40-step one,
from execute_flow until wait_for_flow returns, with 2 runner processes. A step's cost must not
grow with the steps before it: target, the long chain within 2x of the short one per step.

Everything lives under a fresh key prefix, deleted afterwards, so a shared Redis is safe.
"""

from __future__ import annotations

import argparse
import statistics

import uvloop
from engine import chain, chain_wall_times, parse_with_redis_url, runners_on_a_fresh_prefix

from flows.engine import FlowExecutor


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3, help="of the long chain")
    arguments = parse_with_redis_url(parser)
    with runners_on_a_fresh_prefix(arguments.redis_url, 2, 8) as prefix:
        async with FlowExecutor(arguments.redis_url, key_prefix=prefix) as executor:
            chain(arguments.steps)  # built (and validated) before the clock starts
            await chain_wall_times(executor, 40, 3)  # warm up workers and connections
            short = statistics.median(await chain_wall_times(executor, 40, 30)) / 40
            wall = await chain_wall_times(executor, arguments.steps, arguments.repeats, 600)
            long = statistics.median(wall) / arguments.steps
    print(f"redis: {arguments.redis_url}; 2 runner processes x concurrency 8")
    print(f"40-step chain, median of 30: {short * 1000:.2f} ms per step")
    print(
        f"{arguments.steps:,}-step chain, median of {arguments.repeats}: {long * 1000:.2f} ms "
        f"per step, {long / short:.2f}x the 40-step chain's (target <= 2x)"
    )


if __name__ == "__main__":
    uvloop.run(main())
