"""Fluent builder for flows and steps, shaped like the original Rust API.

    step = new_step("stripe_config").script("...").timeout(5).retries(2).build()
    flow = new_flow("stripe_payment_request").add_step(step).build()

A flow is a graph: `new_step("receipt").after("charge", "reserve")` runs once both have ended,
`.when('steps["charge"]["status"] == "declined"')` runs only if the condition holds (else the
step is Skipped). A step with no `.after(...)` runs after the step before it, so a flow built
without either is the straight line it always was.

`build()` validates and raises ValueError naming exactly what is wrong; the Django forms and
the JSON API use the same `validate_*` functions so that a definition that saves is one that runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from flows.engine.allow_list import parse_allow_list
from flows.engine.concurrency import QUEUE, ConcurrencyLimit, validate_limits
from flows.engine.sandbox.syntax import check_condition, check_script
from flows.engine.secrets import secret_names

DEFAULT_TIMEOUT_SECONDS = 30
DEFAULT_RETRIES = 0
# Far longer than a step script needs to be; every run keeps its own copy of each script.
MAX_SCRIPT_CHARS = 50_000
# Between attempts a step waits backoff_base * backoff_factor ** (failures - 1) seconds, at most
# MAX_BACKOFF_SECONDS, less a random part of up to half (jitter: retries of many runs that failed
# together do not all come back at once). A base of 0 retries at once.
DEFAULT_BACKOFF_BASE_SECONDS = 1.0
DEFAULT_BACKOFF_FACTOR = 2.0
MAX_BACKOFF_SECONDS = 300.0
MAX_BACKOFF_FACTOR = 10.0


@dataclass(frozen=True)
class StepLimits:
    """The site's maxima for what a step may ask for: a step holds a runner slot for up to its
    timeout, and each attempt costs a sandbox run. The web app sets them from
    FLOWS_MAX_STEP_TIMEOUT and FLOWS_MAX_RETRIES (set_step_limits)."""

    max_timeout_seconds: float = 3600.0
    max_retries: int = 25


_limits = StepLimits()


def step_limits() -> StepLimits:
    return _limits


def set_step_limits(limits: StepLimits) -> None:
    """Replace the maxima every validator below checks (once, at start-up)."""
    global _limits
    _limits = limits
    validate_flow.cache_clear()


@dataclass(frozen=True)
class Step:
    """One step of a flow: its name is its id, unique within the flow."""

    name: str
    script: str
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    retries: int = DEFAULT_RETRIES
    backoff_base: float = DEFAULT_BACKOFF_BASE_SECONDS
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR
    # The steps it runs after; None: the step before it in the flow (none for the first).
    after: tuple[str, ...] | None = None
    # A Starlark expression over `input` and `steps`; when false the step is Skipped.
    when: str = ""

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    def backoff_seconds(self, failures: int) -> float:
        """The nominal wait before the next attempt after `failures` failed ones (jitter aside)."""
        if self.backoff_base <= 0:
            return 0.0
        exponent = min(failures - 1, 64)  # past this the cap has long been reached
        return min(self.backoff_base * self.backoff_factor**exponent, MAX_BACKOFF_SECONDS)

    def to_dict(self) -> dict[str, Any]:
        """Without `after` and `when` when unset: a straight-line flow's definition is the
        same JSON it was before flows could branch."""
        data = asdict(self)
        if self.after is None:
            del data["after"]
        else:
            data["after"] = list(self.after)
        if not self.when:
            del data["when"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        after = data.get("after")
        return cls(
            name=data["name"],
            script=data["script"],
            timeout=data.get("timeout", DEFAULT_TIMEOUT_SECONDS),
            retries=data.get("retries", DEFAULT_RETRIES),
            # Definitions stored before backoff existed load with the defaults.
            backoff_base=data.get("backoff_base", DEFAULT_BACKOFF_BASE_SECONDS),
            backoff_factor=data.get("backoff_factor", DEFAULT_BACKOFF_FACTOR),
            after=None if after is None else tuple(after),
            when=data.get("when", ""),
        )


@dataclass(frozen=True)
class Flow:
    """Steps in the order they were added, each running after its dependencies (by default
    the step before it); runs keep their own copy of it."""

    name: str
    steps: tuple[Step, ...] = field(default_factory=tuple)
    # Hosts its steps may reach over HTTP, within the site's FLOWS_HTTP_ALLOW; None: all of those.
    allowed_hosts: str | None = None
    # How many of its runs may go at once (concurrency.py), and what a launch over a full limit
    # does: wait as Queued ("queue") or be refused ("reject").
    concurrency_limits: tuple[ConcurrencyLimit, ...] = ()
    when_limited: str = QUEUE

    @cached_property
    def _positions(self) -> dict[str, int]:
        """Step name to index: a runner looks steps up at every step of a long run."""
        return {step.name: index for index, step in enumerate(self.steps)}

    def step(self, name: str) -> Step:
        try:
            return self.steps[self._positions[name]]
        except KeyError:
            raise KeyError(f"flow {self.name!r} has no step {name!r}") from None

    @cached_property
    def _dependencies(self) -> dict[str, tuple[str, ...]]:
        resolved = {}
        for index, step in enumerate(self.steps):
            if step.after is not None:
                resolved[step.name] = step.after
            else:
                resolved[step.name] = (self.steps[index - 1].name,) if index else ()
        return resolved

    def dependencies(self, name: str) -> tuple[str, ...]:
        """The steps `name` runs after: its `.after(...)`, else the step before it."""
        return self._dependencies[name]

    @cached_property
    def _dependents(self) -> dict[str, tuple[str, ...]]:
        dependents: dict[str, list[str]] = {step.name: [] for step in self.steps}
        for step in self.steps:
            for dependency in self.dependencies(step.name):
                if dependency in dependents:
                    dependents[dependency].append(step.name)
        return {name: tuple(names) for name, names in dependents.items()}

    def dependents(self, name: str) -> tuple[str, ...]:
        """The steps that run after `name`, in flow order."""
        return self._dependents[name]

    @property
    def is_linear(self) -> bool:
        """Whether each step runs after the one before it and nothing else, unconditionally."""
        return all(step.after is None and not step.when for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "steps": [step.to_dict() for step in self.steps]}
        if self.allowed_hosts is not None:
            data["allowed_hosts"] = self.allowed_hosts
        if self.concurrency_limits:
            data["concurrency_limits"] = [limit.to_dict() for limit in self.concurrency_limits]
        if self.when_limited != QUEUE:
            data["when_limited"] = self.when_limited
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Flow:
        return cls(
            name=data["name"],
            steps=tuple(Step.from_dict(s) for s in data["steps"]),
            allowed_hosts=data.get("allowed_hosts"),
            concurrency_limits=tuple(
                ConcurrencyLimit.from_dict(one) for one in data.get("concurrency_limits", ())
            ),
            when_limited=data.get("when_limited", QUEUE),
        )


def validate_name(name: str, what: str = "step") -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{what} name must not be empty")


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def validate_timeout(timeout: float) -> None:
    if not _is_number(timeout) or not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    maximum = _limits.max_timeout_seconds
    if timeout > maximum:
        raise ValueError(
            f"timeout must be at most {maximum:g} seconds (the site's maximum), got {timeout!r}"
        )


def validate_retries(retries: int) -> None:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a whole number of 0 or more, got {retries!r}")
    if retries > _limits.max_retries:
        raise ValueError(
            f"retries must be at most {_limits.max_retries} (the site's maximum), got {retries!r}"
        )


def validate_backoff(base_seconds: float, factor: float) -> None:
    if not _is_number(base_seconds) or not 0 <= base_seconds <= MAX_BACKOFF_SECONDS:
        raise ValueError(
            f"backoff base must be 0 to {MAX_BACKOFF_SECONDS:g} seconds, got {base_seconds!r}"
        )
    if not _is_number(factor) or not 1 <= factor <= MAX_BACKOFF_FACTOR:
        raise ValueError(f"backoff factor must be 1 to {MAX_BACKOFF_FACTOR:g}, got {factor!r}")


def validate_script(script: str) -> None:
    """Raise ValueError with line and column when the script does not parse, names a secret
    other than by a string literal (a runner sends a step only the secrets it names), or is
    over MAX_SCRIPT_CHARS long."""
    if len(script) > MAX_SCRIPT_CHARS:
        raise ValueError(
            f"script is {len(script):,} characters long, over the {MAX_SCRIPT_CHARS:,} allowed"
        )
    error = check_script(script)
    if error is not None:
        raise ValueError(f"script does not parse: {error}")
    _names, error = secret_names(script)
    if error is not None:
        raise ValueError(f"script: {error}")


def validate_condition(condition: str) -> None:
    """Raise ValueError with line and column when a step's condition is not one Starlark
    expression, or is over MAX_SCRIPT_CHARS long. Blank: no condition."""
    if len(condition) > MAX_SCRIPT_CHARS:
        raise ValueError(
            f"condition is {len(condition):,} characters long, "
            f"over the {MAX_SCRIPT_CHARS:,} allowed"
        )
    error = check_condition(condition)
    if error is not None:
        raise ValueError(f"condition: {error}")


def validate_step(step: Step) -> None:
    validate_name(step.name)
    validate_timeout(step.timeout)
    validate_retries(step.retries)
    validate_backoff(step.backoff_base, step.backoff_factor)
    try:
        validate_script(step.script)
        validate_condition(step.when)
    except ValueError as error:
        raise ValueError(f"step {step.name!r}: {error}") from None
    if step.after is not None:
        for dependency in step.after:
            validate_name(dependency, what=f"step {step.name!r}: a dependency's")
        if step.name in step.after:
            raise ValueError(f"step {step.name!r} cannot run after itself")
        if len(set(step.after)) < len(step.after):
            raise ValueError(f"step {step.name!r} names a step it runs after twice")


@lru_cache(maxsize=256)
def validate_flow(flow: Flow) -> None:
    """Raise ValueError naming what is wrong. Cached: a flow launched again and again (they
    are immutable) is checked once, keeping execute_flow fast."""
    _check_flow(flow)


@lru_cache(maxsize=256)
def definition_json(flow: Flow) -> str:
    """The flow as the JSON a run keeps of it (cached, like validation)."""
    return json.dumps(flow.to_dict(), separators=(",", ":"))


def validate_allowed_hosts(allowed_hosts: str | None) -> None:
    if allowed_hosts is None:
        return
    try:
        parse_allow_list(allowed_hosts)
    except ValueError as error:
        raise ValueError(f"allowed hosts: {error}") from None


def _check_flow(flow: Flow) -> None:
    validate_name(flow.name, what="flow")
    validate_allowed_hosts(flow.allowed_hosts)
    validate_limits(flow.concurrency_limits, flow.when_limited)
    if not flow.steps:
        raise ValueError(f"flow {flow.name!r} has no steps: add at least one")
    seen: set[str] = set()
    for step in flow.steps:
        if step.name in seen:
            raise ValueError(f"flow {flow.name!r} has two steps named {step.name!r}")
        seen.add(step.name)
        validate_step(step)
    for step in flow.steps:
        for dependency in flow.dependencies(step.name):
            if dependency not in seen:
                raise ValueError(
                    f"step {step.name!r} runs after {dependency!r}, "
                    f"which is not a step of flow {flow.name!r}"
                )
    cycle = find_cycle(flow)
    if cycle:
        raise ValueError(f"steps run after each other in a circle: {' → '.join(cycle)}")


def find_cycle(flow: Flow) -> list[str]:
    """A circle of dependencies (its first step repeated at its end), or [] when there is none."""
    state: dict[str, str] = {}  # name -> "open" while on the path, "done" once explored
    for root in (step.name for step in flow.steps):
        if root in state:
            continue
        path = [root]
        # Depth-first without recursion: a flow may have thousands of steps in a line.
        pending = [iter(flow.dependencies(root))]
        state[root] = "open"
        while pending:
            dependency = next(pending[-1], None)
            if dependency is None:
                state[path.pop()] = "done"
                pending.pop()
            elif state.get(dependency) == "open":
                # Each step on the path runs after the next: list them in the order they'd run.
                return [dependency, *reversed(path[path.index(dependency) :])]
            elif dependency not in state:
                state[dependency] = "open"
                path.append(dependency)
                pending.append(iter(flow.dependencies(dependency)))
    return []


class StepBuilder:
    def __init__(self, name: str) -> None:
        self._name = name
        self._script = ""
        self._timeout: float = DEFAULT_TIMEOUT_SECONDS
        self._retries = DEFAULT_RETRIES
        self._backoff = (DEFAULT_BACKOFF_BASE_SECONDS, DEFAULT_BACKOFF_FACTOR)
        self._after: tuple[str, ...] | None = None
        self._when = ""

    def script(self, source: str) -> StepBuilder:
        self._script = source
        return self

    def timeout(self, seconds: float) -> StepBuilder:
        self._timeout = seconds
        return self

    def retries(self, count: int) -> StepBuilder:
        self._retries = count
        return self

    def backoff(self, base_seconds: float, factor: float = DEFAULT_BACKOFF_FACTOR) -> StepBuilder:
        """Wait base_seconds before the first retry, factor times longer before each next one."""
        self._backoff = (base_seconds, factor)
        return self

    def after(self, *names: str) -> StepBuilder:
        """Run once each of these steps has ended (Completed or Skipped), in parallel with
        whatever else may run then. `.after()` with no names: at the start of the run."""
        self._after = names
        return self

    def when(self, condition: str) -> StepBuilder:
        """Run only if this Starlark expression over `input` and `steps` (earlier outputs)
        is true; otherwise the step is Skipped and its dependents go on."""
        self._when = condition
        return self

    def build(self) -> Step:
        step = Step(
            self._name,
            self._script,
            self._timeout,
            self._retries,
            *self._backoff,
            after=self._after,
            when=self._when,
        )
        validate_step(step)
        return step


class FlowBuilder:
    def __init__(self, name: str) -> None:
        self._name = name
        self._steps: list[Step] = []
        self._allowed_hosts: str | None = None
        self._concurrency_limits: list[ConcurrencyLimit] = []
        self._when_limited = QUEUE

    def allowed_hosts(self, hosts: str) -> FlowBuilder:
        """Narrow the hosts its steps may reach (`api.stripe.com, *.example.com`) within the
        site's FLOWS_HTTP_ALLOW; it never widens it. Blank: no narrowing."""
        self._allowed_hosts = hosts if hosts.strip() else None
        return self

    def add_step(self, step: Step) -> FlowBuilder:
        self._steps.append(step)
        return self

    def concurrency_limit(self, runs: int, per: str = "") -> FlowBuilder:
        """At most `runs` runs at once; with `per` (`'input["customer_id"]'`), at most that
        many per value of that input field. A run over a limit waits as Queued, in launch
        order, unless `.when_limited("reject")`."""
        self._concurrency_limits.append(ConcurrencyLimit(runs, per))
        return self

    def when_limited(self, policy: str) -> FlowBuilder:
        """ "queue" (the default): a launch over a full limit waits for a slot as Queued;
        "reject": it is refused (LimitReached) and nothing is stored."""
        self._when_limited = policy
        return self

    def build(self) -> Flow:
        flow = Flow(
            self._name,
            tuple(self._steps),
            self._allowed_hosts,
            concurrency_limits=tuple(self._concurrency_limits),
            when_limited=self._when_limited,
        )
        validate_flow(flow)
        return flow


def new_step(name: str) -> StepBuilder:
    return StepBuilder(name)


def new_flow(name: str) -> FlowBuilder:
    return FlowBuilder(name)
