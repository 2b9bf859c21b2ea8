"""What a step may ask for is bounded, its retries wait, and what it produces is capped."""

from __future__ import annotations

import asyncio
import math
import os
import signal

import psutil
import pytest

from flows.engine import (
    Flow,
    FlowExecutor,
    FlowStatus,
    Runner,
    Step,
    StepState,
    StepStatus,
    new_step,
)
from flows.engine.builder import StepLimits, set_step_limits, step_limits
from flows.engine.sandbox import pool
from flows.engine.sandbox.limits import MAX_ERROR_BYTES, MAX_LOG_BYTES
from flows.engine.sandbox.one_off import run_once
from flows.engine.sandbox.pool import WorkerPool
from flows.engine.sandbox.starlark_runtime import ScriptRequest
from tests.engine.flows import one_step_flow, wait_for_step


def _waiting_to_retry(step: StepState) -> bool:
    return step.status == StepStatus.PENDING and step.next_attempt_at is not None


TWENTY_MIB_FAIL = "fail('x' * 20 * 1024 * 1024)"
WIDE_LOGS = "for i in range(1001):\n    log('é' * 4000)\n'logged'"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: new_step("a").script("1").timeout(3601), r"timeout must be at most 3600 seconds"),
        (lambda: new_step("a").script("1").timeout(1e9), r"timeout must be at most 3600 seconds"),
        (lambda: new_step("a").script("1").timeout(math.inf), "timeout must be a positive"),
        (lambda: new_step("a").script("1").timeout(math.nan), "timeout must be a positive"),
        (lambda: new_step("a").script("1").retries(26), r"retries must be at most 25"),
        (lambda: new_step("a").script("1").retries(2**63 - 1), r"retries must be at most 25"),
        (lambda: new_step("a").script("1").backoff(math.nan), "backoff base must be 0 to 300"),
        (lambda: new_step("a").script("1").backoff(1, 0.5), "backoff factor must be 1 to 10"),
    ],
)
def test_a_step_asking_past_the_site_maxima_is_refused_naming_field_and_maximum(build, message):
    with pytest.raises(ValueError, match=message):
        build().build()


def test_the_site_maxima_can_be_changed_and_bind_every_path_into_a_run():
    flow = Flow("f", (Step("a", "1", timeout=7200),))
    before = step_limits()
    set_step_limits(StepLimits(max_timeout_seconds=7200, max_retries=100))
    try:
        assert new_step("a").script("1").timeout(7200).retries(100).build().retries == 100
        Flow.from_dict(flow.to_dict())
    finally:
        set_step_limits(before)
    with pytest.raises(ValueError, match="timeout must be at most 3600 seconds"):
        new_step("a").script("1").timeout(7200).build()


def test_definitions_stored_before_backoff_load_with_its_defaults():
    step = Step.from_dict({"name": "a", "script": "1", "timeout": 5, "retries": 2})

    assert (step.backoff_base, step.backoff_factor) == (1.0, 2.0)
    assert [step.backoff_seconds(failures) for failures in (1, 2, 3, 20)] == [1, 2, 4, 300]


async def test_a_failed_attempt_waits_its_backoff_and_shows_when_it_runs_again(
    executor: FlowExecutor, runner: Runner
):
    step = new_step("one").script("mock_api('flaky', fail_times=1)").retries(1).backoff(2, 2)
    flow_id = await executor.execute_flow(Flow("f", (step.build(),)))
    waiting = await wait_for_step(executor, flow_id, "one", _waiting_to_retry)

    final = await executor.wait_for_flow(flow_id, timeout=30)

    first, second = (await executor.get_step_state(flow_id, "one")).attempts
    assert final.status == FlowStatus.COMPLETED
    delay = (waiting.next_attempt_at - first.finished_at).total_seconds()
    assert 1.0 <= delay <= 2.0  # 2 s less up to half of it at random
    assert (second.started_at - first.finished_at).total_seconds() >= delay - 0.01


async def test_a_step_waiting_to_retry_holds_no_runner_slot(executor: FlowExecutor, redis_url):
    runner = Runner(redis_url, concurrency=1, lease_seconds=1.0)
    task = asyncio.create_task(runner.run())
    try:
        waiting = one_step_flow("fail('no')", name="waits", retries=1)
        waiting_id = await executor.execute_flow(waiting)
        await wait_for_step(executor, waiting_id, "waits", _waiting_to_retry)

        other_id = await executor.execute_flow(one_step_flow("'done'", name="other"))
        other = await executor.wait_for_flow(other_id, timeout=30)

        assert other.status == FlowStatus.COMPLETED
        assert (await executor.get_flow_state(waiting_id)).status == FlowStatus.RUNNING
    finally:
        runner.stop()
        await task


