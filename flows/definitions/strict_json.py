"""Parse JSON that a user typed or sent: the one door for every web input holding JSON (the API's
body, the launch form, a test's sample data, an imported flow).

Python's json module accepts more than JSON, and more than the rest of Flowsite can keep:
NaN and Infinity (which it then writes back as invalid JSON), numbers too large for a float
(read as Infinity), lone surrogates like "\\ud800" (text that cannot be encoded as UTF-8, so
neither stored nor rendered), and nesting deep enough to exhaust the stack. Each is refused
here, with a message that completes "<what you sent> is ...".
"""

from __future__ import annotations

import json
import math
from typing import Any

# Deeper than any real input; far below where parsing or rendering would run out of stack.
MAX_DEPTH = 100


class JsonRejected(ValueError):
    """The text is not JSON Flowsite accepts; str() completes "<it> is ...", e.g. "not valid
    JSON: line 1, column 2: Expecting value"."""


def loads(text: str | bytes) -> Any:
    """Parse strict JSON: UTF-8 (when bytes), finite numbers, valid Unicode, at most MAX_DEPTH
    levels of arrays and objects. Raises JsonRejected saying what is wrong."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonRejected(f"not valid UTF-8: {error.reason} at byte {error.start}") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise JsonRejected(
            f"not valid JSON: line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise JsonRejected(_too_deep()) from None
    except JsonRejected:
        raise
    except ValueError as error:  # an integer of more digits than Python converts
        raise JsonRejected(f"not valid JSON: {error}") from None
    _check_depth_and_text(value)
    return value


def _refuse_constant(name: str) -> Any:
    raise JsonRejected(f"not valid JSON: {name} is not a number JSON allows (only finite ones)")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise JsonRejected(f"not valid JSON: the number {literal} is too large")
    return number


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep"


def _check_depth_and_text(value: Any) -> None:
    """Walk the parsed value (without recursion): every string must encode as UTF-8, no array
    or object may sit deeper than MAX_DEPTH."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise JsonRejected(_too_deep())
            children = [*item, *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        code_point = ord(text[error.start])
        raise JsonRejected(
            f"not valid Unicode: \\u{code_point:04x} is half of a surrogate pair, alone"
        ) from None
