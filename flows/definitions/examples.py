"""Example flows a newcomer finds on a fresh install (`manage.py bootstrap`), written with the
engine's builder: the original Quick Start's Stripe payment request, against the mock API.

Imports no Django, so scripts outside the web app can build the same flow.
"""

from __future__ import annotations

import json

from flows.engine.builder import Flow, new_flow, new_step

STRIPE_CONFIG = """\
log("configuring Stripe for " + input.get("customer_email", "a customer"))
config = mock_api("success", payload = {"api_key": "sk_test_mock", "currency": "usd"})
config
"""

STRIPE_CONFIG_CONFIRM = """\
config = steps["stripe_config"]
confirmed = mock_api("flaky", fail_times = 1, payload = {"confirmed": True})
log("attempt " + str(attempt) + ": Stripe answered " + str(confirmed))
{"currency": config["currency"], "confirmed": confirmed["confirmed"]}
"""

CREATE_PRODUCT = """\
product = mock_api("slow", delay = 0.2, payload = {
    "id": "prod_mock_1",
    "name": input.get("product_name", "Sample product"),
    "price": input.get("amount", 1000),
    "currency": steps["stripe_config_confirm"]["currency"],
})
log("created product " + product["id"])
product
"""

STRIPE_SAMPLE_INPUT = {
    "customer_email": "ada@example.com",
    "product_name": "Flow plan",
    "amount": 4200,
}


def stripe_payment_request() -> Flow:
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


EXAMPLES: list[tuple[Flow, str]] = [
    (
        stripe_payment_request(),
        "Configure Stripe, confirm the configuration (the mock fails once; retries absorb it) "
        f"and create a product. Launch with input {json.dumps(STRIPE_SAMPLE_INPUT)}.",
    ),
]
