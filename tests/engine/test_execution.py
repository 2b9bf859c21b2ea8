"""Runs through the executor and an in-process runner, checked against Redis itself."""

from __future__ import annotations

import json
import re
import time

import pytest

from flows.engine import FlowExecutor, FlowStatus, Runner, StepStatus, new_flow, new_step
from flows.engine.connections import async_client
from flows.engine.keys import Keys
from tests.engine.flows import one_step_flow, wait_for_step_status


async def test_a_flow_runs_to_completed_with_both_hashes_written_field_by_field(
    executor: FlowExecutor, runner: Runner, redis_url: str
):
    config = new_step("stripe_config").script("log('configuring')\n{'key': input['key']}").build()
    charge = new_step("charge").script("{'paid': steps['stripe_config']['key'] + '!'}").build()
    flow = new_flow("payment").add_step(config).add_step(charge).build()

    flow_id = await executor.execute_flow(flow, {"key": "sk_test"})
    final = await executor.wait_for_flow(flow_id, timeout=30)

    assert final.status == FlowStatus.COMPLETED
    async with async_client(redis_url, decode_responses=True) as client:
        flow_hash = await client.hgetall(executor.keys.flow(flow_id))
        step_hash = await client.hgetall(executor.keys.step(flow_id, "charge"))
        config_hash = await client.hgetall(executor.keys.step(flow_id, "stripe_config"))
    assert flow_hash["flow_id"] == flow_id
    assert flow_hash["name"] == "payment"
    assert flow_hash["status"] == "completed"
    assert flow_hash["current_step"] == "charge"
    assert json.loads(flow_hash["completed_steps"]) == ["stripe_config", "charge"]
    assert json.loads(flow_hash["input"]) == {"key": "sk_test"}
    assert flow_hash["error"] == ""
    created, started, finished = (
        float(flow_hash[f]) for f in ("created_at", "started_at", "finished_at")
    )
    assert created <= started <= finished
    assert step_hash["step_id"] == "charge"
    assert step_hash["status"] == "completed"
    assert step_hash["attempt_count"] == "1"
    assert json.loads(step_hash["output"]) == {"paid": "sk_test!"}
    assert step_hash["error"] == ""
    assert float(step_hash["started_at"]) <= float(step_hash["finished_at"])
    assert json.loads(config_hash["logs"]) == ["configuring"]


async def test_execute_flow_returns_before_any_step_runs(executor: FlowExecutor):
    flow_id = await executor.execute_flow(one_step_flow("1"))  # no runner is running

    state = await executor.get_flow_state(flow_id)
    step = await executor.get_step_state(flow_id, "one")
    assert (state.status, state.current_step, state.completed_steps) == (
        FlowStatus.CREATED,
        "one",
        [],
    )
    assert (step.status, step.attempt_count) == (StepStatus.PENDING, 0)


async def test_a_flaky_step_completes_on_its_third_attempt(executor: FlowExecutor, runner: Runner):
    flow = one_step_flow("mock_api('flaky', fail_times=2)", retries=2)

    flow_id = await executor.execute_flow(flow)
    final = await executor.wait_for_flow(flow_id, timeout=30)

    step = await executor.get_step_state(flow_id, "one")
    assert final.status == FlowStatus.COMPLETED
    assert (step.status, step.attempt_count) == (StepStatus.COMPLETED, 3)
    assert [attempt.result for attempt in step.attempts] == ["failed", "failed", "completed"]
    assert step.output == {"id": "mock_123", "status": "ok", "livemode": False}


async def test_a_failed_step_fails_the_flow_and_retry_step_resumes_from_it(
    executor: FlowExecutor, runner: Runner
):
    first = new_step("first").script("{'at': attempt}").build()
    flaky = new_step("flaky").script("mock_api('flaky', fail_times=2)").retries(1).build()
    last = new_step("last").script("steps['first']").build()
    flow = new_flow("resume").add_step(first).add_step(flaky).add_step(last).build()

    flow_id = await executor.execute_flow(flow)
    failed = await executor.wait_for_flow(flow_id, timeout=30)

    assert (failed.status, failed.current_step) == (FlowStatus.FAILED, "flaky")
    assert "step flaky failed: line 1, column 1: MockApiError" in failed.error
    assert (await executor.get_step_state(flow_id, "flaky")).attempt_count == 2
    assert (await executor.get_step_state(flow_id, "last")).status == StepStatus.PENDING

    retried = await executor.retry_step(flow_id, "flaky")
    again = await executor.retry_step(flow_id, "flaky")
    final = await executor.wait_for_flow(flow_id, timeout=30)

    assert retried.done and not again.done
    assert retried.message == "step flaky will run again"
    # The runner may already have claimed it: either way the second retry changes nothing.
    assert re.search(r"step flaky is (pending|running)", again.message)
    steps = {step.step_id: step for step in await executor.get_steps(flow_id)}
    assert final.status == FlowStatus.COMPLETED
    assert final.completed_steps == ["first", "flaky", "last"]
    assert (steps["first"].attempt_count, steps["first"].output) == (1, {"at": 1})
    assert steps["flaky"].attempt_count == 3
    assert steps["last"].output == {"at": 1}


