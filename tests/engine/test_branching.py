"""Flows that branch: parallel steps, joins, conditions; failure, retry and cancel in a graph."""

from __future__ import annotations

import asyncio

import pytest

from flows.engine import FlowExecutor, FlowStatus, Runner, StepStatus, new_flow, new_step
from flows.engine.builder import Step
from tests.engine.flows import wait_for_step_status


def _step(name: str, script: str, *after: str, when: str = "", retries: int = 0) -> Step:
    builder = new_step(name).script(script).retries(retries).backoff(0)
    if after:
        builder.after(*after)
    if when:
        builder.when(when)
    return builder.build()


def _flow(name: str, *steps: Step):
    builder = new_flow(name)
    for step in steps:
        builder.add_step(step)
    return builder.build()


def _overlap(first, second) -> bool:
    return first.started_at < second.finished_at and second.started_at < first.finished_at


def _diamond(left: str = "mock_api('slow', delay=0.5)\n'b'", right: str = "'c'"):
    return _flow(
        "diamond",
        _step("a", "{'n': input['n']}"),
        _step("b", left, "a"),
        _step("c", f"mock_api('slow', delay=0.5)\n{right}", "a"),
        _step("d", "[steps['a']['n'], steps['b'], steps['c']]", "b", "c"),
    )


async def test_a_diamond_runs_its_two_branches_at_once_and_joins_them(
    executor: FlowExecutor, runner: Runner
):
    flow_id = await executor.execute_flow(_diamond(), {"n": 7})
    final = await executor.wait_for_flow(flow_id, timeout=30)
    _a, b, c, d = await executor.get_steps(flow_id)

    assert final.status == FlowStatus.COMPLETED
    assert d.output == [7, "b", "c"]
    assert _overlap(b, c)
    assert d.started_at >= max(b.finished_at, c.finished_at)
    assert final.completed_steps[0] == "a" and final.completed_steps[-1] == "d"
    assert sorted(final.completed_steps) == ["a", "b", "c", "d"]
    assert final.running_steps == []
    assert final.current_step == "d"


async def test_while_branches_run_the_run_lists_its_running_steps(
    executor: FlowExecutor, runner: Runner
):
    flow_id = await executor.execute_flow(_diamond(), {"n": 1})
    await wait_for_step_status(executor, flow_id, "c", StepStatus.RUNNING)
    await wait_for_step_status(executor, flow_id, "b", StepStatus.RUNNING)

    state = await executor.get_flow_state(flow_id)

    assert sorted(state.running_steps) == ["b", "c"]
    assert state.current_step in ("b", "c")
    await executor.wait_for_flow(flow_id, timeout=30)


def _checkout():
    """charge, then notify only if declined and ship only if paid, then a receipt after both."""
    return _flow(
        "checkout",
        _step("charge", "{'status': input['status']}"),
        _step("notify", "'told a human'", "charge", when='steps["charge"]["status"] == "declined"'),
        _step("ship", "'shipped'", "charge", when='steps["charge"]["status"] == "paid"'),
        _step("receipt", "sorted(steps.keys())", "notify", "ship"),
    )


@pytest.mark.parametrize(
    ("charge", "ran", "skipped"), [("paid", "ship", "notify"), ("declined", "notify", "ship")]
)
async def test_an_if_else_skips_one_branch_and_joins_again(
    executor: FlowExecutor, runner: Runner, charge: str, ran: str, skipped: str
):
    flow_id = await executor.execute_flow(_checkout(), {"status": charge})
    final = await executor.wait_for_flow(flow_id, timeout=30)
    steps = {step.step_id: step for step in await executor.get_steps(flow_id)}

    assert final.status == FlowStatus.COMPLETED
    assert steps[ran].status == StepStatus.COMPLETED
    assert steps[skipped].status == StepStatus.SKIPPED
    assert steps[skipped].attempt_count == 0 and steps[skipped].attempts == []
    assert steps[skipped].output is None
    assert skipped not in final.completed_steps
    assert final.skipped_steps == [skipped]
    assert steps["receipt"].output == sorted(["charge", ran])


