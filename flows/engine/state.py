"""Read-only views of a run's state as stored in Redis."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flows.engine.builder import Flow
from flows.engine.statuses import FlowStatus, StepStatus


def _timestamp(raw: str | None) -> datetime | None:
    return datetime.fromtimestamp(float(raw), tz=UTC) if raw else None


def _json(raw: str | None, default: Any = None) -> Any:
    return json.loads(raw) if raw else default


@dataclass(frozen=True)
class FlowState:
    flow_id: str
    name: str
    status: FlowStatus
    current_step: str
    completed_steps: list[str]
    input: dict[str, Any]
    error: str
    definition: Flow
    meta: dict[str, Any]
    patch_count: int
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_hash(cls, data: dict[str, str]) -> FlowState:
        return cls(
            flow_id=data["flow_id"],
            name=data["name"],
            status=FlowStatus(data["status"]),
            current_step=data.get("current_step", ""),
            completed_steps=_json(data.get("completed_steps"), []),
            input=_json(data.get("input"), {}),
            error=data.get("error", ""),
            definition=Flow.from_dict(json.loads(data["definition"])),
            meta=_json(data.get("meta"), {}),
            patch_count=int(data.get("patched") or 0),
            created_at=_timestamp(data.get("created_at")),
            started_at=_timestamp(data.get("started_at")),
            finished_at=_timestamp(data.get("finished_at")),
            updated_at=_timestamp(data.get("updated_at")),
        )


@dataclass(frozen=True)
class Attempt:
    """One try at a step: result is completed, failed, lost, cancelled, or '' while running."""

    number: int
    runner: str
    started_at: datetime | None
    finished_at: datetime | None = None
    result: str = ""
    error: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attempt:
        return cls(
            number=int(data["attempt"]),
            runner=str(data.get("runner", "")),
            started_at=_timestamp(data.get("started_at")),
            finished_at=_timestamp(data.get("finished_at")),
            result=data.get("result", ""),
            error=data.get("error", ""),
        )


@dataclass(frozen=True)
class StepState:
    flow_id: str
    step_id: str
    status: StepStatus
    attempt_count: int
    output: Any
    error: str
    logs: list[str]
    attempts: list[Attempt] = field(default_factory=list)
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # When a step waiting to be retried (status pending) is due to run again.
    next_attempt_at: datetime | None = None

    @classmethod
    def from_hash(cls, data: dict[str, str]) -> StepState:
        raw_attempts = _json(data.get("attempts"), [])
        return cls(
            flow_id=data["flow_id"],
            step_id=data["step_id"],
            status=StepStatus(data["status"]),
            attempt_count=int(data.get("attempt_count") or 0),
            output=_json(data.get("output")),
            error=data.get("error", ""),
            logs=_json(data.get("logs"), []),
            # cjson writes an empty list as {}.
            attempts=[Attempt.from_dict(a) for a in raw_attempts] if raw_attempts else [],
            created_at=_timestamp(data.get("created_at")),
            started_at=_timestamp(data.get("started_at")),
            finished_at=_timestamp(data.get("finished_at")),
            next_attempt_at=_timestamp(data.get("next_attempt_at")),
        )