async def test_an_endless_loop_stops_at_its_timeout_while_another_flow_keeps_running(
    executor: FlowExecutor, runner: Runner
):
    endless = one_step_flow(
        "def f():\n    for i in range(100000000):\n        for j in range(100000000):\n"
        "            pass\nf()",
        name="endless",
        timeout=1,
    )
    started = time.monotonic()
    endless_id = await executor.execute_flow(endless)
    other_id = await executor.execute_flow(one_step_flow("mock_api('slow', delay=0.2)"))

    other = await executor.wait_for_flow(other_id, timeout=30)
    stopped = await executor.wait_for_flow(endless_id, timeout=30)

    assert other.status == FlowStatus.COMPLETED
    assert stopped.status == FlowStatus.FAILED
    assert stopped.error == "step endless failed: timed out after 1s"
    assert 1.0 <= time.monotonic() - started < 5.0
    # The runner stays healthy: the next flow runs as usual.
    after = await executor.execute_flow(one_step_flow("'fine'"))
    assert (await executor.wait_for_flow(after, timeout=30)).status == FlowStatus.COMPLETED


async def test_cancel_stops_the_running_step_and_cancels_the_rest(
    executor: FlowExecutor, runner: Runner
):
    slow = new_step("slow").script("mock_api('slow', delay=20)").build()
    after = new_step("after").script("1").build()
    flow_id = await executor.execute_flow(new_flow("c").add_step(slow).add_step(after).build())
    await wait_for_step_status(executor, flow_id, "slow", StepStatus.RUNNING)

    started = time.monotonic()
    result = await executor.cancel_flow(flow_id)
    final = await executor.wait_for_flow(flow_id, timeout=30)

    assert result.done
    assert final.status == FlowStatus.CANCELLED
    steps = {step.step_id: step for step in await executor.get_steps(flow_id)}
    assert steps["slow"].status == StepStatus.CANCELLED
    assert steps["slow"].attempts[-1].result == "cancelled"
    assert steps["after"].status == StepStatus.CANCELLED
    assert not (await executor.cancel_flow(flow_id)).done
    # The runner frees the slot at once rather than sitting out the 20 s script.
    follow_up = await executor.execute_flow(one_step_flow("1"))
    follow_up_state = await executor.wait_for_flow(follow_up, timeout=30)
    assert follow_up_state.status == FlowStatus.COMPLETED
    assert time.monotonic() - started < 10


async def test_a_run_keeps_its_own_copy_of_the_definition(executor: FlowExecutor, runner: Runner):
    flow = one_step_flow("'original'")
    flow_id = await executor.execute_flow(flow)

    final = await executor.wait_for_flow(flow_id, timeout=30)

    assert final.definition == flow
    assert (await executor.get_step_state(flow_id, "one")).output == "original"


async def test_execute_flow_rejects_input_that_is_not_a_json_object(executor: FlowExecutor):
    with pytest.raises(ValueError, match="input must be a JSON object"):
        await executor.execute_flow(one_step_flow("1"), [1, 2])
    with pytest.raises(ValueError, match="input cannot be encoded as JSON"):
        await executor.execute_flow(one_step_flow("1"), {"when": object()})


async def test_wait_for_flow_times_out_when_nothing_runs_it(executor: FlowExecutor):
    flow_id = await executor.execute_flow(one_step_flow("1"))
    with pytest.raises(TimeoutError):
        await executor.wait_for_flow(flow_id, timeout=0.2)


async def test_a_key_prefix_keeps_runs_apart(redis_url: str):
    async with FlowExecutor(redis_url, key_prefix="tenant-a:") as executor:
        runner = Runner(redis_url, concurrency=1, key_prefix="tenant-a:")
        import asyncio

        task = asyncio.create_task(runner.run())
        flow_id = await executor.execute_flow(one_step_flow("1"))
        final = await executor.wait_for_flow(flow_id, timeout=30)
        runner.stop()
        await task
        assert final.status == FlowStatus.COMPLETED
        assert executor.keys.flow(flow_id).startswith("tenant-a:flow:")
        assert await executor.redis.exists(executor.keys.flow(flow_id))
        unprefixed = Keys("", executor.keys.partition_count).flow(flow_id)
        assert not await executor.redis.exists(unprefixed)
