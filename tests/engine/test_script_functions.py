"""Script functions from the host project, called from steps run by a real runner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from flows.engine import FlowExecutor, FlowStatus, Runner, StepStatus
from flows.engine.script_functions import load, unknown_call
from tests.engine.flows import one_step_flow

MODULES = ("shop=tests.engine.shop_functions", "text=flows.script_functions.text")


@pytest.fixture
async def shop_runner(redis_url: str) -> AsyncIterator[Runner]:
    runner = Runner(redis_url, concurrency=2, lease_seconds=1.0, script_modules=MODULES)
    task = asyncio.create_task(runner.run(), name="shop-runner")
    yield runner
    runner.stop()
    await task


async def _run(executor: FlowExecutor, script: str, timeout: float = 30):
    flow_id = await executor.execute_flow(one_step_flow(script, timeout=timeout))
    await executor.wait_for_flow(flow_id, timeout=60)
    return await executor.get_step_state(flow_id, "one")


async def test_a_step_calls_the_host_projects_functions_with_json_values(
    executor: FlowExecutor, shop_runner: Runner
):
    step = await _run(executor, 'shop.create_invoice(input.get("c", "acme"), 42)')

    assert step.status == StepStatus.COMPLETED
    assert step.output == {"customer": "acme", "amount": 42, "number": "INV-42"}


async def test_the_shipped_text_module_works_in_a_step(executor: FlowExecutor, shop_runner):
    step = await _run(executor, 'text.slugify("Crème Brûlée, 2 pots!")')

    assert step.output == "creme-brulee-2-pots"


async def test_an_error_inside_a_function_fails_the_attempt_with_its_line(
    executor: FlowExecutor, shop_runner: Runner
):
    step = await _run(executor, 'x = 1\nshop.explode("maintenance")')

    assert step.status == StepStatus.FAILED
    assert step.error == "line 2, column 1: shop.explode: shop is down: maintenance"


async def test_a_function_that_outlives_the_step_times_out(
    executor: FlowExecutor, shop_runner: Runner
):
    step = await _run(executor, "shop.wait(30)", timeout=0.5)

    assert step.status == StepStatus.FAILED
    assert "timed out after 0.5s" in step.error


async def test_a_result_json_cannot_hold_fails_the_attempt(
    executor: FlowExecutor, shop_runner: Runner
):
    step = await _run(executor, "shop.not_json()")

    assert "shop.not_json returned what JSON cannot hold" in step.error


async def test_only_marked_functions_are_reachable(executor: FlowExecutor, shop_runner: Runner):
    step = await _run(executor, "shop.not_marked()")

    assert step.status == StepStatus.FAILED
    assert "not_marked" in step.error
    assert (await executor.get_flow_state(step.flow_id)).status == FlowStatus.FAILED


def test_the_check_flags_an_unknown_function_with_its_line():
    problem = unknown_call('x = shop.create_invoice("a", 1)\nshop.refund(1)', load(MODULES))

    assert (problem.line, problem.column) == (2, 1)
    assert problem.message.startswith("shop has no function refund (it has create_invoice,")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.engine.no_such_module", "cannot be imported"),
        ("flows.engine.keys", "has no @script_function"),
        ("http=tests.engine.shop_functions", "'http' cannot be its alias"),
    ],
)
def test_a_module_that_cannot_serve_is_refused_naming_it(spec: str, message: str):
    with pytest.raises(ValueError, match=message):
        load([spec])
