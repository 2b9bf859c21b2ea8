"""A step's cost does not grow with the steps before it, and every step still sees them."""

from __future__ import annotations

import pytest

from flows.engine import FlowExecutor, FlowStatus, Runner, StepStatus, new_flow, new_step
from flows.engine.sandbox.syntax import steps_read
from flows.engine.store import Claim
from tests.engine.flows import chain_flow


async def test_moving_a_run_on_hands_back_no_earlier_outputs(executor: FlowExecutor):
    store = executor.store
    await store.ensure_group()
    flow_id = await executor.execute_flow(chain_flow(3))

    [(task_id, _, first)] = await store.take("runner-a", 1)
    second = await store.finish(
        task_id,
        flow_id,
        "s0",
        attempt=1,
        consumer="runner-a",
        outcome=StepStatus.COMPLETED,
        output_json='"zero"',
        logs=[],
        known=0,
    )

    assert isinstance(first, Claim) and first.context is not None
    assert first.context.outputs == {}
    assert isinstance(second, Claim) and second.step_id == "s1"
    assert second.context is None  # the runner keeps its own copy up to date
    # A runner that takes the run over reads it all anew.
    taken_over = await store.claim(task_id, flow_id, "s0", "runner-b")
    assert taken_over.context.outputs == {"s0": "zero"}


@pytest.mark.parametrize(
    ("script", "names"),
    [
        ("1", frozenset()),
        ("steps['a']['id'] + steps.get(\"b\", 0)", frozenset({"a", "b"})),
        ("x.steps + 1", frozenset()),
        ("len(steps)", None),
        ("steps[name]", None),
        ("[s for s in steps]", None),
        ("# steps\n1", None),
    ],
)
def test_a_script_gets_only_the_outputs_it_names_and_all_when_it_may_read_any(script, names):
    assert steps_read(script) == names


async def test_every_step_sees_earlier_outputs_after_a_retry_requeues_the_run(
    executor: FlowExecutor, runner: Runner
):
    flow = (
        new_flow("resumed")
        .add_step(new_step("a").script("{'n': 1}").build())
        .add_step(new_step("b").script("fail('once') if attempt == 1 else 2").retries(1).build())
        .add_step(new_step("c").script("[steps['a']['n'], steps['b'], sorted(steps)]").build())
        .add_step(new_step("d").script("steps['c'][0] + steps['c'][1]").build())
        .build()
    )
    flow_id = await executor.execute_flow(flow)

    final = await executor.wait_for_flow(flow_id, timeout=30)

    assert final.status == FlowStatus.COMPLETED
    assert (await executor.get_step_state(flow_id, "c")).output == [1, 2, ["a", "b"]]
    assert (await executor.get_step_state(flow_id, "d")).output == 3
