"""Keep NaN and Infinity from passing for null.

Starlark floats may be NaN or infinite, but a script's value reaches Python through JSON,
where they silently become null. So the script's final expression is kept in a variable, and
when a null came out, walked in Starlark itself, which still sees the floats.
"""

from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import starlark

from flows.engine.sandbox.syntax import parse

# Not "_flowsite...": module-level names that start with "_" are private to the module.
OUTPUT = "flowsite_output__"
PREFIX = f"{OUTPUT} = ("
_KEEP = f"\n)\n{OUTPUT}\n"
# Run in the same module after the script, only when its value came out with a null in it (so
# scripts that return no null pay nothing). Starlark has no `while` and no recursion.
_FIND_NOT_FINITE = f"""
def flowsite_find_not_finite__(value):
    pending = [value]
    for _ in range(2147483647):
        if not pending:
            return False
        item = pending.pop()
        kind = type(item)
        if kind == "float" and str(item) in ("nan", "+inf", "-inf"):
            return True
        elif kind == "list" or kind == "tuple":
            pending.extend(item)
        elif kind == "dict":
            pending.extend(item.values())
    return False
flowsite_find_not_finite__({OUTPUT})
"""


@dataclass(frozen=True)
class CheckedScript:
    """The script to run: `line` (1-based) is where PREFIX was put before column 1, so errors
    on it are PREFIX's length too far right; 0 when the script is unchanged (it does not end
    with an expression, so its value is None)."""

    source: str
    line: int = 0

    def column_in_source(self, line: int, column: int) -> int:
        return column - len(PREFIX) if line == self.line and column > len(PREFIX) else column


@lru_cache(maxsize=256)
def with_output_check(source: str) -> CheckedScript:
    line = _last_top_level_line(source)
    if line is None:
        return CheckedScript(source)
    lines = io.StringIO(source).readlines()
    checked = "".join(lines[: line - 1]) + PREFIX + "".join(lines[line - 1 :]) + _KEEP
    try:
        parse(checked)
    except starlark.StarlarkError:
        return CheckedScript(source)  # the last statement is no expression
    return CheckedScript(checked, line)


def has_not_finite(
    script: CheckedScript, module: starlark.Module, options: starlark.EvalOptions, value: Any
) -> bool:
    """Whether the value the script in `module` just produced (`value`, as Python sees it)
    holds a NaN or an infinite float."""
    if not script.line or not _holds_none(value):
        return False
    return starlark.eval_with(
        options, module, parse(_FIND_NOT_FINITE), starlark.Globals.standard()
    ).value


def _holds_none(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if item is None:
            return True
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return False


def _last_top_level_line(source: str) -> int | None:
    """The line where the script's last top-level statement starts (Starlark's tokens are
    Python's), or None when it cannot be told."""
    depth, last, at_line_start = 0, None, True
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.INDENT:
                depth += 1
            elif token.type == tokenize.DEDENT:
                depth -= 1
            elif token.type == tokenize.NEWLINE:
                at_line_start = True
            elif token.type not in (tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER):
                if at_line_start and depth == 0 and token.start[1] == 0:
                    last = token.start[0]
                at_line_start = False
    except (tokenize.TokenError, SyntaxError):
        return None
    return last
