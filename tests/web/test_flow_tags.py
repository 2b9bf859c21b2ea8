"""The template filters the run page's rows use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from flows.templatetags.flow_tags import clock, duration, time_until

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


def test_time_until_reads_from_now_in_seconds_then_minutes_and_says_now_once_due():
    now = timezone.now()

    assert time_until(now + timedelta(seconds=12.4)) == "in 12 s"
    assert time_until(now + timedelta(seconds=185.3)) == "in 3 min 05 s"
    assert time_until(now - timedelta(seconds=1)) == "now"
    assert time_until(None) == ""
