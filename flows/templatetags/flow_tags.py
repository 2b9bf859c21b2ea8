from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def pretty_json(value: Any) -> str:
    """Run data as JSON (not Python's repr): what scripts and the API see. Escaped on output."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
