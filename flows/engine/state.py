"""Read-only views of a run's state: parsed from its Redis hashes (`from_hash`, the engine's
private layout), and turned into plain JSON data and back (`to_dict` / `from_dict`, the
versioned form the web app archives, which outlives any change to that layout)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

from flows.engine.builder import Flow
from flows.engine.statuses import FlowStatus, StepStatus


def _timestamp(raw: str | None) -> datetime | None:
    return datetime.fromtimestamp(float(raw), tz=UTC) if raw else None


def _json(raw: str | None, default: Any = None) -> Any:
    return json.loads(raw) if raw else default


def _plain(value: Any) -> Any:
    """A field's value as JSON data: times in ISO 8601, statuses by name, parts by to_dict."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _as_is(value: Any) -> Any:
    return value


def _required(part: Field) -> bool:
    return part.default is MISSING and part.default_factory is MISSING


class PlainData:
    """to_dict() and from_dict() by field, in field order. A time field (named *_at) is read
    back from ISO 8601; `_readers` names how any other field that is not plain JSON is. A field
    added later has a default, which from_dict gives it when reading an older form."""

    _readers: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    def to_dict(self) -> dict[str, Any]:
        return {part.name: _plain(getattr(self, part.name)) for part in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        given = [part for part in fields(cls) if part.name in data or _required(part)]
        return cls(**{part.name: cls._reader(part.name)(data[part.name]) for part in given})

    @classmethod
    def _reader(cls, name: str) -> Callable[[Any], Any]:
        return _from_iso if name.endswith("_at") else cls._readers.get(name, _as_is)


@dataclass(frozen=True)
class FlowState(PlainData):
    _readers = {"status": FlowStatus, "definition": Flow.from_dict}

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
    # The steps running now, in the order they started (current_step is one of them).
    running_steps: list[str] = field(default_factory=list)
    # The steps whose condition was false, in the order they were skipped.
    skipped_steps: list[str] = field(default_factory=list)

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
            running_steps=_json(data.get("running_steps"), []) or [],
            skipped_steps=_json(data.get("skipped_steps"), []) or [],
        )


@dataclass(frozen=True)
class Attempt(PlainData):
    """One try at a step: result is completed, failed, lost, cancelled, or '' while running."""

    number: int
    runner: str
    started_at: datetime | None
    finished_at: datetime | None = None
    result: str = ""
    error: str = ""

    @classmethod
    def from_hash_entry(cls, data: dict[str, Any]) -> Attempt:
        """One entry of a step hash's `attempts` list, as the scripts write it."""
        return cls(
            number=int(data["attempt"]),
            runner=str(data.get("runner", "")),
            started_at=_timestamp(data.get("started_at")),
            finished_at=_timestamp(data.get("finished_at")),
            result=data.get("result", ""),
            error=data.get("error", ""),
        )


@dataclass(frozen=True)
class StepState(PlainData):
    _readers = {
        "status": StepStatus,
        "attempts": lambda attempts: [Attempt.from_dict(attempt) for attempt in attempts],
    }

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
            attempts=[Attempt.from_hash_entry(a) for a in raw_attempts] if raw_attempts else [],
            created_at=_timestamp(data.get("created_at")),
            started_at=_timestamp(data.get("started_at")),
            finished_at=_timestamp(data.get("finished_at")),
            next_attempt_at=_timestamp(data.get("next_attempt_at")),
        )


# The version of RunSnapshot.to_dict()'s form. Raise it when the form changes, and teach
# from_dict to read every earlier version: archives keep them for good.
# 2: flows branch (a run's running_steps; a step may be skipped; definitions carry after/when).
RUN_DICT_VERSION = 2
READABLE_RUN_DICT_VERSIONS = frozenset({1, 2})


@dataclass(frozen=True)
class RunSnapshot:
    """A run's state and the steps a read asked for (all of them, unless it said otherwise)."""

    state: FlowState
    steps: list[StepState]

    @classmethod
    def from_hashes(
        cls, flow_hash: dict[str, str], step_hashes: list[dict[str, str]]
    ) -> RunSnapshot:
        """The run as Redis holds it: its flow hash and the step hashes read (missing ones
        empty, and left out)."""
        return cls(
            FlowState.from_hash(flow_hash),
            [StepState.from_hash(step_hash) for step_hash in step_hashes if step_hash],
        )

    def to_dict(self) -> dict[str, Any]:
        """The run as plain JSON data, stamped with its form's version: what the web app
        archives, so the archive never depends on how Redis lays a run out."""
        return {
            "version": RUN_DICT_VERSION,
            "flow": self.state.to_dict(),
            "steps": [step.to_dict() for step in self.steps],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSnapshot:
        """The run to_dict() described; ValueError for a version this engine does not know."""
        if data.get("version") not in READABLE_RUN_DICT_VERSIONS:
            raise ValueError(f"a run in form version {data.get('version')!r} is not readable here")
        return cls(
            FlowState.from_dict(data["flow"]),
            [StepState.from_dict(step) for step in data["steps"]],
        )