async def test_a_skipped_step_lets_the_steps_after_it_run_with_their_own_conditions(
    executor: FlowExecutor, runner: Runner
):
    flow = _flow(
        "skips",
        _step("first", "1", when="input['go']"),
        _step("second", "2", when="input['go']"),
        _step("third", "3"),
        _step("fourth", "4", when="'third' in steps"),
    )
    flow_id = await executor.execute_flow(flow, {"go": False})
    final = await executor.wait_for_flow(flow_id, timeout=30)
    statuses = [step.status for step in await executor.get_steps(flow_id)]

    assert final.status == FlowStatus.COMPLETED
    assert statuses == ["skipped", "skipped", "completed", "completed"]
    assert final.completed_steps == ["third", "fourth"]


async def test_a_condition_that_does_not_give_true_or_false_fails_its_step(
    executor: FlowExecutor, runner: Runner
):
    flow = _flow("odd", _step("a", "1", when="input['n']"))
    flow_id = await executor.execute_flow(flow, {"n": 3})
    final = await executor.wait_for_flow(flow_id, timeout=30)
    step = await executor.get_step_state(flow_id, "a")

    assert final.status == FlowStatus.FAILED
    assert step.error == "condition gave 3, not True or False"
    assert "step a failed: condition gave 3" in final.error


async def test_a_failed_branch_lets_the_running_one_finish_starts_nothing_new_and_fails_the_run(
    executor: FlowExecutor, runner: Runner
):
    flow_id = await executor.execute_flow(_diamond(left="fail('no stock')"), {"n": 1})
    final = await executor.wait_for_flow(flow_id, timeout=30)
    _a, b, c, d = await executor.get_steps(flow_id)

    # By the record, not by reading the run while c sleeps: a loaded machine may be slower.
    assert b.finished_at < c.finished_at  # b failed while c ran
    assert final.finished_at >= c.finished_at  # and the run waited for c to end
    assert final.status == FlowStatus.FAILED
    assert (final.current_step, final.running_steps) == ("b", [])
    assert "step b failed" in final.error and "no stock" in final.error
    assert (c.status, c.output) == (StepStatus.COMPLETED, "c")
    assert (d.status, d.attempt_count) == (StepStatus.PENDING, 0)


async def test_retry_in_a_graph_reruns_the_failed_step_and_goes_on_without_rerunning_the_rest(
    executor: FlowExecutor, runner: Runner
):
    flow_id = await executor.execute_flow(_diamond(left="fail('no stock')"), {"n": 1})
    assert (await executor.wait_for_flow(flow_id, timeout=30)).status == FlowStatus.FAILED

    result = await executor.retry_step(flow_id, "b", replacement=_diamond(left="'b again'"))
    final = await executor.wait_for_flow(flow_id, timeout=30)
    a, b, c, d = await executor.get_steps(flow_id)

    assert result.done
    assert final.status == FlowStatus.COMPLETED
    assert (a.attempt_count, b.attempt_count, c.attempt_count) == (1, 2, 1)
    assert d.output == [1, "b again", "c"]


async def test_two_failed_branches_need_both_retried_before_the_join_runs(
    executor: FlowExecutor, runner: Runner
):
    broken = _diamond(left="fail('left')", right="fail('right')")
    flow_id = await executor.execute_flow(broken, {"n": 1})
    await executor.wait_for_flow(flow_id, timeout=30)
    fixed = _diamond(left="'b'", right="'c'")

    await executor.retry_step(flow_id, "b", replacement=fixed)
    after_one = await executor.wait_for_flow(flow_id, timeout=30)
    await executor.retry_step(flow_id, "c", replacement=fixed)
    after_both = await executor.wait_for_flow(flow_id, timeout=30)

    assert (after_one.status, after_one.current_step) == (FlowStatus.FAILED, "c")
    assert after_both.status == FlowStatus.COMPLETED
    assert (await executor.get_step_state(flow_id, "d")).output == [1, "b", "c"]


