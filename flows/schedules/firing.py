"""The scheduler's Django side: reading the active schedules, and launching a fire time once
the scheduler has claimed it. Synchronous (the ORM): the scheduler calls these in a thread."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db.models import Count, Max

from flows.cron import Cron, CronRejected
from flows.definitions import strict_json
from flows.models import RunRecord, Schedule, ScheduledRun
from flows.runs import launching
from flows.schedules.timetable import Entry

logger = logging.getLogger(__name__)


def fingerprint() -> tuple[Any, ...]:
    """Changes whenever a schedule is added, changed or deleted (with its flow): one cheap
    query, so every tick can ask whether the timetable must be loaded again. Launches do not
    change it (they update `last_fire_at` without touching `updated_at`)."""
    totals = Schedule.objects.aggregate(count=Count("pk"), latest=Max("updated_at"))
    return totals["count"], totals["latest"]


def active_entries() -> list[Entry]:
    """The enabled schedules as the timetable needs them. One that no longer parses (changed
    outside the forms) is left out and logged."""
    entries = []
    for schedule in Schedule.objects.filter(enabled=True).order_by():
        try:
            cron = Cron(schedule.expression, schedule.timezone)
        except CronRejected as error:
            logger.error("schedule %s cannot fire: %s", schedule.pk, error)
            continue
        missed_since = None
        if schedule.catch_up:
            missed_since = max(filter(None, [schedule.last_fire_at, schedule.updated_at]))
        entries.append(Entry(schedule.pk, cron, missed_since))
    return entries


def launch_fire(schedule_id: int, fire_at: datetime) -> RunRecord | None:
    """Launch the run of a fire time the caller has claimed, as the user who last saved the
    schedule, and note it; None if the schedule was disabled or deleted meanwhile. Raises
    ValueError when the run cannot start (no such user any more, input or flow invalid); the
    fire time counts as launched either way, so a catch-up does not try it again."""
    schedule = Schedule.objects.select_related("flow", "updated_by").filter(pk=schedule_id).first()
    if schedule is None or not schedule.enabled:
        return None
    Schedule.objects.filter(pk=schedule_id).update(last_fire_at=fire_at)
    if schedule.updated_by is None:
        raise ValueError("nobody to launch as: the user who saved the schedule is gone")
    trigger = {"kind": "schedule", "schedule": schedule.pk, "name": schedule.label}
    run = launching.launch(
        schedule.flow, strict_json.loads(schedule.input), schedule.updated_by, trigger=trigger
    )
    ScheduledRun.objects.create(schedule=schedule, run=run, fire_at=fire_at)
    return run
