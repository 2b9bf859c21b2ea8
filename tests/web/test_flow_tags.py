"""The template filters the run page's rows use."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from flows.templatetags.flow_tags import clock, duration

NINE_O_FIVE = datetime(2026, 11, 30, 9, 5, 7, 250000, tzinfo=UTC)


def test_clock_shows_the_time_of_day_in_the_current_time_zone():
    with timezone.override(ZoneInfo("Europe/Paris")):
        assert clock(NINE_O_FIVE) == "10:05:07"
    assert clock(NINE_O_FIVE) == "09:05:07"  # the site's zone, UTC
    assert clock(None) == ""


def test_duration_reads_in_seconds_then_minutes():
    assert duration(NINE_O_FIVE, NINE_O_FIVE.replace(second=8, microsecond=500000)) == "1.25 s"
    assert duration(NINE_O_FIVE, NINE_O_FIVE.replace(minute=8, second=12)) == "3 min 05 s"
    assert duration(NINE_O_FIVE, None) == ""
