"""Run data shown as JSON (not Python's repr): what scripts and the API see."""

from __future__ import annotations

import json
from typing import Any


def pretty_json(value: Any) -> str:
    """Indented JSON, every character kept (the page escapes it). Also what the views put in
    the JSON fields they fill in (a launch's or a test's input), so data reads the same
    wherever it is shown."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
