"""The one place where flow and step status names live."""

from __future__ import annotations

from enum import StrEnum


class FlowStatus(StrEnum):
    # Waiting for a slot under a concurrency limit of its flow (concurrency.py).
    QUEUED = "queued"
    CREATED = "created"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_FLOW_STATUSES


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # Its condition was false: it did not run, and the steps after it go on.
    SKIPPED = "skipped"


FINAL_FLOW_STATUSES = frozenset({FlowStatus.COMPLETED, FlowStatus.FAILED, FlowStatus.CANCELLED})
