"""The flow engine: builder, executor, runner and sandbox. Imports no Django."""

from flows.engine.builder import Flow, Step, new_flow, new_step
from flows.engine.executor import FlowExecutor
from flows.engine.runner import Runner
from flows.engine.state import Attempt, FlowState, StepState
from flows.engine.statuses import FlowStatus, StepStatus
from flows.engine.store import ActionResult, RunNotFound

__all__ = [
    "ActionResult",
    "Attempt",
    "Flow",
    "FlowExecutor",
    "FlowState",
    "FlowStatus",
    "RunNotFound",
    "Runner",
    "Step",
    "StepState",
    "StepStatus",
    "new_flow",
    "new_step",
]
