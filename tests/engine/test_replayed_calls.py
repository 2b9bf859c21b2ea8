"""A script sent again after its reply was lost (redis-py resends a command whose connection
dropped before the answer) changes nothing the first call did: a finish tells the runner 'lost'
(the task is taken over once its lease lapses), a launch answers as the first did."""

from __future__ import annotations

from flows.engine import FlowExecutor, FlowStatus, Runner, StepStatus, new_flow, new_step
from flows.engine.store import RUNNER_GROUP, Claim, NewRun
from tests.engine.flows import indexed_runs, one_step_flow

WAIT_SECONDS = 30.0


async def _finish_twice(executor: FlowExecutor, flow_id: str, outcome: StepStatus, **fields):
    """Take the run's first task as runner-a and finish its first step, twice over."""
    store = executor.store
    [(task_id, _, claim)] = await store.take(store.keys.partition_of(flow_id), "runner-a", 1)
    assert isinstance(claim, Claim)

    async def finish():
        answer, _taken = await store.finish(
            task_id,
            flow_id,
            claim.step_id,
            attempt=claim.attempt,
            consumer="runner-a",
            outcome=outcome,
            logs=[],
            **fields,
        )
        return answer

    return await finish(), await finish()


async def _pending_tasks(executor: FlowExecutor, flow_id: str) -> int:
    queue = executor.store.keys.partition_of(flow_id).queue
    return (await executor.redis.xpending(queue, RUNNER_GROUP))["pending"]


async def test_a_completion_sent_twice_leaves_the_next_step_to_be_taken_over(
    executor: FlowExecutor,
):
    flow = (
        new_flow("replayed")
        .add_step(new_step("first").script("1").build())
        .add_step(new_step("second").script("steps['first'] + 1").build())
        .build()
    )
    flow_id = await executor.execute_flow(flow)
    await executor.store.ensure_group()

    first_answer, replayed = await _finish_twice(
        executor, flow_id, StepStatus.COMPLETED, output_json="1"
    )

    assert isinstance(first_answer, Claim) and first_answer.step_id == "second"
    assert replayed == "lost"
    state = await executor.get_flow_state(flow_id)
    assert state.completed_steps == ["first"]
    second = await executor.get_step_state(flow_id, "second")
    assert (second.status, second.attempt_count) == (StepStatus.RUNNING, 1)
    # The task that now holds the second step is still pending, for a takeover.
    assert await _pending_tasks(executor, flow_id) == 1

    async with Runner(executor.redis_url, concurrency=1, lease_seconds=0.5):
        final = await executor.wait_for_flow(flow_id, timeout=WAIT_SECONDS)
    assert final.status == FlowStatus.COMPLETED
    second = await executor.get_step_state(flow_id, "second")
    assert second.output == 2
    assert [attempt.result for attempt in second.attempts] == ["lost", "completed"]


async def test_a_failure_sent_twice_fails_the_run_once(executor: FlowExecutor):
    flow_id = await executor.execute_flow(one_step_flow("fail('no')", name="fails_once"))
    await executor.store.ensure_group()

    first_answer, replayed = await _finish_twice(executor, flow_id, StepStatus.FAILED, error="no")

    assert (first_answer, replayed) == ("failed", "lost")
    state = await executor.get_flow_state(flow_id)
    assert state.status == FlowStatus.FAILED
    step = await executor.get_step_state(flow_id, "fails_once")
    assert (step.status, [attempt.result for attempt in step.attempts]) == (
        StepStatus.FAILED,
        ["failed"],
    )
    assert await _pending_tasks(executor, flow_id) == 0


async def test_a_launch_sent_twice_makes_one_run_and_both_calls_started_it(
    executor: FlowExecutor,
):
    flow = one_step_flow("1", name="launched_once")
    run = NewRun(executor.keys.new_run_id(), flow, '{"n": 1}', "{}")

    answers = [await executor.store.create(run), await executor.store.create(run)]

    assert answers == [(run.flow_id, True)] * 2
    assert await indexed_runs(executor) == 1
    queue = executor.keys.partition_of(run.flow_id).queue
    assert await executor.redis.xlen(queue) == 1  # one task for its first step
