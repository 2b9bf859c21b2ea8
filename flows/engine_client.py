"""The Django side's door to the engine: one short-lived FlowExecutor per call.

Views are synchronous; each helper runs its coroutine with async_to_sync and always closes the
executor's Redis connections before returning.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from asgiref.sync import async_to_sync
from django.conf import settings

from flows.engine.builder import Flow
from flows.engine.executor import FlowExecutor
from flows.engine.keys import Keys
from flows.engine.sandbox.one_off import run_once
from flows.engine.sandbox.starlark_runtime import ScriptRequest, ScriptResult
from flows.engine.state import FlowState, StepState
from flows.engine.statuses import FINAL_FLOW_STATUSES, StepStatus
from flows.engine.store import ActionResult, RunNotFound

T = TypeVar("T")


def _with_executor(work: Callable[[FlowExecutor], Awaitable[T]]) -> T:
    async def run() -> T:
        async with FlowExecutor(
            settings.REDIS_URL,
            key_prefix=settings.FLOWS_KEY_PREFIX,
            retention_seconds=settings.FLOWS_RETENTION_SECONDS,
        ) as executor:
            return await work(executor)

    return async_to_sync(run)()


def launch(flow: Flow, input: dict[str, Any], meta: dict[str, Any]) -> str:
    """Queue a run and return its flow id; ValueError if the input is not a JSON object."""
    return _with_executor(lambda executor: executor.execute_flow(flow, input, meta=meta))


@dataclass(frozen=True)
class RunSnapshot:
    state: FlowState
    steps: list[StepState]


def read_run(flow_id: str) -> RunSnapshot:
    """The run's state and its steps; raises RunNotFound."""

    async def read(executor: FlowExecutor) -> RunSnapshot:
        state = await executor.get_flow_state(flow_id)
        return RunSnapshot(state, await executor.get_steps(flow_id))

    return _with_executor(read)


@functools.cache
def reader() -> redis.Redis:
    """A pooled synchronous client for plain reads on hot paths (page loads, connecting
    sockets), sparing them an event loop and a new connection each."""
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)


def run_statuses(flow_ids: list[str]) -> dict[str, str]:
    """Status of each run in one round trip; runs no longer in Redis are left out."""
    if not flow_ids:
        return {}
    keys = Keys(settings.FLOWS_KEY_PREFIX)
    with reader().pipeline(transaction=False) as pipe:
        for flow_id in flow_ids:
            pipe.hget(keys.flow(flow_id), "status")
        statuses = pipe.execute()
    return {fid: status for fid, status in zip(flow_ids, statuses, strict=True) if status}


def run_samples(flow_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A run's input and the outputs of its completed steps, as sample data for a test run."""
    try:
        run = read_run(flow_id)
    except RunNotFound:
        return {}, {}
    completed = [step for step in run.steps if step.status == StepStatus.COMPLETED]
    outputs = {step.step_id: step.output for step in completed}
    return run.state.input, outputs


def active_run_ids(flow_ids: list[str]) -> list[str]:
    """The runs among these that have not finished yet."""
    final = {str(status) for status in FINAL_FLOW_STATUSES}
    return [fid for fid, status in run_statuses(flow_ids).items() if status not in final]


def retry_step(flow_id: str, step_id: str, replacement: Flow | None = None) -> ActionResult:
    """Resume a failed run from its failed step (with a replacement definition: fix and resume).

    A step that is not failed is left alone and the result says why: double clicks are safe.
    Raises RunNotFound, and ValueError for a replacement that does not fit the run."""
    return _with_executor(
        lambda executor: executor.retry_step(flow_id, step_id, replacement=replacement)
    )


def cancel_run(flow_id: str) -> ActionResult:
    """Cancel a live run; an ended run is left alone and the result says so."""
    return _with_executor(lambda executor: executor.cancel_flow(flow_id))


def run_script_once(request: ScriptRequest) -> ScriptResult:
    """Run one script in the runner's sandbox, in a throwaway worker, without creating a run."""
    return async_to_sync(run_once)(request)
