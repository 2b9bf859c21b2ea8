"""The flow engine: builder, executor, runner and sandbox. Imports no Django."""

from flows.engine.builder import Flow, Step, new_flow, new_step
from flows.engine.concurrency import ConcurrencyLimit, LimitReached
from flows.engine.executor import FlowExecutor
from flows.engine.reads import Steps
from flows.engine.runner import Runner
from flows.engine.runner_settings import RunnerSettings
from flows.engine.state import Attempt, FlowState, RunSnapshot, StepState
from flows.engine.statuses import FlowStatus, StepStatus
from flows.engine.store import ActionResult, RunNotFound

__all__ = [
    "ActionResult",
    "Attempt",
    "ConcurrencyLimit",
    "Flow",
    "FlowExecutor",
    "FlowState",
    "FlowStatus",
    "LimitReached",
    "RunNotFound",
    "RunSnapshot",
    "Runner",
    "RunnerSettings",
    "Step",
    "StepState",
    "StepStatus",
    "Steps",
    "new_flow",
    "new_step",
]
