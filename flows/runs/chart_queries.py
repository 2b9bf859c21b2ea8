"""The SQL behind the dashboard's charts: counts read off indexes, never a sort of the runs.

A week can hold a hundred thousand runs. Grouping them (GROUP BY an hour or a flow) makes the
database sort every one on each dashboard render, which on SQLite took a second; counting the
index entries between two keys costs a fraction of that and no sort, so each count here is a
correlated COUNT(*) over an index range:
- runs per hour and status: an hour x status grid, each cell counted on `run_newest_by_status`
  (status, created_at);
- runs per flow and status: the flows' names found by skipping from one name to the next on
  `run_by_flow_status` (name, status, created_at, ...), a few steps per flow rather than a read
  per run, then each cell counted on the same index;
- p50/p95 durations: a bounded sample, the latest SAMPLE completed runs of each flow charted,
  read from that index alone (a run's row holds its snapshot, whose overflow pages lie before
  the times), then percentile_cont on PostgreSQL, or sorted here elsewhere.
The SQL is raw because the ORM has no correlated grid or skip scan; it runs on SQLite and
PostgreSQL alike, with one dialect difference each for durations and percentiles.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import connection

from flows.engine.statuses import FlowStatus
from flows.models import RunRecord

SAMPLE = 500  # completed runs per flow whose durations give its percentiles
PERCENTILES = (0.5, 0.95)
STATUSES = [status.value for status in FlowStatus]


def hourly_counts(start: datetime, hours: int) -> dict[tuple[int, str], int]:
    """Runs created in each hour from `start`, by (hour index, status); zeros left out."""
    hour_rows = ", ".join(["(%s, %s, %s)"] * hours)
    params: list[object] = []
    for index in range(hours):
        params += [index, _at(start, index), _at(start, index + 1)]
    sql = (
        f"WITH hours(i, lo, hi) AS (VALUES {hour_rows}), {_statuses(params)} "
        f"SELECT i, s, (SELECT COUNT(*) FROM {_table()} AS r"
        " WHERE r.status = statuses.s AND r.created_at >= hours.lo AND r.created_at < hours.hi)"
        " FROM hours CROSS JOIN statuses"
    )
    return {(index, status): count for index, status, count in _rows(sql, params) if count}


def flow_counts(start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """Runs created in [start, end) by flow name and status; flows with none left out."""
    table, params = _table(), []
    statuses = _statuses(params)
    sql = (
        f"WITH RECURSIVE names(name) AS (SELECT MIN(name) FROM {table}"
        f" UNION ALL SELECT (SELECT MIN(r.name) FROM {table} AS r WHERE r.name > names.name)"
        f" FROM names WHERE names.name IS NOT NULL), {statuses} "
        f"SELECT names.name, s, (SELECT COUNT(*) FROM {table} AS r WHERE r.name = names.name"
        " AND r.status = statuses.s AND r.created_at >= %s AND r.created_at < %s)"
        " FROM names CROSS JOIN statuses WHERE names.name IS NOT NULL"
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for name, status, count in _rows(sql, [*params, _value(start), _value(end)]):
        if count:
            counts[name][status] = count
    return dict(counts)


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


def _statuses(params: list[object]) -> str:
    """The statuses CTE, its values appended to params."""
    params += STATUSES
    return f"statuses(s) AS (VALUES {', '.join(['(%s)'] * len(STATUSES))})"


def _at(start: datetime, hours: int) -> object:
    return _value(start + timedelta(hours=hours))


def _value(moment: datetime) -> object:
    """A datetime as this backend stores created_at (SQLite: text in UTC)."""
    return connection.ops.adapt_datetimefield_value(moment)


def _table() -> str:
    return connection.ops.quote_name(RunRecord._meta.db_table)


def _rows(sql: str, params: list[object]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
