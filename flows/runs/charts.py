"""The dashboard's chart data: runs per hour by status over the last week (the 24-hour chart
takes its last 24 hours, the 7-day chart folds them into 6-hour bars), and per flow its runs,
failures and p50/p95 duration. Three queries whatever the number of runs (chart_queries.py).

Hours are counted from the Unix epoch, so bars start on whole UTC hours (and 6-hour bars at 00,
06, 12 and 18 UTC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from flows.engine.statuses import FINAL_FLOW_STATUSES, FlowStatus
from flows.runs import chart_queries

HOUR = 3600
DAY_HOURS = 24
WEEK_BAR_HOURS = 6  # the 7-day chart's bars: 28 of them (docs/operations.md says why)
WEEK_HOURS = 7 * 24
CHARTED_FLOWS = 10  # the flows with the most runs, whose durations are charted


@dataclass(frozen=True)
class Window:
    """The hours the charts cover: WEEK_HOURS whole hours up to the end of the current 6-hour
    block, so both charts' bars start on whole hours and the week's on 6-hour boundaries."""

    start: datetime
    end: datetime
    current_hour: int  # the hour `moment` falls in, counted from start

    @classmethod
    def ending_after(cls, moment: datetime) -> Window:
        block = WEEK_BAR_HOURS * HOUR
        end_epoch = (math.floor(moment.timestamp()) // block + 1) * block
        end = datetime.fromtimestamp(end_epoch, UTC)
        start = end - timedelta(hours=WEEK_HOURS)
        return cls(start, end, int((moment - start).total_seconds()) // HOUR)

    def hour_start(self, hour: int) -> datetime:
        return self.start + timedelta(hours=hour)


@dataclass(frozen=True)
class Bucket:
    """Runs created in [start, end), counted by status (every FlowStatus, zeros included)."""

    start: datetime
    end: datetime
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class FlowStats:
    """One flow's runs in the window: how many, how many ended and failed, and the p50/p95
    duration in seconds of its latest completed runs (chart_queries.SAMPLE of them;
    percentile_cont's definition), None when it has none or is not among the CHARTED_FLOWS."""

    name: str
    runs: int
    ended: int
    failed: int
    p50: float | None = None
    p95: float | None = None

    @property
    def failure_rate(self) -> float:
        """Failed runs over runs that ended (completed, failed or cancelled); 0 when none did."""
        return self.failed / self.ended if self.ended else 0.0


@dataclass(frozen=True)
class ChartData:
    window: Window
    hours: list[Bucket]  # WEEK_HOURS hourly buckets, oldest first
    flows: list[FlowStats]  # every flow with a run in the window, most runs first

    @property
    def last_day(self) -> list[Bucket]:
        """The 24 hourly buckets up to the current hour's, oldest first."""
        last = self.window.current_hour + 1
        return self.hours[last - DAY_HOURS : last]

    @property
    def week(self) -> list[Bucket]:
        """The week in 6-hour buckets."""
        return [
            merge_buckets(self.hours[first : first + WEEK_BAR_HOURS])
            for first in range(0, WEEK_HOURS, WEEK_BAR_HOURS)
        ]


def chart_data(now: datetime | None = None) -> ChartData:
    """The charts' numbers for the week up to `now` (default: the current time)."""
    window = Window.ending_after(now or timezone.now())
    counts = chart_queries.hourly_counts(window.start, WEEK_HOURS)
    hours = [
        Bucket(
            window.hour_start(index),
            window.hour_start(index + 1),
            {status: counts.get((index, status), 0) for status in chart_queries.STATUSES},
        )
        for index in range(WEEK_HOURS)
    ]
    by_flow = sorted(
        chart_queries.flow_counts(window.start, window.end).items(),
        key=lambda item: (-sum(item[1].values()), item[0]),
    )
    charted = [name for name, _counts in by_flow[:CHARTED_FLOWS]]
    percentiles = chart_queries.completed_percentiles(charted, window.start, window.end)
    flows = [_flow_stats(name, statuses, percentiles.get(name)) for name, statuses in by_flow]
    return ChartData(window, hours, flows)


def _flow_stats(
    name: str, counts: dict[str, int], percentiles: tuple[float, float] | None
) -> FlowStats:
    p50, p95 = percentiles or (None, None)
    return FlowStats(
        name,
        runs=sum(counts.values()),
        ended=sum(counts.get(status, 0) for status in FINAL_FLOW_STATUSES),
        failed=counts.get(FlowStatus.FAILED, 0),
        p50=p50,
        p95=p95,
    )


def merge_buckets(buckets: list[Bucket]) -> Bucket:
    """One bucket counting the runs of consecutive buckets."""
    counts = {
        status: sum(bucket.counts[status] for bucket in buckets) for status in buckets[0].counts
    }
    return Bucket(buckets[0].start, buckets[-1].end, counts)
