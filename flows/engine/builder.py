"""Fluent builder for flows and steps, shaped like the original Rust API.

    step = new_step("stripe_config").script("...").timeout(5).retries(2).build()
    flow = new_flow("stripe_payment_request").add_step(step).build()

`build()` validates and raises ValueError naming exactly what is wrong; the Django forms and
the JSON API use the same `validate_*` functions so that a definition that saves is one that runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from flows.engine.sandbox.syntax import check_script

DEFAULT_TIMEOUT_SECONDS = 30
DEFAULT_RETRIES = 0
# Far longer than a step script needs to be; every run keeps its own copy of each script.
MAX_SCRIPT_CHARS = 50_000


@dataclass(frozen=True)
class Step:
    """One step of a flow: its name is its id, unique within the flow."""

    name: str
    script: str
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    retries: int = DEFAULT_RETRIES

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        return cls(
            name=data["name"],
            script=data["script"],
            timeout=data.get("timeout", DEFAULT_TIMEOUT_SECONDS),
            retries=data.get("retries", DEFAULT_RETRIES),
        )


@dataclass(frozen=True)
class Flow:
    """An ordered list of steps; runs keep their own copy of it."""

    name: str
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"flow {self.name!r} has no step {name!r}")

    def next_step_after(self, name: str) -> Step | None:
        names = [step.name for step in self.steps]
        position = names.index(name)
        return self.steps[position + 1] if position + 1 < len(self.steps) else None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "steps": [step.to_dict() for step in self.steps]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Flow:
        return cls(name=data["name"], steps=tuple(Step.from_dict(s) for s in data["steps"]))


def validate_name(name: str, what: str = "step") -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{what} name must not be empty")


def validate_timeout(timeout: float) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")


def validate_retries(retries: int) -> None:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a whole number of 0 or more, got {retries!r}")


def validate_script(script: str) -> None:
    """Raise ValueError with line and column when the script does not parse, or when it is
    over MAX_SCRIPT_CHARS long."""
    if len(script) > MAX_SCRIPT_CHARS:
        raise ValueError(
            f"script is {len(script):,} characters long, over the {MAX_SCRIPT_CHARS:,} allowed"
        )
    error = check_script(script)
    if error is not None:
        raise ValueError(f"script does not parse: {error}")


def validate_step(step: Step) -> None:
    validate_name(step.name)
    validate_timeout(step.timeout)
    validate_retries(step.retries)
    try:
        validate_script(step.script)
    except ValueError as error:
        raise ValueError(f"step {step.name!r}: {error}") from None


@lru_cache(maxsize=256)
def validate_flow(flow: Flow) -> None:
    """Raise ValueError naming what is wrong. Cached: a flow launched again and again (they
    are immutable) is checked once, keeping execute_flow fast."""
    _check_flow(flow)


@lru_cache(maxsize=256)
def definition_json(flow: Flow) -> str:
    """The flow as the JSON a run keeps of it (cached, like validation)."""
    return json.dumps(flow.to_dict(), separators=(",", ":"))


def _check_flow(flow: Flow) -> None:
    validate_name(flow.name, what="flow")
    if not flow.steps:
        raise ValueError(f"flow {flow.name!r} has no steps: add at least one")
    seen: set[str] = set()
    for step in flow.steps:
        if step.name in seen:
            raise ValueError(f"flow {flow.name!r} has two steps named {step.name!r}")
        seen.add(step.name)
        validate_step(step)


class StepBuilder:
    def __init__(self, name: str) -> None:
        self._name = name
        self._script = ""
        self._timeout: float = DEFAULT_TIMEOUT_SECONDS
        self._retries = DEFAULT_RETRIES

    def script(self, source: str) -> StepBuilder:
        self._script = source
        return self

    def timeout(self, seconds: float) -> StepBuilder:
        self._timeout = seconds
        return self

    def retries(self, count: int) -> StepBuilder:
        self._retries = count
        return self

    def build(self) -> Step:
        step = Step(self._name, self._script, self._timeout, self._retries)
        validate_step(step)
        return step


class FlowBuilder:
    def __init__(self, name: str) -> None:
        self._name = name
        self._steps: list[Step] = []

    def add_step(self, step: Step) -> FlowBuilder:
        self._steps.append(step)
        return self

    def build(self) -> Flow:
        flow = Flow(self._name, tuple(self._steps))
        validate_flow(flow)
        return flow


def new_step(name: str) -> StepBuilder:
    return StepBuilder(name)


def new_flow(name: str) -> FlowBuilder:
    return FlowBuilder(name)
