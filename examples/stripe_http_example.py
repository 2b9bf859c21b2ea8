"""The Stripe payment request for real: three steps calling Stripe's HTTP API with the secret key
kept out of the scripts, against a local stand-in for Stripe (examples/stripe_stub.py).

    make example            (or: python examples/stripe_http_example.py)

The key is a secret (`secret("STRIPE_KEY")`), encrypted in Redis and redacted from everything
the run keeps; the stub's address is the only host the runner allows (FLOWS_HTTP_ALLOW). Uses
$REDIS_URL, or starts the embedded server under var/ when it is unset, under a key prefix of its
own; runs its own runner. Point `stripe_url` at https://api.stripe.com, allow that host and set a
real test key, and the same flow talks to Stripe.
"""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import urlsplit

from _support import launch_and_watch, redis_to_use
from stripe_stub import API_KEY, stripe_stub

from flows import FlowExecutor, FlowStatus, new_flow, new_step
from flows.engine import Flow, Runner
from flows.engine.grants import HttpSettings
from flows.engine.secrets import SecretBox, new_key

PREFIX = "flowsite-example:"
AUTHORIZATION = '{"Authorization": "Bearer " + secret("STRIPE_KEY")}'

STRIPE_CONFIG = f"""\
account = http.get(input["stripe_url"] + "/v1/account", headers = {AUTHORIZATION})
if account.status != 200:
    fail("Stripe refused the key: " + account.text)
{{"account": account.json["id"], "currency": account.json["default_currency"]}}
"""

CREATE_PRODUCT = f"""\
product = http.post(input["stripe_url"] + "/v1/products",
                    data = {{"name": input["product_name"]}}, headers = {AUTHORIZATION})
if product.status != 200:
    fail("Stripe answered " + str(product.status) + ": " + product.text)
product.json
"""

CREATE_PRICE = f"""\
price = http.post(input["stripe_url"] + "/v1/prices", data = {{
    "product": steps["create_product"]["id"],
    "unit_amount": str(input["amount"]),
    "currency": steps["stripe_config"]["currency"],
}}, headers = {AUTHORIZATION})
if price.status != 200:
    fail("Stripe answered " + str(price.status) + ": " + price.text)
price.json
"""


def stripe_payment_request_http() -> Flow:
    return (
        new_flow("stripe_payment_request_http")
        .add_step(new_step("stripe_config").script(STRIPE_CONFIG).timeout(10).retries(2).build())
        .add_step(new_step("create_product").script(CREATE_PRODUCT).timeout(10).build())
        .add_step(new_step("create_price").script(CREATE_PRICE).timeout(10).build())
        .build()
    )


async def run(redis_url: str, stripe_url: str) -> FlowStatus:
    secrets_key = new_key()  # the example's own FLOWS_SECRETS_KEY
    token = SecretBox([secrets_key]).encrypt(API_KEY)
    stub = urlsplit(stripe_url)
    # The stub listens on loopback, which steps may reach only when allowed explicitly.
    http = HttpSettings(allow=stub.netloc, allow_private=True)
    runner = Runner(redis_url, concurrency=1, key_prefix=PREFIX, http=http, secrets_key=secrets_key)
    async with runner, FlowExecutor(redis_url, key_prefix=PREFIX) as executor:
        await executor.replace_secrets({"STRIPE_KEY": token})
        flow = stripe_payment_request_http()
        input = {"stripe_url": stripe_url, "product_name": "Flow plan", "amount": 4200}
        final = await launch_and_watch(executor, flow, input)
        for step in await executor.get_steps(final.flow_id):
            for line in step.logs:
                print(f"  {step.step_id} log: {line}")
        price = await executor.get_step_state(final.flow_id, "create_price")
        print(f"create_price output: {price.output}")
        return final.status


def main() -> None:
    with stripe_stub() as stripe_url, redis_to_use() as url:
        status = asyncio.run(run(url, stripe_url))
    sys.exit(0 if status == FlowStatus.COMPLETED else 1)


if __name__ == "__main__":
    main()
