"""The flow page's schedules, read by its schedules section itself: the builder's views stay
below the schedules, which launch runs (docs/architecture.md: layers import downwards)."""

from __future__ import annotations

from django import template

from flows.models import FlowDefinition
from flows.schedules.rows import ScheduleRow, schedule_rows

register = template.Library()


@register.simple_tag
def schedules_of(flow: FlowDefinition) -> list[ScheduleRow]:
    return schedule_rows(flow)
