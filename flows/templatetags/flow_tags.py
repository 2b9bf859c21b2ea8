from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timezone import localtime

from flows import step_access
from flows.engine.script_functions import ScriptModule
from flows.json_display import pretty_json

register = template.Library()


register.filter("pretty_json", pretty_json)


@register.filter
def duration(start: datetime | None, end: datetime | None) -> str:
    """'1.25 s', '3 min 05 s'; empty until both ends are known."""
    if start is None or end is None:
        return ""
    return _span((end - start).total_seconds(), decimals=2)


@register.filter
def time_until(moment: datetime | None) -> str:
    """'in 12 s', 'in 3 min 05 s' from now, or 'now' once it is due; empty when unknown."""
    if moment is None:
        return ""
    seconds = (moment - timezone.now()).total_seconds()
    return "now" if seconds < 1 else f"in {_span(seconds, decimals=0)}"


def _span(seconds: float, decimals: int) -> str:
    """Seconds under a minute (to `decimals` places), else minutes and whole seconds."""
    if seconds < 60:
        return f"{seconds:.{decimals}f} s"
    minutes, whole_seconds = divmod(round(seconds), 60)
    return f"{minutes} min {whole_seconds:02d} s"


@register.filter
def clock(moment: datetime | None) -> str:
    """The time of day, H:M:S, in the current time zone; empty when unknown. Not the date
    filter, which interprets its format at every call: step rows show up to four times each, and
    are rendered again for every live update of their run."""
    return localtime(moment).strftime("%H:%M:%S") if moment else ""


@register.simple_tag
def script_modules() -> list[ScriptModule]:
    """The site's script function modules, for the editor's help."""
    return list(step_access.script_modules().values())
