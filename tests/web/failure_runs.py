"""Real failing runs for the failure inbox's tests: a flow whose `charge` step fails with the
run's own customer id in the error, launched through the site and run by a real runner, then
archived as the web process's archiver would."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User

from flows.definitions import editing
from flows.engine.builder import Flow, Step
from flows.engine.statuses import FlowStatus
from flows.failures.inbox import FailureGroup, GroupKey, failure_groups
from flows.models import FlowDefinition
from flows.runs import launching
from tests.web.background import until_all_ended

# Every run fails at `charge` with its own customer id: one error signature for all of them,
# unless the input asks for a declined card, another signature.
CHARGE = """
if input.get("declined"):
    fail("card declined for order %d" % input["n"])
fail("No such customer: cus_%d" % input["n"])
"""
SHOP = Flow("shop", (Step("cart", '"cart %d" % input["n"]'), Step("charge", CHARGE, timeout=5)))
FIXED = '"charged " + steps["cart"]'


def define_shop() -> FlowDefinition:
    return editing.create_from_flow(SHOP)


def fail_runs(definition: FlowDefinition, inputs: list[dict]) -> list[str]:
    """Launch a run per input, each once the one before has failed (so that they fail in this
    order whatever queues the runners read first); returns their ids in order."""
    launcher, _ = User.objects.get_or_create(username="launcher")
    flow_ids = []
    for run_input in inputs:
        flow_ids.append(launching.launch(definition, run_input, launcher).flow_id)
        assert until_all_ended(flow_ids[-1:]) == [FlowStatus.FAILED]
    return flow_ids


def the_group(saying: str = "No such customer") -> FailureGroup:
    """The one shown group whose message says this."""
    [group] = [group for group in failure_groups() if saying in group.message]
    return group


def key_data(key: GroupKey) -> dict[str, str]:
    return {"flow": key.flow, "step": key.step, "signature": key.signature}


Archive = Callable[[], int]
