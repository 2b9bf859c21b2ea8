"""The scheduler runs in every web process (a lifespan service) and every `runflows`, and
launches on its own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from flows.engine.connections import blocking_client
from flows.engine.runner import Runner
from flows.management.commands.runflows import run_with_scheduler, site_runner_settings
from flows.models import Schedule
from flows.schedules.scheduler import Scheduler, claim_key
from flowsite.asgi import background_services
from flowsite.lifespan import keep_running
from tests.test_asgi_runner import _eventually

pytestmark = pytest.mark.django_db(transaction=True)


def claimed(schedule: Schedule) -> bool:
    """Whether a scheduler has claimed a fire time of the schedule (and so is launching it)."""
    with blocking_client(settings.REDIS_URL) as client:
        return bool(client.exists(claim_key(settings.FLOWS_KEY_PREFIX, schedule.pk)))


def test_the_web_process_runs_a_scheduler_that_launches_what_a_schedule_is_owed(settings, stripe):
    settings.FLOWS_EMBEDDED_RUNNER = False
    user = User.objects.create(username="planner")
    schedule = Schedule.objects.create(
        flow=stripe, expression="@hourly", catch_up=True, updated_by=user
    )
    # Saved long ago, never launched: its latest hourly fire time is owed at once.
    Schedule.objects.update(updated_at=datetime(2026, 1, 1, tzinfo=UTC))
    (scheduler,) = [s for s in background_services() if isinstance(s, Scheduler)]

    async def run_until_launched() -> None:
        stopping = asyncio.Event()
        await scheduler.start()
        task = asyncio.create_task(keep_running(scheduler, stopping))
        await _eventually(lambda: claimed(schedule))
        stopping.set()
        scheduler.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(asyncio.wait_for(run_until_launched(), 20))

    assert schedule.runs.get().run.trigger_kind == "schedule"


def test_runflows_runs_a_scheduler_beside_its_runner_and_stops_both(stripe):
    user = User.objects.create(username="planner")
    schedule = Schedule.objects.create(
        flow=stripe, expression="@daily", catch_up=True, updated_by=user
    )
    Schedule.objects.update(updated_at=datetime(2026, 1, 1, tzinfo=UTC))
    runner = Runner.from_settings(site_runner_settings(concurrency=1))

    async def run_until_launched() -> None:
        command = asyncio.create_task(run_with_scheduler(runner))
        await _eventually(lambda: claimed(schedule))
        runner.stop()  # the scheduler stops after the tick that claimed: its launch is done
        await asyncio.wait_for(command, 15)

    asyncio.run(asyncio.wait_for(run_until_launched(), 30))

    assert schedule.runs.count() == 1
