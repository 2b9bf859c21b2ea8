"""A bad script fails only its own attempt, with a message that says what went wrong."""

from __future__ import annotations

import pytest

from flows.engine import Flow, FlowExecutor, FlowStatus, Runner, Step
from flows.engine.sandbox.one_off import run_once
from flows.engine.sandbox.starlark_runtime import ScriptRequest
from tests.engine.flows import one_step_flow

MEMORY_BOMB = "x = ['a' * 1000000 for i in range(1000)]"


@pytest.mark.parametrize(
    ("bad_first_attempt", "message"),
    [
        ("x = 1 + 'a'", "line 2, column 9: Operation `+` not supported for types `int` and"),
        ("fail('card declined')", "line 2, column 5: fail: card declined"),
        ("'a' * 2000000", "output is 1.9 MiB, over the 1 MiB limit"),
        (MEMORY_BOMB, "script ran out of memory (limit 256 MiB)"),
        ("mock_api('teapot')", "unknown mock_api scenario 'teapot': use one of success, failure"),
    ],
    ids=["runtime-error", "fail", "oversized-output", "memory-bomb", "unknown-scenario"],
)
async def test_a_bad_attempt_fails_alone_and_the_retry_succeeds(
    executor: FlowExecutor, runner: Runner, bad_first_attempt: str, message: str
):
    script = f"if attempt == 1:\n    {bad_first_attempt}\n'recovered'"
    if bad_first_attempt.startswith("'a'"):
        script = f"{bad_first_attempt} if attempt == 1 else 'recovered'"
        message = message.replace("line 2, column 5: ", "")
    neighbour_id = await executor.execute_flow(one_step_flow("'neighbour'", name="neighbour"))
    flow_id = await executor.execute_flow(one_step_flow(script, retries=1))

    final = await executor.wait_for_flow(flow_id, timeout=60)
    neighbour = await executor.wait_for_flow(neighbour_id, timeout=60)

    step = await executor.get_step_state(flow_id, "one")
    assert final.status == FlowStatus.COMPLETED
    assert neighbour.status == FlowStatus.COMPLETED
    assert step.output == "recovered"
    assert step.attempts[0].result == "failed"
    assert message in step.attempts[0].error


async def test_a_bad_step_without_retries_fails_its_flow_with_the_message(
    executor: FlowExecutor, runner: Runner
):
    flow_id = await executor.execute_flow(one_step_flow("x = {}\nx['missing']"))

    final = await executor.wait_for_flow(flow_id, timeout=30)

    assert final.status == FlowStatus.FAILED
    assert final.error.startswith(
        'step one failed: line 2, column 1: Key `"missing"` was not found'
    )


async def test_a_syntax_error_is_refused_at_launch_and_reported_by_the_sandbox(
    executor: FlowExecutor,
):
    broken = Flow("broken", (Step("one", "x = (1,"),))
    with pytest.raises(ValueError, match="line 1, column 8"):
        await executor.execute_flow(broken)

    result = await run_once(ScriptRequest(script="x = (1,"))

    assert not result.ok
    assert (result.error.line, result.error.column) == (1, 8)