async def test_a_replacement_must_keep_what_each_step_runs_after(executor: FlowExecutor):
    flow_id = await executor.execute_flow(_diamond(), {"n": 1})
    rewired = _flow(
        "diamond",
        _step("a", "1"),
        _step("b", "1", "a"),
        _step("c", "1", "a"),
        _step("d", "1", "b"),
    )
    with pytest.raises(ValueError, match="must keep what step 'd' runs after"):
        await executor.retry_step(flow_id, "b", replacement=rewired)


async def test_cancel_stops_both_running_branches(executor: FlowExecutor, runner: Runner):
    slow = "mock_api('slow', delay=30)\n1"
    flow = _flow("two", _step("a", "1"), _step("b", slow, "a"), _step("c", slow, "a"))
    flow_id = await executor.execute_flow(flow)
    await wait_for_step_status(executor, flow_id, "b", StepStatus.RUNNING)
    await wait_for_step_status(executor, flow_id, "c", StepStatus.RUNNING)

    await executor.cancel_flow(flow_id)
    final = await executor.wait_for_flow(flow_id, timeout=10)
    # Both of the runner's two slots come back: neither script was left to run its 30 s.
    after = await executor.execute_flow(_flow("after", _step("x", "1")))
    after_final = await executor.wait_for_flow(after, timeout=10)
    _a, b, c = await executor.get_steps(flow_id)

    assert after_final.status == FlowStatus.COMPLETED
    assert final.status == FlowStatus.CANCELLED
    assert (b.status, c.status) == (StepStatus.CANCELLED, StepStatus.CANCELLED)
    assert [attempt.result for attempt in b.attempts + c.attempts] == ["cancelled", "cancelled"]


async def test_steps_with_no_dependencies_all_start_at_once(executor: FlowExecutor, runner: Runner):
    flow = _flow(
        "fan",
        _step("left", "mock_api('slow', delay=0.5)\n'l'", *()),
        new_step("right").script("mock_api('slow', delay=0.5)\n'r'").after().build(),
        _step("join", "steps['left'] + steps['right']", "left", "right"),
    )
    flow_id = await executor.execute_flow(flow)
    final = await executor.wait_for_flow(flow_id, timeout=30)
    left, right, join = await executor.get_steps(flow_id)

    assert final.status == FlowStatus.COMPLETED
    assert _overlap(left, right)
    assert join.output == "lr"


async def test_a_run_started_before_flows_branched_finishes_on_this_engine(
    executor: FlowExecutor, redis_url: str
):
    """Its hashes lack the graph's fields and its task names no step: the first claim adds
    what is missing."""
    flow = _flow("old", _step("s0", "1"), _step("s1", "steps['s0'] + 1"), _step("s2", "3"))
    flow_id = await executor.execute_flow(flow)
    client, keys = executor.redis, executor.keys
    graph_fields = ("steps_left", "active", "running_steps", "failed_steps", "completed_count")
    await client.hdel(keys.flow(flow_id), *graph_fields)
    for name in ("s0", "s1", "s2"):
        await client.hdel(keys.step(flow_id, name), "waiting_for", "dependents")
    queue = keys.partition_of(flow_id).queue
    [(task_id, _fields)] = await client.xrange(queue)
    await client.xdel(queue, task_id)
    await client.hset(
        keys.step(flow_id, "s0"), "task", await client.xadd(queue, {"flow_id": flow_id})
    )

    runner = Runner(redis_url, concurrency=1)
    running = asyncio.create_task(runner.run())
    final = await executor.wait_for_flow(flow_id, timeout=30)
    runner.stop()
    await running

    assert final.status == FlowStatus.COMPLETED
    assert final.completed_steps == ["s0", "s1", "s2"]
    assert (await executor.get_step_state(flow_id, "s1")).output == 2
