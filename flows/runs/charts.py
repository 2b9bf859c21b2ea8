"""The dashboard's chart data, read from the run archive in a fixed number of aggregate queries.

Three queries, whatever the number of runs: runs per hour by status over the last week (the
24-hour chart takes its last 24 hours, the 7-day chart folds them into 6-hour bars), runs and
failures per flow, and each flow's p50/p95 duration. Each groups in the database and returns
at most a few rows per hour or per flow, never a row per run; the covering index `run_charts`
(created_at, status, name, started_at, finished_at) lets SQLite answer all three from the index
alone.

Hours are counted from the Unix epoch, so bars start on whole UTC hours (and 6-hour bars at 00,
06, 12 and 18 UTC) in every backend without a time-zone function per row.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Func, IntegerField, Q, Value
from django.utils import timezone

from flows.engine.statuses import FINAL_FLOW_STATUSES, FlowStatus
from flows.models import RunRecord

HOUR = 3600
DAY_HOURS = 24
WEEK_BAR_HOURS = 6  # the 7-day chart's bars: 28 of them (docs/operations.md says why)
WEEK_HOURS = 7 * 24
PERCENTILES = (0.5, 0.95)


class EpochSeconds(Func):
    """Whole seconds since the Unix epoch of a datetime column, with each backend's own
    built-in function (Django's Extract/Trunc call a Python function per row on SQLite)."""

    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        return self.as_sql(
            compiler, connection, template="CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)"
        )

    def as_postgresql(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        return self.as_sql(
            compiler,
            connection,
            template="CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s)) AS BIGINT)",
        )


class DurationSeconds(Func):
    """finished_at - started_at in seconds, as a float, with each backend's built-ins."""

    output_field = FloatField()

    def __init__(self) -> None:
        super().__init__(F("finished_at"), F("started_at"))

    def as_sqlite(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        template = "((julianday(%(expressions)s)) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, arg_joiner=") - julianday(")

    def as_postgresql(self, compiler, connection, **extra):  # type: ignore[no-untyped-def]
        template = "EXTRACT(EPOCH FROM (%(expressions)s))"
        return self.as_sql(compiler, connection, template=template, arg_joiner=" - ")


class PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Func, fraction: float) -> None:
        super().__init__(expression, fraction=float(fraction))


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
    duration (seconds, PostgreSQL's percentile_cont) of its completed runs (None: none)."""

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
            _merge(self.hours[first : first + WEEK_BAR_HOURS])
            for first in range(0, WEEK_HOURS, WEEK_BAR_HOURS)
        ]


def chart_data(now: datetime | None = None) -> ChartData:
    """The charts' numbers for the week up to `now` (default: the current time)."""
    window = Window.ending_after(now or timezone.now())
    in_window = RunRecord.objects.filter(created_at__gte=window.start, created_at__lt=window.end)
    percentiles = _percentiles(in_window)
    flows = []
    for row in _flow_counts(in_window):
        p50, p95 = percentiles.get(row["name"], (None, None))
        flows.append(FlowStats(**row, p50=p50, p95=p95))
    return ChartData(window, _hourly(in_window, window), flows)


def _hourly(in_window, window: Window) -> list[Bucket]:  # type: ignore[no-untyped-def]
    hour = (EpochSeconds("created_at") - Value(int(window.start.timestamp()))) / Value(HOUR)
    rows = (
        in_window.annotate(hour=hour)
        .values_list("hour", "status")
        .annotate(count=Count("id"))
        .order_by()
    )
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for index, status, count in rows:
        counts[index][status] = count
    statuses = [status.value for status in FlowStatus]
    return [
        Bucket(
            window.hour_start(index),
            window.hour_start(index + 1),
            {status: counts[index].get(status, 0) for status in statuses},
        )
        for index in range(WEEK_HOURS)
    ]


def _flow_counts(in_window) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    final = [status.value for status in FINAL_FLOW_STATUSES]
    rows = (
        in_window.values("name")
        .annotate(
            runs=Count("id"),
            ended=Count("id", filter=Q(status__in=final)),
            failed=Count("id", filter=Q(status=FlowStatus.FAILED)),
        )
        .order_by("-runs", "name")
    )
    return list(rows)


def _completed_with_times(in_window):  # type: ignore[no-untyped-def]
    return in_window.filter(
        status=FlowStatus.COMPLETED, started_at__isnull=False, finished_at__isnull=False
    )


def _percentiles(in_window) -> dict[str, tuple[float, float]]:  # type: ignore[no-untyped-def]
    """Each flow's (p50, p95) completed-run duration, in seconds, computed in the database."""
    completed = _completed_with_times(in_window)
    if connection.vendor == "postgresql":
        rows = (
            completed.values("name")
            .annotate(
                p50=PercentileCont(DurationSeconds(), PERCENTILES[0]),
                p95=PercentileCont(DurationSeconds(), PERCENTILES[1]),
            )
            .order_by()
        )
        return {row["name"]: (_ms(row["p50"]), _ms(row["p95"])) for row in rows}
    return _ranked_percentiles(completed)


def _ranked_percentiles(completed) -> dict[str, tuple[float, float]]:  # type: ignore[no-untyped-def]
    """percentile_cont for a backend without it (SQLite): window functions rank each flow's
    durations in SQL and return only the (at most four) ranks either side of each percentile,
    which are interpolated here exactly as percentile_cont does."""
    inner, params = (
        completed.annotate(duration=DurationSeconds())
        .values_list("name", "duration")
        .query.sql_with_params()
    )
    ranks = " OR ".join(
        f"position IN (CAST({p} * (total - 1) AS INTEGER), CAST({p} * (total - 1) AS INTEGER) + 1)"
        for p in PERCENTILES
    )
    sql = (
        "SELECT name, position, total, duration FROM ("
        " SELECT name, duration,"
        " ROW_NUMBER() OVER (PARTITION BY name ORDER BY duration) - 1 AS position,"
        " COUNT(*) OVER (PARTITION BY name) AS total"
        f" FROM ({inner}) AS durations"
        f") AS ranked WHERE {ranks}"
    )
    values: dict[str, dict[int, float]] = defaultdict(dict)
    totals: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for name, position, total, duration in cursor.fetchall():
            values[name][position] = duration
            totals[name] = total
    return {
        name: tuple(_ms(_interpolate(values[name], totals[name], p)) for p in PERCENTILES)  # type: ignore[misc]
        for name in values
    }


def _interpolate(ranked: dict[int, float], total: int, fraction: float) -> float:
    """percentile_cont's value between the two ranks around fraction * (total - 1)."""
    position = fraction * (total - 1)
    lower = math.floor(position)
    if lower + 1 >= total:
        return ranked[lower]
    return ranked[lower] + (position - lower) * (ranked[lower + 1] - ranked[lower])


def _ms(seconds: float) -> float:
    """To the millisecond: SQLite's julianday() differences carry noise of some microseconds."""
    return round(seconds, 3)


def _merge(buckets: list[Bucket]) -> Bucket:
    counts = {
        status: sum(bucket.counts[status] for bucket in buckets) for status in buckets[0].counts
    }
    return Bucket(buckets[0].start, buckets[-1].end, counts)
