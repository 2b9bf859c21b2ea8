"""A step's cost does not grow with the steps before it, and every step still sees them."""

from __future__ import annotations

import pytest

from flows.engine import FlowExecutor, FlowStatus, Runner, StepStatus, new_flow, new_step
from flows.engine.sandbox.syntax import steps_read
from flows.engine.store import Claim


async def test_a_claim_carries_just_the_outputs_its_step_reads(executor: FlowExecutor):
    store = executor.store
    await store.ensure_group()
    flow = (
        new_flow("reads")
        .add_step(new_step("s0").script("'zero'").build())
        .add_step(new_step("s1").script("steps['s0'] + '!'").build())
        .add_step(new_step("s2").script("1").build())
        .build()
    )
    flow_id = await executor.execute_flow(flow)

    async def complete(step_id: str, attempt: int, runner: str, output_json: str):
        answer, _taken = await store.finish(
            task_id,
            flow_id,
            step_id,
            attempt=attempt,
            consumer=runner,
            outcome=StepStatus.COMPLETED,
            output_json=output_json,
            logs=[],
        )
        return answer

    [(task_id, _, first)] = await store.take(store.keys.partition_of(flow_id), "runner-a", 1)
    second = await complete("s0", 1, "runner-a", '"zero"')
    # A runner that takes the run over reads its context anew, with what the step reads.
    taken_over = await store.claim(task_id, flow_id, "s0", "runner-b")
    third = await complete("s1", 2, "runner-b", '"zero!"')

    assert isinstance(first, Claim) and first.context is not None
    assert first.outputs == {}
    assert isinstance(second, Claim) and second.step_id == "s1"
    assert second.context is None  # the runner keeps the run's context
    assert second.outputs == {"s0": "zero"}
    assert taken_over.step_id == "s1" and taken_over.context is not None
    assert taken_over.outputs == {"s0": "zero"}
    assert isinstance(third, Claim) and (third.step_id, third.outputs) == ("s2", {})


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
