"""A sparkline of when a group's failures happened: counts per hour over the last day, as the
bars templates/flows/_sparkline.html draws in inline SVG. Pure Python, no Django.

Drawn on the server with the page, so it is there before any script runs and a live update is
the same HTML again; a chart library would be a script to vendor for a few rectangles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

BUCKETS = 24
BUCKET = timedelta(hours=1)
BAR_WIDTH = 4
GAP = 1
HEIGHT = 20


@dataclass(frozen=True)
class Bar:
    x: int
    y: float
    height: float
    count: int
    start: datetime


@dataclass(frozen=True)
class Sparkline:
    bars: tuple[Bar, ...]
    total: int
    width: int = BUCKETS * (BAR_WIDTH + GAP)
    height: int = HEIGHT
    bar_width: int = BAR_WIDTH

    @property
    def label(self) -> str:
        """What the picture says, in words: for screen readers and as its tooltip."""
        busiest = max(self.bars, key=lambda bar: bar.count)
        if not self.total:
            return "No failures in the last 24 hours"
        return (
            f"{self.total} in the last 24 hours, at most {busiest.count} in one hour "
            f"(from {busiest.start:%H:%M})"
        )


def sparkline(times: Iterable[datetime], now: datetime) -> Sparkline:
    """Bars of how many of these times fall in each of the BUCKETS hours before `now` (oldest
    first, the last one ending at `now`); times outside that day are left out."""
    start = now - BUCKETS * BUCKET
    counts = [0] * BUCKETS
    for moment in times:
        if start < moment <= now:
            index = min(int((moment - start) / BUCKET), BUCKETS - 1)
            counts[index] += 1
    tallest = max(counts) or 1
    bars = []
    for index, count in enumerate(counts):
        # A bucket with failures is at least one pixel tall, however tall the tallest.
        height = max(HEIGHT * count / tallest, 1.0) if count else 0.0
        bars.append(
            Bar(index * (BAR_WIDTH + GAP), HEIGHT - height, height, count, start + index * BUCKET)
        )
    return Sparkline(tuple(bars), sum(counts))
