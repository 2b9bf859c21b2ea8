"""Example flows a newcomer finds on a fresh install (`manage.py bootstrap`), written with the
engine's builder, against the mock API: the original Quick Start's Stripe payment request, and
a checkout that branches (charge and reserve stock at once, then ship or notify, then a receipt).

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


CHARGE = """\
paid = input.get("card", "") == "4242 4242 4242 4242"
charge = mock_api("slow", delay = 0.3, payload = {"status": "paid" if paid else "declined"})
log("charge " + charge["status"])
charge
"""

RESERVE = """\
reserved = mock_api("slow", delay = 0.3, payload = {"items": input.get("items", [])})
log("reserved " + str(len(reserved["items"])) + " item(s)")
reserved
"""

SHIP = """\
{"shipped": steps["reserve"]["items"]}
"""

NOTIFY = """\
log("telling a human: the card was declined")
{"notified": True}
"""

RECEIPT = """\
shipped = steps.get("ship")
{"charge": steps["charge"]["status"], "shipped": shipped["shipped"] if shipped else []}
"""

CHECKOUT_SAMPLE_INPUT = {"card": "4242 4242 4242 4242", "items": ["flow plan"]}


def checkout() -> Flow:
    """charge and reserve at the same time; ship if paid, notify if declined; then a receipt."""
    paid = 'steps["charge"]["status"] == "paid"'
    return (
        new_flow("checkout")
        .add_step(new_step("charge").script(CHARGE).timeout(5).build())
        .add_step(new_step("reserve").script(RESERVE).timeout(5).after().build())
        .add_step(new_step("ship").script(SHIP).after("charge", "reserve").when(paid).build())
        .add_step(new_step("notify").script(NOTIFY).after("charge").when(f"not ({paid})").build())
        .add_step(new_step("receipt").script(RECEIPT).after("ship", "notify").build())
        .build()
    )


EXAMPLES: list[tuple[Flow, str]] = [
    (
        stripe_payment_request(),
        "Configure Stripe, confirm the configuration (the mock fails once; retries absorb it) "
        f"and create a product. Launch with input {json.dumps(STRIPE_SAMPLE_INPUT)}.",
    ),
    (
        checkout(),
        "Charge the card and reserve stock at the same time; ship if the charge was paid, "
        "notify a human if it was declined; then send a receipt. Launch with input "
        f"{json.dumps(CHECKOUT_SAMPLE_INPUT)}, or another card to see it declined.",
    ),
]
