"""A flow that branches, in Python: a checkout whose steps run in parallel and on conditions.

    make example            (or: python examples/branching_example.py [card number])

charge and reserve run at the same time; ship runs after both, only if the charge was paid;
notify runs only if it was declined; receipt runs after ship and notify, whichever ran (a
skipped step's dependents still run). Prints each step's status as it changes, then the
receipt. Uses $REDIS_URL, or starts the embedded Redis under var/ when it is unset; runs its own
runner, so nothing else is needed.
"""

from __future__ import annotations

import asyncio
import sys

from _support import launch_and_watch, redis_to_use

from flows import FlowExecutor, FlowStatus
from flows.definitions.examples import CHECKOUT_SAMPLE_INPUT, checkout
from flows.engine import Runner


async def run(redis_url: str, card: str) -> FlowStatus:
    async with Runner(redis_url, concurrency=2), FlowExecutor(redis_url) as executor:
        input = {**CHECKOUT_SAMPLE_INPUT, "card": card}
        final = await launch_and_watch(executor, checkout(), input)
        receipt = await executor.get_step_state(final.flow_id, "receipt")
        print(f"receipt: {receipt.output}")
        return final.status


def main() -> None:
    card = sys.argv[1] if len(sys.argv) > 1 else CHECKOUT_SAMPLE_INPUT["card"]
    with redis_to_use() as url:
        status = asyncio.run(run(url, card))
    sys.exit(0 if status == FlowStatus.COMPLETED else 1)


if __name__ == "__main__":
    main()
