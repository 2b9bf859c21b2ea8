"""A host project's script functions, as the tests' example (imported by the sandbox workers)."""

from __future__ import annotations

import time

from flows.engine.script_functions import script_function


@script_function
def create_invoice(customer: str, amount: int) -> dict:
    """An invoice for the customer."""
    return {"customer": customer, "amount": amount, "number": f"INV-{amount}"}


@script_function
def explode(reason: str) -> None:
    raise RuntimeError(f"shop is down: {reason}")


@script_function
def wait(seconds: float) -> str:
    time.sleep(seconds)
    return "waited"


@script_function
def not_json() -> object:
    return {1, 2}


def not_marked() -> str:
    return "hidden"
