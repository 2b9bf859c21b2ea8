"""Concurrency limits: at most N runs of a flow at once, over the whole flow or per value of a
field of the run's input (`input["customer_id"]`: one customer's runs one at a time while
other customers' go on).

A limit's slots live in Redis (Partition.limit_slots): a run takes a slot in each of its limits as
it starts and gives them back as it ends, in the same scripts as those transitions
(prelude.lua: take_slots, release_slots). A run launched while a limit is full waits as Queued,
in launch order, or is refused when the flow says "reject" (LimitReached).
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flows.engine.keys import Partition

QUEUE = "queue"
REJECT = "reject"
WHEN_LIMITED = (QUEUE, REJECT)
MAX_RUNS_AT_ONCE = 100_000
MAX_PATH_CHARS = 500

PathPart = str | int


class LimitReached(Exception):
    """A launch refused: a concurrency limit of its flow is full and the flow rejects runs
    over it. `started` lists the runs a batch launch did start before the refusal."""

    def __init__(self, message: str, started: list[str] | None = None) -> None:
        super().__init__(message)
        self.started = started or []


@dataclass(frozen=True)
class ConcurrencyLimit:
    """At most `runs` runs at once; with `per` (an input path such as `input["customer_id"]`),
    at most that many per value found there."""

    runs: int
    per: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "per": self.per} if self.per else {"runs": self.runs}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConcurrencyLimit:
        return cls(runs=data["runs"], per=data.get("per", ""))

    def describe(self) -> str:
        """The limit in words, for messages: 'at most 2 runs at once per input["customer"]'."""
        runs = "1 run" if self.runs == 1 else f"{self.runs} runs"
        return f"at most {runs} at once" + (f" per {self.per}" if self.per else "")


@lru_cache(maxsize=256)
def parse_input_path(text: str) -> tuple[PathPart, ...]:
    """`input["customer"]["id"]` -> ("customer", "id"): `input` followed by one or more
    lookups by a quoted name or a whole number. ValueError saying what is wrong otherwise.

    A path, not any Starlark expression: it is read at every launch, in the launching process,
    so it must cost microseconds and never run code."""
    if len(text) > MAX_PATH_CHARS:
        raise ValueError(f"the key is over {MAX_PATH_CHARS} characters")
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        node = None
    parts: list[PathPart] = []
    while isinstance(node, ast.Subscript) and _is_lookup(node.slice):
        parts.append(node.slice.value)  # type: ignore[attr-defined]
        node = node.value
    if not (isinstance(node, ast.Name) and node.id == "input") or not parts:
        raise ValueError(
            f"the key {text.strip()!r} must be input followed by lookups, "
            'such as input["customer_id"] or input["order"]["customer"]'
        )
    return tuple(reversed(parts))


def _is_lookup(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (str, int)


def value_at(path: tuple[PathPart, ...], input: Any, per: str) -> Any:
    """The value `path` finds in the run's input; ValueError naming the limit's key when the
    input has none there (a run cannot count against a limit it has no value for)."""
    value = input
    for part in path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            raise ValueError(
                f"the input has no {per}, which the flow's concurrency limit is per"
            ) from None
    return value


def validate_limits(limits: tuple[ConcurrencyLimit, ...], when_limited: str) -> None:
    """ValueError naming what is wrong: a count out of range, a key that is no input path, two
    limits over the same thing, or a policy other than queue/reject."""
    if when_limited not in WHEN_LIMITED:
        raise ValueError(f"when limited, runs must queue or be rejected, not {when_limited!r}")
    seen: set[str] = set()
    for limit in limits:
        runs = limit.runs
        if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= MAX_RUNS_AT_ONCE:
            raise ValueError(
                f"a concurrency limit must be 1 to {MAX_RUNS_AT_ONCE:,} runs, got {runs!r}"
            )
        if limit.per:
            parse_input_path(limit.per)
        if limit.per in seen:
            what = f"per {limit.per}" if limit.per else "for the whole flow"
            raise ValueError(f"two concurrency limits {what}: keep one")
        seen.add(limit.per)


def limit_slots(
    part: Partition, flow_name: str, limits: tuple[ConcurrencyLimit, ...], input: Any
) -> str:
    """The limits a run of the flow counts against, as create.lua takes them: a JSON list of
    [slots key, at most] ('' when the flow has none). ValueError when the input lacks a value
    a limit is per."""
    if not limits:
        return ""
    slots = []
    for limit in limits:
        value = ""
        if limit.per:
            found = value_at(parse_input_path(limit.per), input, limit.per)
            value = json.dumps(found, sort_keys=True, separators=(",", ":"))
        slots.append([part.limit_slots(flow_name, limit.per, value), limit.runs])
    return json.dumps(slots)
