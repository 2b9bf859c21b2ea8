"""The failure inbox's sparkline: failures counted per hour over the last day, and said in
words as well as drawn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flows.failures.sparkline import BUCKETS, HEIGHT, sparkline

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_each_failure_counts_in_its_hour_and_older_ones_are_left_out():
    times = [
        NOW,  # the last hour's end
        NOW - timedelta(minutes=30),
        NOW - timedelta(hours=23, minutes=59),  # the first hour
        NOW - timedelta(hours=24),  # a day ago exactly: out
        NOW + timedelta(seconds=1),  # not yet: out
    ]

    line = sparkline(times, NOW)

    assert [bar.count for bar in line.bars] == [1] + [0] * (BUCKETS - 2) + [2]
    assert line.total == 3
    assert line.bars[0].start == NOW - timedelta(hours=24)


def test_the_busiest_hour_is_full_height_and_a_single_failure_still_shows():
    times = [NOW - timedelta(minutes=5)] * 500 + [NOW - timedelta(hours=5)]

    bars = sparkline(times, NOW).bars

    assert (bars[-1].height, bars[-1].y) == (HEIGHT, 0)
    assert bars[-5].count == 1 and bars[-5].height == 1.0
    assert bars[0].height == 0


def test_it_says_in_words_what_it_draws():
    assert sparkline([], NOW).label == "No failures in the last 24 hours"
    times = [NOW - timedelta(minutes=90), NOW - timedelta(minutes=80), NOW]
    assert sparkline(times, NOW).label == (
        "3 in the last 24 hours, at most 2 in one hour (from 10:00)"
    )
