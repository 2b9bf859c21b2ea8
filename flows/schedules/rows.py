"""A schedule as the flow page lists it: its next fire times in its own time zone, and the
latest runs it started."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from django.db.models import Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from flows.cron import Cron, CronRejected
from flows.models import FlowDefinition, Schedule, ScheduledRun

UPCOMING = 5
LATEST_RUNS = 10


@dataclass(frozen=True)
class ScheduleRow:
    schedule: Schedule
    upcoming: list[datetime]  # in the schedule's time zone
    runs: list[ScheduledRun]


def schedule_rows(flow: FlowDefinition) -> list[ScheduleRow]:
    """Every schedule of the flow, in two queries however many runs they started."""
    latest = (
        ScheduledRun.objects.filter(schedule__flow=flow)
        .annotate(rank=Window(RowNumber(), partition_by="schedule", order_by="-fire_at"))
        .filter(rank__lte=LATEST_RUNS)
        .select_related("run")
    )
    runs: dict[int, list[ScheduledRun]] = defaultdict(list)
    for started in latest:
        runs[started.schedule_id].append(started)
    return [_row(schedule, runs[schedule.pk]) for schedule in flow.schedules.all()]


def schedule_row(schedule: Schedule) -> ScheduleRow:
    runs = list(schedule.runs.select_related("run")[:LATEST_RUNS])
    return _row(schedule, runs)


def _row(schedule: Schedule, runs: list[ScheduledRun]) -> ScheduleRow:
    return ScheduleRow(schedule, upcoming(schedule), runs)


def upcoming(schedule: Schedule, now: datetime | None = None) -> list[datetime]:
    """Its next UPCOMING fire times after `now`, in its time zone; none for one whose
    expression or zone no longer reads (changed outside the form)."""
    try:
        cron = Cron(schedule.expression, schedule.timezone)
    except CronRejected:
        return []
    times = cron.fire_times(now or timezone.now())
    return [fire_at.astimezone(cron.zone) for fire_at in islice(times, UPCOMING)]
