"""The scheduler under an injected clock: exact fire times across daylight-saving changes, one
run per fire time however many schedulers race, catch-up after downtime, disabled schedules."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from flows.cron import Cron
from flows.models import FlowDefinition, RunRecord, Schedule
from flows.schedules.scheduler import Scheduler
from tests.web.schedule_clock import Clock, scheduler_at

pytestmark = pytest.mark.django_db(transaction=True)


def _schedule(flow: FlowDefinition, expression: str, **fields: object) -> Schedule:
    user = User.objects.get_or_create(username="planner")[0]
    return Schedule.objects.create(flow=flow, expression=expression, updated_by=user, **fields)


async def _ticks(scheduler: Scheduler, clock: Clock, until: datetime, step: timedelta):
    """Tick every `step` of the clock up to `until`; the fire times launched."""
    launched = []
    try:
        while clock.at <= until:
            launched += await scheduler.tick()
            clock.at += step
    finally:
        await scheduler.close()
    return launched


def _fired(schedule: Schedule) -> list[datetime]:
    return sorted(schedule.runs.values_list("fire_at", flat=True))


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_daily_2_30_in_berlin_fires_at_3_00_on_the_spring_change_and_once_in_autumn():
    cron = Cron("30 2 * * *", "Europe/Berlin")

    spring = list(_first(cron, _utc(2026, 3, 27, 12), 3))
    autumn = list(_first(cron, _utc(2026, 10, 23, 12), 3))

    # 28 March 02:30 CET; 29 March has no 02:30 (02:00 jumps to 03:00 CEST): 03:00 CEST.
    assert spring == [_utc(2026, 3, 28, 1, 30), _utc(2026, 3, 29, 1), _utc(2026, 3, 30, 0, 30)]
    # 25 October has 02:30 twice (CEST, then CET): the first only.
    assert autumn == [
        _utc(2026, 10, 24, 0, 30),
        _utc(2026, 10, 25, 0, 30),
        _utc(2026, 10, 26, 1, 30),
    ]


def _first(cron: Cron, after: datetime, count: int):
    times = cron.fire_times(after)
    return [next(times) for _ in range(count)]


def test_the_scheduler_launches_at_exactly_those_times_as_its_clock_moves_through_march(stripe):
    schedule = _schedule(stripe, "30 2 * * *", timezone="Europe/Berlin", input='{"n": 1}')
    clock = Clock(_utc(2026, 3, 27, 23))

    launched = asyncio.run(
        _ticks(scheduler_at(clock), clock, _utc(2026, 3, 30, 12), timedelta(minutes=10))
    )

    expected = [_utc(2026, 3, 28, 1, 30), _utc(2026, 3, 29, 1), _utc(2026, 3, 30, 0, 30)]
    assert sorted(fire_at for _, fire_at in launched) == expected
    assert _fired(schedule) == expected
    runs = RunRecord.objects.filter(trigger_kind="schedule")
    assert runs.count() == 3
    assert set(runs.values_list("launched_by", flat=True)) == {"planner"}


def test_three_schedulers_with_their_own_redis_clients_launch_each_fire_time_once(stripe):
    every_minute = _schedule(stripe, "* * * * *")
    hourly = _schedule(stripe, "@hourly", name="hourly")
    start, until = _utc(2026, 6, 1, 11, 55, 30), _utc(2026, 6, 1, 12, 5)
    launched: list[tuple[int, datetime]] = []
    barrier = threading.Barrier(3)

    def race() -> None:
        clock = Clock(start)
        barrier.wait()
        launched.extend(
            asyncio.run(_ticks(scheduler_at(clock), clock, until, timedelta(seconds=7)))
        )

    threads = [threading.Thread(target=race) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    minutes = [start.replace(second=0) + timedelta(minutes=n) for n in range(1, 10)]
    assert _fired(every_minute) == minutes
    assert _fired(hourly) == [_utc(2026, 6, 1, 12)]
    assert sorted(launched) == sorted(
        [(every_minute.pk, minute) for minute in minutes] + [(hourly.pk, _utc(2026, 6, 1, 12))]
    )
    assert RunRecord.objects.filter(trigger_kind="schedule").count() == 10


def test_after_downtime_a_missed_fire_time_is_skipped_unless_the_schedule_catches_up(stripe):
    skips = _schedule(stripe, "0 * * * *")
    catches_up = _schedule(stripe, "0 * * * *", catch_up=True)
    Schedule.objects.update(updated_at=_utc(2026, 6, 1, 8, 30))
    clock = Clock(_utc(2026, 6, 1, 12, 20))  # down since 08:30: 09:00 to 12:00 were missed

    asyncio.run(_ticks(scheduler_at(clock), clock, _utc(2026, 6, 1, 13, 1), timedelta(minutes=1)))

    assert _fired(skips) == [_utc(2026, 6, 1, 13)]
    assert _fired(catches_up) == [_utc(2026, 6, 1, 12), _utc(2026, 6, 1, 13)]


def test_a_catch_up_counts_from_the_last_launch_and_owes_nothing_when_none_was_missed(stripe):
    schedule = _schedule(stripe, "0 * * * *", catch_up=True)
    Schedule.objects.update(updated_at=_utc(2026, 6, 1, 8, 30), last_fire_at=_utc(2026, 6, 1, 12))
    clock = Clock(_utc(2026, 6, 1, 12, 20))

    asyncio.run(_ticks(scheduler_at(clock), clock, _utc(2026, 6, 1, 12, 59), timedelta(minutes=1)))

    assert _fired(schedule) == []


def test_a_disabled_schedule_never_fires_and_fires_again_once_enabled(stripe):
    schedule = _schedule(stripe, "* * * * *", enabled=False, catch_up=True)
    clock = Clock(_utc(2026, 6, 1, 12, 0, 30))

    async def scenario() -> None:
        scheduler = scheduler_at(clock)
        await _until(scheduler, clock, minutes=5)
        # Enabled again at 12:05:30: a schedule that catches up owes nothing from while it was off.
        await _enable(schedule, clock.at)
        await _until(scheduler, clock, minutes=2)
        await scheduler.close()

    asyncio.run(scenario())

    assert _fired(schedule) == [_utc(2026, 6, 1, 12, 6), _utc(2026, 6, 1, 12, 7)]


async def _until(scheduler: Scheduler, clock: Clock, minutes: int) -> None:
    for _ in range(minutes * 2):
        await scheduler.tick()
        clock.advance(seconds=30)


async def _enable(schedule: Schedule, at: datetime) -> None:
    from channels.db import database_sync_to_async

    await database_sync_to_async(
        lambda: Schedule.objects.filter(pk=schedule.pk).update(enabled=True, updated_at=at)
    )()


def test_a_schedule_whose_run_cannot_start_is_logged_with_its_id_and_others_still_fire(
    stripe, caplog
):
    broken = _schedule(stripe, "* * * * *", input="[1]")
    working = _schedule(stripe, "* * * * *")
    clock = Clock(_utc(2026, 6, 1, 12, 0, 30))

    asyncio.run(_ticks(scheduler_at(clock), clock, _utc(2026, 6, 1, 12, 2), timedelta(minutes=1)))

    assert _fired(working) == [_utc(2026, 6, 1, 12, 1)]
    assert _fired(broken) == []
    assert f"schedule {broken.pk} could not launch" in caplog.text
