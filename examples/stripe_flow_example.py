"""The original Quick Start, in Python: a Stripe payment request as three sandboxed steps.

    make example            (or: python examples/stripe_flow_example.py)

Builds the flow with the fluent builder (flows/definitions/examples.py, the same definition
`make run` installs for the browser), launches it (the flow id prints at once), then prints
each step's status as it changes until the flow completes. Uses $REDIS_URL, or starts the
embedded Redis under var/ when it is unset; runs its own runner, so nothing else is needed.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from _support import launch_and_watch, redis_to_use

from flows import FlowExecutor, FlowStatus
from flows.definitions.examples import STRIPE_SAMPLE_INPUT, stripe_payment_request
from flows.engine import Runner


async def run(redis_url: str) -> FlowStatus:
    async with Runner(redis_url, concurrency=1), FlowExecutor(redis_url) as executor:
        flow = stripe_payment_request()
        final = await launch_and_watch(executor, flow, STRIPE_SAMPLE_INPUT, _with_attempt)
        product = await executor.get_step_state(final.flow_id, "create_product")
        print(f"create_product output: {product.output}")
        return final.status


def _with_attempt(event: dict[str, Any]) -> str:
    error = f" ({event['error']})" if event["error"] else ""
    return f"{event['status']}, attempt {event['attempt_count']}{error}"


def main() -> None:
    with redis_to_use() as url:
        status = asyncio.run(run(url))
    sys.exit(0 if status == FlowStatus.COMPLETED else 1)


if __name__ == "__main__":
    main()
