"""The SQL behind the dashboard's charts: never a read of each run charted.

A week can hold a hundred thousand runs, and counting them costs by the run even off an index
(70 ms on PostgreSQL). So runs are counted from RunTally, which the database keeps per hour, flow
and status as runs are written: a week is at most 168 rows per flow and status.

p50/p95 durations are read from a bounded sample, the latest SAMPLE completed runs of each flow
charted, off the `run_by_flow_status` index alone (a run's row holds its snapshot, whose overflow
pages lie before the times), then percentile_cont on PostgreSQL, or sorted here elsewhere. That
SQL is raw because the ORM has no per-group LIMIT; it has one dialect difference each for
durations and percentiles.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import QuerySet, Sum

from flows.engine.statuses import FlowStatus
from flows.models import RunRecord, RunTally

SAMPLE = 500  # completed runs per flow whose durations give its percentiles
PERCENTILES = (0.5, 0.95)
STATUSES = [status.value for status in FlowStatus]


def hourly_counts(start: datetime, hours: int) -> dict[tuple[int, str], int]:
    """Runs created in each hour from `start` (a whole UTC hour), by (hour index, status);
    zeros left out."""
    cells = (
        _tallies(start, start + timedelta(hours=hours))
        .values_list("hour", "status")
        .annotate(runs=Sum("runs"))
    )
    return {
        (int((hour - start).total_seconds()) // 3600, status): runs
        for hour, status, runs in cells
        if runs
    }


def flow_counts(start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """Runs created in [start, end) (whole UTC hours) by flow name and status; flows with none
    left out."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    cells = _tallies(start, end).values_list("name", "status").annotate(runs=Sum("runs"))
    for name, status, runs in cells:
        if runs:
            counts[name][status] = runs
    return dict(counts)


def _tallies(start: datetime, end: datetime) -> QuerySet[RunTally]:
    return RunTally.objects.filter(hour__gte=start, hour__lt=end).order_by()


def completed_percentiles(
    names: list[str], start: datetime, end: datetime
) -> dict[str, tuple[float, float]]:
    """Each named flow's (p50, p95) duration in seconds, to the millisecond, over its latest
    SAMPLE runs completed in [start, end) (percentile_cont's definition); flows with none
    left out."""
    if not names:
        return {}
    sample, params = _sample(names, start, end)
    if connection.vendor == "postgresql":
        fractions = ", ".join(
            f"PERCENTILE_CONT({p}) WITHIN GROUP (ORDER BY duration)" for p in PERCENTILES
        )
        sql = f"SELECT name, {fractions} FROM ({sample}) AS sample GROUP BY name"
        return {name: (_ms(p50), _ms(p95)) for name, p50, p95 in _rows(sql, params)}
    return _sampled_percentiles(sample, params)


def _sample(names: list[str], start: datetime, end: datetime) -> tuple[str, list[object]]:
    if connection.vendor == "postgresql":
        duration = "CAST(EXTRACT(EPOCH FROM (finished_at - started_at)) AS DOUBLE PRECISION)"
    else:
        duration = "(julianday(finished_at) - julianday(started_at)) * 86400.0"
    one_flow = (
        f"SELECT * FROM (SELECT name, {duration} AS duration FROM {_table()}"
        " WHERE name = %s AND status = %s AND created_at >= %s AND created_at < %s"
        " AND started_at IS NOT NULL AND finished_at IS NOT NULL"
        f" ORDER BY created_at DESC LIMIT {SAMPLE}) AS latest{{}}"
    )
    params: list[object] = []
    for name in names:
        params += [name, FlowStatus.COMPLETED.value, _value(start), _value(end)]
    return " UNION ALL ".join(one_flow.format(index) for index in range(len(names))), params


def _sampled_percentiles(sample: str, params: list[object]) -> dict[str, tuple[float, float]]:
    """percentile_cont for a backend without it (SQLite): the sample is bounded (SAMPLE runs a
    flow), so it is read and ranked here; ranking it in SQL with window functions cost more
    than reading it."""
    durations: dict[str, list[float]] = defaultdict(list)
    for name, duration in _rows(sample, params):
        durations[name].append(duration)
    percentiles = {}
    for name, values in durations.items():
        values.sort()
        p50, p95 = (_ms(_interpolate(values, fraction)) for fraction in PERCENTILES)
        percentiles[name] = (p50, p95)
    return percentiles


def _interpolate(ranked: list[float], fraction: float) -> float:
    """percentile_cont's value of sorted values: between the two around fraction * (n - 1)."""
    position = fraction * (len(ranked) - 1)
    lower = math.floor(position)
    if lower + 1 >= len(ranked):
        return ranked[lower]
    return ranked[lower] + (position - lower) * (ranked[lower + 1] - ranked[lower])


def _ms(seconds: float) -> float:
    """To the millisecond: SQLite's julianday() differences carry noise of some microseconds."""
    return round(seconds, 3)


def _value(moment: datetime) -> object:
    """A datetime as this backend stores created_at (SQLite: text in UTC)."""
    return connection.ops.adapt_datetimefield_value(moment)


def _table() -> str:
    return connection.ops.quote_name(RunRecord._meta.db_table)


def _rows(sql: str, params: list[object]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
