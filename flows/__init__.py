"""Flowsite's flows. The engine API is importable from here with no Django settings configured:
`from flows import new_step, new_flow, FlowExecutor, FlowStatus, StepStatus`.
"""

from flows.engine import (
    Flow,
    FlowExecutor,
    FlowState,
    FlowStatus,
    LimitReached,
    Step,
    StepState,
    StepStatus,
    new_flow,
    new_step,
)

__all__ = [
    "Flow",
    "FlowExecutor",
    "FlowState",
    "FlowStatus",
    "LimitReached",
    "Step",
    "StepState",
    "StepStatus",
    "new_flow",
    "new_step",
]
