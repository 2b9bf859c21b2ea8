"""A scheduler under a clock the test moves: no test waits for a fire time."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from flows.schedules.scheduler import Scheduler


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


def scheduler_at(clock: Clock) -> Scheduler:
    """A scheduler of the site's Redis with its own client, reading time from `clock`."""
    return Scheduler(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX, now=clock)
