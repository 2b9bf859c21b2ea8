"""Turn Starlark's diagnostics into one-line messages with line and column."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import starlark

SCRIPT_FILENAME = "step.star"
DIALECT = starlark.Dialect.extended()

_LOCATION = re.compile(r"--> " + re.escape(SCRIPT_FILENAME) + r":(\d+):(\d+)")
_TRACEBACK_LINE = re.compile(r"\* " + re.escape(SCRIPT_FILENAME) + r":(\d+)")


@dataclass(frozen=True)
class ScriptError:
    """A script problem located in the source (line and column are 1-based; 0 when unknown)."""

    message: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"line {self.line}, column {self.column}: {self.message}"
        return self.message

    def to_dict(self) -> dict[str, object]:
        return {"message": self.message, "line": self.line, "column": self.column}


def describe_starlark_error(error: Exception) -> ScriptError:
    """Boil a StarlarkError's multi-line report down to its message and innermost location."""
    text = str(error)
    message = next(
        (line[len("error: ") :] for line in text.splitlines() if line.startswith("error: ")),
        text.strip().splitlines()[0] if text.strip() else type(error).__name__,
    )
    message = message.removeprefix("Parse error: ")
    if match := _LOCATION.search(text):
        return ScriptError(message, int(match.group(1)), int(match.group(2)))
    lines = _TRACEBACK_LINE.findall(text)
    return ScriptError(message, int(lines[-1]) if lines else 0, 0)


def parse(source: str) -> starlark.AstModule:
    """Parse a step script; raises starlark.StarlarkError."""
    return starlark.parse(SCRIPT_FILENAME, source, DIALECT)


def check_script(source: str) -> ScriptError | None:
    """Return where and why the script does not parse, or None when it does."""
    if not source.strip():
        return ScriptError("script is empty")
    try:
        # Without trailing blank lines: at end of input Starlark reports line 1, column 1.
        parse(source.rstrip())
    except starlark.StarlarkError as error:
        return describe_starlark_error(error)
    return None


def check_condition(source: str) -> ScriptError | None:
    """Return why a step's condition is not one expression (None when it is, or is blank)."""
    if not source.strip():
        return None
    error = check_script(source)
    if error is not None:
        return error
    # Inside parentheses only an expression parses: no statements, no assignments.
    if check_script(f"(\n{source.strip()}\n)") is not None:
        return ScriptError('must be one expression, like steps["charge"]["paid"] == True')
    return None


_STEPS_NAME = re.compile(r"(?<![\w.])steps\b")
_STRING = r"""(?:"([^"\\\n]*)"|'([^'\\\n]*)')"""
_STEPS_LOOKUP = re.compile(rf"\s*(?:\[\s*{_STRING}\s*\]|\.\s*get\s*\(\s*{_STRING}\s*[,)])")


@lru_cache(maxsize=1024)
def steps_read(source: str) -> frozenset[str] | None:
    """The names of the earlier steps whose outputs the script reads, when every use of `steps`
    in it is a lookup by a literal name (`steps["a"]`, `steps.get("a")`); None when the script
    may read any (it iterates `steps`, passes it on, or names it anywhere else, comments
    included). Starlark reaches a global only through its name, so this is a safe bound."""
    names: set[str] = set()
    for match in _STEPS_NAME.finditer(source):
        lookup = _STEPS_LOOKUP.match(source, match.end())
        if lookup is None:
            return None
        names.add(next(group for group in lookup.groups() if group is not None))
    return frozenset(names)
