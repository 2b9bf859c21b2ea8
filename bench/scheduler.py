"""Scheduler overhead with 1,000 active schedules: CPU time per second of wall time of a
scheduler ticking as in a web process. Target: <= 5% of one core.

    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/scheduler.py [seconds]

Runs in a throwaway test database and under its own Redis key prefix, removed afterwards. The
schedules fire daily at times spread over the day in several zones, none due while it measures
(a launch is a run's cost, not the scheduler's); it also times a reload of all of them, what a
change to any schedule costs each scheduler once.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")
os.environ["FLOWS_KEY_PREFIX"] = "bench-scheduler:"

import django

django.setup()

from _support import delete_prefix  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402

from flows.models import FlowDefinition, Schedule  # noqa: E402
from flows.schedules.scheduler import Scheduler  # noqa: E402

SCHEDULES = 1000
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney"]
TARGET_PERCENT = 5.0


def _create_schedules() -> None:
    flow = FlowDefinition.objects.create(name="bench")
    user = User.objects.create(username="bench")
    # Daily times at least two hours away from now in UTC terms: none fires while measuring.
    start = datetime.now(UTC) + timedelta(hours=2)
    schedules = []
    for n in range(SCHEDULES):
        at = start + timedelta(minutes=n % 1200)
        zone = ZONES[n % len(ZONES)]
        local = at.astimezone(ZoneInfo(zone))
        expression = f"{local.minute} {local.hour} * * *"
        schedules.append(Schedule(flow=flow, expression=expression, timezone=zone, updated_by=user))
    Schedule.objects.bulk_create(schedules)


async def _measure(seconds: float) -> tuple[float, float, int]:
    scheduler = Scheduler(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX)
    started = time.perf_counter()
    await scheduler.tick()  # the first load
    load = time.perf_counter() - started
    cpu, wall = time.process_time(), time.perf_counter()
    running = asyncio.create_task(scheduler.run())
    await asyncio.sleep(seconds)
    scheduler.stop()
    await running
    return (
        (time.process_time() - cpu) / (time.perf_counter() - wall),
        load,
        len(scheduler.timetable),
    )


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    original_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        _create_schedules()
        share, load, loaded = asyncio.run(_measure(seconds))
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
        delete_prefix(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX)
    print(f"{loaded} active schedules; loading them all: {load * 1000:.0f} ms")
    print(f"scheduler CPU over {seconds:g} s of wall time: {share * 100:.2f}% of one core")
    print(f"target <= {TARGET_PERCENT:g}%: {'met' if share * 100 <= TARGET_PERCENT else 'MISSED'}")
    return 0 if share * 100 <= TARGET_PERCENT else 1


if __name__ == "__main__":
    sys.exit(main())