async def test_a_retry_outlives_the_runner_that_scheduled_it(executor: FlowExecutor, redis_url):
    script = "fail('first') if attempt == 1 else attempt"
    # Waiting 1.5 to 3 s: the first runner has long stopped when the retry falls due.
    flow = Flow("f", (Step("one", script, retries=1, backoff_base=3),))
    first = Runner(redis_url, concurrency=1, lease_seconds=1.0)
    first_task = asyncio.create_task(first.run())
    flow_id = await executor.execute_flow(flow)
    await wait_for_step(executor, flow_id, "one", _waiting_to_retry)
    first.stop()
    await first_task

    second = Runner(redis_url, concurrency=1, lease_seconds=1.0)
    second_task = asyncio.create_task(second.run())
    try:
        final = await executor.wait_for_flow(flow_id, timeout=30)
    finally:
        second.stop()
        await second_task
    step = await executor.get_step_state(flow_id, "one")
    assert final.status == FlowStatus.COMPLETED
    assert step.output == 2
    assert [attempt.runner for attempt in step.attempts] == [first.name, second.name]


async def test_a_step_keeps_its_last_50_attempts_and_counts_them_all(
    executor: FlowExecutor, runner: Runner
):
    flow = Flow("f", (Step("one", "fail('again')", retries=25, backoff_base=0),))
    flow_id = await executor.execute_flow(flow)
    await executor.wait_for_flow(flow_id, timeout=60)
    await executor.retry_step(flow_id, "one")
    final = await executor.wait_for_flow(flow_id, timeout=60)

    step = await executor.get_step_state(flow_id, "one")
    assert final.status == FlowStatus.FAILED
    assert step.attempt_count == 52
    assert [attempt.number for attempt in step.attempts] == list(range(3, 53))


@pytest.mark.parametrize("script", [TWENTY_MIB_FAIL, "x = {}\nx['k' * 10000000]"])
async def test_a_huge_error_fails_the_attempt_with_the_message_cut(
    executor: FlowExecutor, runner: Runner, script: str
):
    flow_id = await executor.execute_flow(one_step_flow(script))

    final = await executor.wait_for_flow(flow_id, timeout=60)

    step = await executor.get_step_state(flow_id, "one")
    assert final.status == FlowStatus.FAILED
    assert step.attempts[0].result == "failed"
    assert len(step.error.encode()) <= MAX_ERROR_BYTES
    assert step.error.endswith(" bytes)") and "cut from" in step.error


async def test_a_thousand_wide_log_lines_are_kept_within_their_caps(
    executor: FlowExecutor, runner: Runner
):
    flow_id = await executor.execute_flow(one_step_flow(WIDE_LOGS))

    final = await executor.wait_for_flow(flow_id, timeout=60)

    step = await executor.get_step_state(flow_id, "one")
    assert final.status == FlowStatus.COMPLETED
    assert step.output == "logged"
    assert len(step.logs) == 1001 and step.logs[-1] == "(log truncated after 1,000 lines)"
    assert all(len(line.encode()) <= 4000 for line in step.logs)
    assert sum(len(line.encode()) for line in step.logs) <= MAX_LOG_BYTES


@pytest.mark.parametrize("script", [TWENTY_MIB_FAIL, WIDE_LOGS])
async def test_a_test_run_answers_huge_results_within_the_caps(script: str):
    result = await run_once(ScriptRequest(script=script))

    assert result.ok == (script == WIDE_LOGS)
    assert result.ok or "cut from 20,971,526 bytes" in result.error.message


async def test_an_answer_over_the_pipe_limit_is_a_failed_attempt_not_a_lost_runner(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(pool, "PIPE_LIMIT_BYTES", 1024 * 1024)

    # Both within their caps (1 MiB of output, 4,000-byte log lines), over 1 MiB together.
    script = "for i in range(5):\n    log('x' * 3000)\n'y' * 1040000"
    result = await run_once(ScriptRequest(script=script))

    assert not result.ok
    assert result.error.message == "the script's result was over the 1 MiB limit"


async def test_a_worker_killed_by_a_signal_is_reported_as_a_crash_not_as_memory():
    others = set(psutil.Process().children())  # a test cluster's servers, say
    workers = WorkerPool(1)
    await workers.start()
    try:
        [worker] = set(psutil.Process().children()) - others
        script = "def f():\n    for i in range(100000000):\n        pass\nf()"
        attempt = asyncio.create_task(workers.run(ScriptRequest(script=script, timeout=30)))
        os.kill(worker.pid, signal.SIGSEGV)
        result = await attempt
    finally:
        await workers.close()

    assert result.error.message == "sandbox worker crashed with signal SIGSEGV"


@pytest.mark.parametrize("value", ["float('nan')", "[1, {'a': float('inf')}]", "-1e308 * 10"])
async def test_a_nan_or_infinite_output_fails_the_attempt(value: str):
    result = await run_once(ScriptRequest(script=f"x = 1\n{value}"))

    assert not result.ok
    assert result.error.message == "output contains NaN or Infinity, which JSON cannot store"
