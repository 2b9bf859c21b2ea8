"""Cron expressions, read and evaluated with cronsim (no Django).

cronsim also takes a 6-field form with seconds; Flowsite keeps cron's 5 fields, and translates
the @-shortcuts, which cronsim does not read, to the expressions cron means by them. Fire times
are computed in the schedule's time zone (cronsim applies cron's daylight-saving rules there)
and handed out in UTC, as the scheduler compares them: datetimes of one zone compare by wall
clock, which the repeated hour of an autumn change makes ambiguous.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

SHORTCUTS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class CronRejected(ValueError):
    """The expression or time zone cannot be used; str() says why."""


def five_fields(expression: str) -> str:
    """The expression as cron's five fields (a shortcut translated); CronRejected if it is not
    five fields."""
    text = " ".join(expression.split())
    text = SHORTCUTS.get(text.lower(), text)
    if text.startswith("@"):
        raise CronRejected(f"unknown shortcut {text}: use one of {', '.join(SHORTCUTS)}")
    if len(text.split()) != 5:
        raise CronRejected(
            "needs 5 fields (minute hour day-of-month month day-of-week) or a shortcut like @daily"
        )
    return text


def zone(name: str) -> ZoneInfo:
    """The IANA time zone of that name; CronRejected if there is none."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise CronRejected(f"{name!r} is not a time zone name, such as Europe/Berlin") from None


class Cron:
    """An expression in a time zone, checked once: its fire times after any moment."""

    def __init__(self, expression: str, zone_name: str) -> None:
        self.expression = five_fields(expression)
        self.zone = zone(zone_name)
        try:
            CronSim(self.expression, datetime.now(self.zone))
        except CronSimError as error:
            raise CronRejected(str(error).rstrip(".")) from None

    def fire_times(self, after: datetime) -> Iterator[datetime]:
        """Fire times strictly after `after` (aware), in UTC, earliest first."""
        for fire_at in CronSim(self.expression, after.astimezone(self.zone)):
            yield fire_at.astimezone(UTC)

    def next_fire(self, after: datetime) -> datetime | None:
        """The first fire time strictly after `after`; None if there is none in 50 years
        (e.g. 30 February)."""
        return next(self.fire_times(after), None)

    def latest_fire(self, at_or_before: datetime) -> datetime | None:
        """The last fire time at or before the moment given, in UTC; None if none in 50 years.

        cronsim's reverse walk only finds a fire time at or before the true one (it steps back
        out of a skipped hour, where the forward walk fires just after it), so this goes
        forward from there to the last one that is due."""
        moment = at_or_before.astimezone(self.zone)
        previous = next(CronSim(self.expression, moment, reverse=True), None)
        if previous is None:
            return None
        latest = None
        for fire_at in self.fire_times(previous - timedelta(seconds=1)):
            if fire_at > at_or_before:
                return latest
            latest = fire_at
        return latest
