"""Fix-and-resume, retention of ended runs, and the runs changed since the archive looked."""

from __future__ import annotations

import asyncio

import pytest

from flows.engine import FlowExecutor, FlowStatus, Runner, new_flow, new_step
from flows.engine.changes import ChangedRuns
from tests.engine.flows import one_step_flow


def _flow_with_broken_middle(middle_script: str):
    return (
        new_flow("fixable")
        .add_step(new_step("first").script("{'n': input['n']}").build())
        .add_step(new_step("middle").script(middle_script).build())
        .add_step(new_step("last").script("steps['middle'] * 2").build())
        .build()
    )


async def test_fix_and_resume_reruns_the_failed_step_with_the_replacement_script(
    executor: FlowExecutor, runner: Runner
):
    broken = _flow_with_broken_middle("steps['first']['n'] + 'oops'")
    flow_id = await executor.execute_flow(broken, {"n": 20})
    assert (await executor.wait_for_flow(flow_id, timeout=30)).status == FlowStatus.FAILED

    fixed = _flow_with_broken_middle("steps['first']['n'] + 1")
    result = await executor.retry_step(flow_id, "middle", replacement=fixed)
    final = await executor.wait_for_flow(flow_id, timeout=30)

    assert result.done
    assert final.status == FlowStatus.COMPLETED
    assert final.definition == fixed
    assert final.patch_count == 1
    assert (await executor.get_step_state(flow_id, "first")).attempt_count == 1
    assert (await executor.get_step_state(flow_id, "last")).output == 42


async def test_a_replacement_must_keep_the_runs_step_names(executor: FlowExecutor):
    flow_id = await executor.execute_flow(_flow_with_broken_middle("1"))
    with pytest.raises(ValueError, match="must keep the run's step names"):
        await executor.retry_step(flow_id, "middle", replacement=one_step_flow("1"))


async def test_ended_runs_expire_after_the_retention_and_retried_ones_do_not(redis_url: str):
    async with FlowExecutor(redis_url, retention_seconds=60) as executor:
        runner = Runner(redis_url, concurrency=1, retention_seconds=60)
        task = asyncio.create_task(runner.run())
        flow_id = await executor.execute_flow(one_step_flow("fail('no')"))
        await executor.wait_for_flow(flow_id, timeout=30)
        ttl_after_failure = await executor.redis.ttl(executor.keys.flow(flow_id))
        step_ttl = await executor.redis.ttl(executor.keys.step(flow_id, "one"))
        await executor.retry_step(flow_id, "one")
        ttl_while_retried = await executor.redis.ttl(executor.keys.flow(flow_id))
        runner.stop()
        await task

    assert 0 < ttl_after_failure <= 60
    assert 0 < step_ttl <= 60
    assert ttl_while_retried == -1


async def test_changed_runs_are_taken_until_forgotten_unless_they_changed_since(
    executor: FlowExecutor,
):
    changes = ChangedRuns(executor.redis, executor.keys)
    first = await executor.execute_flow(one_step_flow("1"))
    second = await executor.execute_flow(one_step_flow("1"))

    taken = await changes.take()
    await executor.cancel_flow(second)  # changes after the take
    await changes.forget(taken)
    left = await changes.take()

    assert set(taken) == {first, second}
    assert list(left) == [second]
