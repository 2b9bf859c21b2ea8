"""Example definitions a newcomer finds on a fresh install, written with the engine's builder."""

from __future__ import annotations

from flows.engine.builder import Flow, new_flow, new_step

STRIPE_CONFIG = """\
config = {
    "api_version": "2024-06-20",
    "currency": input.get("currency", "usd"),
}
log("configured Stripe for " + config["currency"])
config
"""

STRIPE_CONFIG_CONFIRM = """\
config = steps["stripe_config"]
confirmation = mock_api("success", payload={"confirmed": True, "currency": config["currency"]})
log("Stripe configuration confirmed")
confirmation
"""

CREATE_PRODUCT = """\
# The mock service fails on the first attempt; the step's retries absorb it.
product = mock_api("flaky", fail_times=1, payload={
    "id": "prod_123",
    "name": input.get("product_name", "Flowsite T-shirt"),
    "currency": steps["stripe_config_confirm"]["currency"],
})
log("created product " + product["id"] + " on attempt " + str(attempt))
product
"""


def stripe_payment_request() -> Flow:
    return (
        new_flow("stripe_payment_request")
        .add_step(new_step("stripe_config").script(STRIPE_CONFIG).timeout(5).retries(0).build())
        .add_step(
            new_step("stripe_config_confirm")
            .script(STRIPE_CONFIG_CONFIRM)
            .timeout(10)
            .retries(1)
            .build()
        )
        .add_step(new_step("create_product").script(CREATE_PRODUCT).timeout(10).retries(2).build())
        .build()
    )


EXAMPLES: list[tuple[Flow, str]] = [
    (
        stripe_payment_request(),
        "Configure Stripe, confirm the configuration and create a product, against the built-in "
        'mock API. Try input {"currency": "eur", "product_name": "Mug"}.',
    ),
]
