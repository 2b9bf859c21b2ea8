"""Run one Starlark step script in this process, with hard limits on time, output and logs.

This is what a sandbox worker process executes; the runner never calls it in its event loop.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import starlark

from flows.engine.mock_api import MockApiTimeout, mock_api
from flows.engine.sandbox.host import bind_host_functions, plain_message
from flows.engine.sandbox.limits import (
    MAX_ERROR_BYTES,
    MAX_LOG_BYTES,
    MAX_LOG_LINE_BYTES,
    MAX_LOG_LINES,
    MAX_OUTPUT_BYTES,
)
from flows.engine.sandbox.output_check import has_not_finite, with_output_check
from flows.engine.sandbox.syntax import ScriptError, describe_starlark_error, parse

GLOBALS = starlark.Globals.extended_by(
    [
        starlark.LibraryExtension.Json,
        starlark.LibraryExtension.StructType,
        starlark.LibraryExtension.Map,
        starlark.LibraryExtension.Filter,
        starlark.LibraryExtension.Partial,
    ]
)


@dataclass
class ScriptRequest:
    """Everything a script may see: the flow input, earlier outputs and its attempt number."""

    script: str
    input: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    timeout: float = 30.0
    # What the runner granted the step: the values of the secrets it names, its HTTP policy.
    secrets: dict[str, str] = field(default_factory=dict)
    http: dict[str, Any] | None = None


@dataclass
class ScriptResult:
    """An attempt's outcome: `output_json` when it succeeded, `error` when it did not."""

    output_json: str | None = None
    error: ScriptError | None = None
    logs: list[str] = field(default_factory=list)
    duration: float = 0.0
    # Set when the worker that produced this result must not be reused.
    fatal: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "output_json": self.output_json,
            "error": self.error.to_dict() if self.error else None,
            "logs": self.logs,
            "duration": self.duration,
            "fatal": self.fatal,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScriptResult:
        error = data.get("error")
        return cls(
            output_json=data.get("output_json"),
            error=ScriptError(**error) if error else None,
            logs=list(data.get("logs", [])),
            duration=float(data.get("duration", 0.0)),
            fatal=bool(data.get("fatal", False)),
        )


class _TimedOut(Exception):
    pass


class _ScriptFailed(Exception):
    def __init__(self, error: ScriptError) -> None:
        self.error = error


def cap_text(text: str, max_bytes: int) -> str:
    """The text, cut to at most `max_bytes` of UTF-8 with a note saying so when it was longer."""
    encoded = text.encode(errors="replace")
    if len(encoded) <= max_bytes:
        return text
    note = f"... (cut from {len(encoded):,} bytes)"
    return encoded[: max_bytes - len(note)].decode(errors="ignore") + note


def cap_error(error: ScriptError) -> ScriptError:
    """The error with at most MAX_ERROR_BYTES as written out, its location included."""
    location = len(str(ScriptError("", error.line, error.column)))
    message = cap_text(error.message, MAX_ERROR_BYTES - location)
    return ScriptError(message, error.line, error.column)


def timeout_error(timeout: float) -> ScriptError:
    return ScriptError(f"timed out after {timeout:g}s")


def run_script(request: ScriptRequest) -> ScriptResult:
    """Evaluate the script; its final expression's value, JSON-encoded, is the output."""
    started = time.monotonic()
    deadline = started + request.timeout
    logs = _Logs()
    result = ScriptResult(logs=logs.lines)
    try:
        value = _evaluate(request, deadline, logs)
        result.output_json = _encode_output(value)
    except _TimedOut:
        result.error = timeout_error(request.timeout)
    except _ScriptFailed as failed:
        described = failed.error
        if time.monotonic() >= deadline and "cancelled" in described.message.lower():
            described = timeout_error(request.timeout)
        result.error = described
    except (MemoryError, RecursionError) as error:
        result.error = ScriptError(f"script exceeded a resource limit: {type(error).__name__}")
    except ValueError as error:
        result.error = ScriptError(str(error))
    if result.error:
        result.error = cap_error(result.error)
    result.duration = time.monotonic() - started
    return result


def _evaluate(request: ScriptRequest, deadline: float, logs: _Logs) -> Any:
    module = starlark.Module()
    module["input"] = request.input
    module["steps"] = request.steps
    module["attempt"] = request.attempt
    module.add_callable("log", logs.append)
    module.add_callable("mock_api", _bound_mock_api(request.attempt, deadline))
    bind_host_functions(module, request, deadline=deadline, log=logs.append, globals=GLOBALS)
    options = starlark.EvalOptions(check_cancelled=lambda: time.monotonic() >= deadline)
    script = with_output_check(request.script)
    try:
        value = starlark.eval_with(options, module, parse(script.source), GLOBALS).value
        not_finite = has_not_finite(script, module, options, value)  # may meet the deadline
    except starlark.StarlarkError as error:
        if "MockApiTimeout" in str(error):
            raise _TimedOut from error
        described = describe_starlark_error(error)
        described = ScriptError(plain_message(described.message), described.line, described.column)
        column = script.column_in_source(described.line, described.column)
        raise _ScriptFailed(ScriptError(described.message, described.line, column)) from None
    if not_finite:
        raise ValueError("output contains NaN or Infinity, which JSON cannot store")
    return value


class _Logs:
    """A script's log lines, each and all capped."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._bytes = 0

    def append(self, message: object) -> None:
        if len(self.lines) > MAX_LOG_LINES or self._bytes > MAX_LOG_BYTES:
            return
        line = cap_text(str(message), MAX_LOG_LINE_BYTES)
        # Measured as stored: a JSON string (control characters take six bytes each).
        self._bytes += len(json.dumps(line, ensure_ascii=False).encode(errors="replace")) + 1
        if len(self.lines) == MAX_LOG_LINES or self._bytes > MAX_LOG_BYTES:
            self.lines.append(f"(log truncated after {len(self.lines):,} lines)")
            self._bytes = MAX_LOG_BYTES + 1
        else:
            self.lines.append(line)


def _bound_mock_api(attempt: int, deadline: float):
    def bound(scenario: str, fail_times: int = 0, delay: float = 0.0, payload: Any = None):
        remaining = max(0.0, deadline - time.monotonic())
        if scenario == "timeout":
            mock_api(scenario, timeout=remaining)
        if delay > remaining:
            time.sleep(remaining)
            raise MockApiTimeout("mock API did not answer before the step's timeout")
        return mock_api(scenario, fail_times, delay, payload, attempt=attempt, timeout=remaining)

    return bound


def _encode_output(value: Any) -> str:
    try:
        encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"output cannot be stored as JSON: {error}") from None
    size = len(encoded.encode())
    if size > MAX_OUTPUT_BYTES:
        raise ValueError(
            f"output is {size / 1024 / 1024:.1f} MiB, over the "
            f"{MAX_OUTPUT_BYTES // 1024 // 1024} MiB limit"
        )
    return encoded
