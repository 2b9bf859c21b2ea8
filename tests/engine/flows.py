"""Small flows the engine tests share."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from flows.engine import Flow, FlowExecutor, StepState, StepStatus, new_flow, new_step


def one_step_flow(script: str, *, name: str = "one", timeout: float = 30, retries: int = 0) -> Flow:
    step = new_step(name).script(script).timeout(timeout).retries(retries).build()
    return new_flow(f"{name}_flow").add_step(step).build()


def chain_flow(count: int, script: str = "1", name: str = "chain") -> Flow:
    builder = new_flow(name)
    for index in range(count):
        builder.add_step(new_step(f"s{index}").script(script).build())
    return builder.build()


async def wait_for_step_status(
    executor: FlowExecutor, flow_id: str, step_id: str, status: StepStatus
) -> None:
    """Wait for a step to reach `status`, woken by the run's own events (no sleeping)."""
    await wait_for_step(executor, flow_id, step_id, lambda step: step.status == status)


async def wait_for_step(
    executor: FlowExecutor, flow_id: str, step_id: str, condition: Callable[[StepState], bool]
) -> StepState:
    """Wait until the step's state meets `condition`, woken by the run's own events."""
    listener = executor.subscriptions.listener()
    try:
        await listener.listen_to([flow_id])
        while not condition(step := await executor.get_step_state(flow_id, step_id)):
            await listener.queue.get()
        return step
    finally:
        listener.close()


async def indexed_runs(executor: FlowExecutor) -> int:
    """How many runs the engine's index of runs holds, over all partitions."""
    return sum([await executor.redis.zcard(part.runs) for part in executor.keys.partitions])


def attempts_overlap(step: StepState) -> bool:
    """Whether two of the step's attempts ran at the same time (one began before another
    ended, or one never ended): a step must never run twice at once."""
    spans = sorted((attempt.started_at, attempt.finished_at) for attempt in step.attempts)
    return any(
        finished is None or finished > next_started
        for (_started, finished), (next_started, _) in itertools.pairwise(spans)
    )
