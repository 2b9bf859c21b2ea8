"""The original Quick Start, in Python: a Stripe payment request as three sandboxed steps.

    make example            (or: python examples/stripe_flow_example.py)

Builds the flow with the fluent builder, launches it (the flow id prints at once), then prints
each step's status as it changes until the flow completes. Uses $REDIS_URL, or starts the
embedded Redis under var/ when it is unset; runs its own runner, so nothing else is needed.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from flows import FlowExecutor, FlowStatus, new_flow, new_step
from flows.engine import Runner
from flowsite.embedded_redis import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent

STRIPE_CONFIG = """
log("configuring Stripe for " + input["customer_email"])
config = mock_api("success", payload = {"api_key": "sk_test_mock", "currency": "usd"})
config
"""

STRIPE_CONFIG_CONFIRM = """
config = steps["stripe_config"]
confirmed = mock_api("flaky", fail_times = 1, payload = {"confirmed": True})
log("attempt " + str(attempt) + ": Stripe answered " + str(confirmed))
{"currency": config["currency"], "confirmed": confirmed["confirmed"]}
"""

CREATE_PRODUCT = """
product = mock_api("slow", delay = 0.2, payload = {
    "id": "prod_mock_1",
    "name": input["product_name"],
    "price": input["amount"],
    "currency": steps["stripe_config_confirm"]["currency"],
})
log("created product " + product["id"])
product
"""


def build_flow():
    stripe_config = new_step("stripe_config").script(STRIPE_CONFIG).timeout(5).build()
    confirm = (
        new_step("stripe_config_confirm").script(STRIPE_CONFIG_CONFIRM).timeout(5).retries(2)
    ).build()
    create_product = new_step("create_product").script(CREATE_PRODUCT).timeout(5).build()
    return (
        new_flow("stripe_payment_request")
        .add_step(stripe_config)
        .add_step(confirm)
        .add_step(create_product)
        .build()
    )


async def run(redis_url: str) -> FlowStatus:
    runner = Runner(redis_url, concurrency=1)
    runner_task = asyncio.create_task(runner.run(), name="example-runner")
    try:
        async with FlowExecutor(redis_url) as executor:
            flow_id = await executor.execute_flow(
                build_flow(),
                {"customer_email": "ada@example.com", "product_name": "Flow plan", "amount": 4200},
            )
            print(f"launched flow {flow_id}")
            async for event in executor.watch_flow(flow_id):
                if event["kind"] == "step":
                    error = f" ({event['error']})" if event["error"] else ""
                    print(
                        f"  {event['step_id']}: {event['status']}, "
                        f"attempt {event['attempt_count']}{error}"
                    )
            final = await executor.get_flow_state(flow_id)
            print(f"flow {final.status}: {final.error or 'all steps done'}")
            product = await executor.get_step_state(flow_id, "create_product")
            print(f"create_product output: {product.output}")
            return final.status
    finally:
        runner.stop()
        await runner_task


def main() -> None:
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        status = asyncio.run(run(redis_url))
    else:
        with EmbeddedRedis(ROOT / "var" / "redis") as server:
            status = asyncio.run(run(server.url))
    sys.exit(0 if status == FlowStatus.COMPLETED else 1)


if __name__ == "__main__":
    main()
