"""Separate runner processes sharing work through Redis, dying, and stopping gracefully."""

from __future__ import annotations

import asyncio
import signal
import subprocess

from flows.engine import FlowExecutor, FlowStatus, StepStatus, new_flow, new_step
from tests.engine.flows import chain_flow, wait_for_step_status


def _slow_then_quick(delay: float):
    slow = new_step("slow").script(f"mock_api('slow', delay={delay})\n'slow done'").build()
    quick = new_step("quick").script("steps['slow'] + ', quick done'").build()
    return new_flow("slow_then_quick").add_step(slow).add_step(quick).build()


async def _exit_code(process: subprocess.Popen) -> int:
    return await asyncio.to_thread(process.wait)


async def test_a_runner_killed_mid_step_loses_nothing(executor: FlowExecutor, start_runner_process):
    doomed = start_runner_process(concurrency=1, lease_seconds=1.0)
    flow_id = await executor.execute_flow(_slow_then_quick(delay=2))
    await wait_for_step_status(executor, flow_id, "slow", StepStatus.RUNNING)

    doomed.send_signal(signal.SIGKILL)
    await _exit_code(doomed)
    start_runner_process(concurrency=1, lease_seconds=1.0)
    final = await executor.wait_for_flow(flow_id, timeout=60)

    slow = await executor.get_step_state(flow_id, "slow")
    assert final.status == FlowStatus.COMPLETED
    assert slow.attempt_count == 2
    assert [attempt.result for attempt in slow.attempts] == ["lost", "completed"]
    assert slow.attempts[0].runner != slow.attempts[1].runner
    assert (await executor.get_step_state(flow_id, "quick")).output == "slow done, quick done"


async def test_two_runner_processes_complete_200_flows_of_5_steps_each_exactly_once(
    executor: FlowExecutor, start_runner_process
):
    start_runner_process(concurrency=2)
    start_runner_process(concurrency=2)
    flow = chain_flow(5, script="{'attempt': attempt}")

    flow_ids = [await executor.execute_flow(flow) for _ in range(200)]
    finals = [await executor.wait_for_flow(flow_id, timeout=120) for flow_id in flow_ids]

    assert {final.status for final in finals} == {FlowStatus.COMPLETED}
    runners: set[str] = set()
    for flow_id in flow_ids:
        for step in await executor.get_steps(flow_id):
            assert (step.status, step.attempt_count, step.output) == (
                StepStatus.COMPLETED,
                1,
                {"attempt": 1},
            )
            runners.add(step.attempts[0].runner)
    assert len(runners) == 2


async def test_two_runner_processes_start_each_join_of_500_branching_runs_exactly_once(
    executor: FlowExecutor, start_runner_process
):
    """Three branches end at nearly the same moment on different runners; each run's join
    must start once, after all three, and see all their outputs."""
    start_runner_process(concurrency=4)
    start_runner_process(concurrency=4)
    flow = (
        new_flow("fan_in")
        .add_step(new_step("start").script("input['n']").build())
        .add_step(new_step("x").script("steps['start'] + 1").after("start").build())
        .add_step(new_step("y").script("steps['start'] + 2").after("start").build())
        .add_step(new_step("z").script("steps['start'] + 3").after("start").build())
        .add_step(
            new_step("join")
            .script("[steps['x'], steps['y'], steps['z']]")
            .after("x", "y", "z")
            .build()
        )
        .build()
    )

    flow_ids = await executor.execute_flows(flow, [{"n": n} for n in range(500)])
    finals = await executor.wait_for_flows(flow_ids, timeout=180)

    assert {final.status for final in finals} == {FlowStatus.COMPLETED}
    runners: set[str] = set()
    for n, flow_id in enumerate(flow_ids):
        steps = {step.step_id: step for step in await executor.get_steps(flow_id)}
        assert {step.attempt_count for step in steps.values()} == {1}
        assert steps["join"].output == [n + 1, n + 2, n + 3]
        assert steps["join"].started_at >= max(steps[b].finished_at for b in "xyz")
        runners.update(step.attempts[0].runner for step in steps.values())
    assert len(runners) == 2


async def test_sigterm_lets_the_running_step_finish_then_exits_zero(
    executor: FlowExecutor, start_runner_process
):
    stopping = start_runner_process(concurrency=1, lease_seconds=1.0)
    flow_id = await executor.execute_flow(_slow_then_quick(delay=2.5))
    await wait_for_step_status(executor, flow_id, "slow", StepStatus.RUNNING)
    start_runner_process(concurrency=1, lease_seconds=1.0)

    stopping.send_signal(signal.SIGTERM)

    assert await _exit_code(stopping) == 0
    final = await executor.wait_for_flow(flow_id, timeout=60)
    slow = await executor.get_step_state(flow_id, "slow")
    # The stopping runner kept its lease while finishing: nobody ran the step twice.
    assert (slow.status, slow.attempt_count) == (StepStatus.COMPLETED, 1)
    assert final.status == FlowStatus.COMPLETED


async def test_sigterm_hands_back_a_step_that_outlasts_the_grace_period(
    executor: FlowExecutor, start_runner_process
):
    runner = start_runner_process(1, 1.0, "--shutdown-grace", "0.2")
    flow_id = await executor.execute_flow(_slow_then_quick(delay=60))
    await wait_for_step_status(executor, flow_id, "slow", StepStatus.RUNNING)

    runner.send_signal(signal.SIGTERM)

    assert await _exit_code(runner) == 0

    slow = await executor.get_step_state(flow_id, "slow")
    assert (slow.status, slow.attempt_count, slow.attempts) == (StepStatus.PENDING, 0, [])
    assert await executor.redis.xlen(executor.keys.partition_of(flow_id).queue) == 1
