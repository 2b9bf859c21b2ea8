"""The dashboard's charts: their numbers after known runs, as functions and as drawn SVG."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from flows.models import RunRecord
from flows.runs.chart_drawing import dashboard_charts, seconds_text
from flows.runs.chart_queries import SAMPLE
from flows.runs.charts import WEEK_HOURS, chart_data

# 10:30 UTC: the week's last 6-hour bar is 06:00-12:00, the day's last bar 10:00-11:00.
NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
RUN_NUMBERS = itertools.count()


def _run(name: str, status: str, created: datetime, seconds: float | None = None) -> RunRecord:
    started = created + timedelta(seconds=1)
    return RunRecord.objects.create(
        flow_id=f"run{next(RUN_NUMBERS):05}",
        name=name,
        status=status,
        created_at=created,
        started_at=started,
        finished_at=None if seconds is None else started + timedelta(seconds=seconds),
    )


def test_runs_are_counted_per_hour_and_per_six_hours_by_status(db: None):
    _run("a", "completed", NOW - timedelta(minutes=20), 1)  # 10:10, this hour
    _run("a", "failed", NOW - timedelta(minutes=25), 1)  # 10:05
    _run("b", "failed", NOW - timedelta(hours=2), 1)  # 08:30
    _run("a", "running", NOW - timedelta(hours=5))  # 05:30, the 00-06 block
    _run("a", "completed", NOW - timedelta(days=3), 1)  # 29 Nov 10:30
    _run("a", "completed", NOW - timedelta(days=8), 1)  # before the week: not counted

    data = chart_data(NOW)

    day = {bucket.start.hour: bucket.counts for bucket in data.last_day if bucket.total}
    assert len(data.last_day) == 24
    assert data.last_day[-1].start == datetime(2026, 12, 2, 10, tzinfo=UTC)
    assert day == {
        10: {**_zeros(), "completed": 1, "failed": 1},
        8: {**_zeros(), "failed": 1},
        5: {**_zeros(), "running": 1},
    }
    week = {bucket.start: bucket.total for bucket in data.week if bucket.total}
    assert len(data.week) == WEEK_HOURS // 6 == 28
    assert week == {
        datetime(2026, 12, 2, 6, tzinfo=UTC): 3,
        datetime(2026, 12, 2, 0, tzinfo=UTC): 1,
        datetime(2026, 11, 29, 6, tzinfo=UTC): 1,
    }
    assert data.week[-1].end == datetime(2026, 12, 2, 12, tzinfo=UTC)


def test_percentiles_are_percentile_cont_of_completed_runs_per_flow(db: None):
    for seconds in (1, 2, 3, 10):
        _run("steady", "completed", NOW - timedelta(hours=1), seconds)
    _run("steady", "failed", NOW - timedelta(hours=1), 500)  # failed: not a duration
    _run("steady", "running", NOW - timedelta(hours=1))  # not finished
    _run("once", "completed", NOW - timedelta(hours=1), 0.25)

    flows = {flow.name: flow for flow in chart_data(NOW).flows}

    assert (flows["steady"].p50, flows["steady"].p95) == (2.5, 8.95)  # 3 + 0.85 * (10 - 3)
    assert (flows["once"].p50, flows["once"].p95) == (0.25, 0.25)


def test_percentiles_are_of_the_latest_completed_runs_only(db: None):
    older = [_record(n, NOW - timedelta(hours=30, seconds=n), 100) for n in range(10)]
    latest = [_record(n, NOW - timedelta(hours=1, seconds=n), 1) for n in range(10, 10 + SAMPLE)]
    RunRecord.objects.bulk_create(older + latest)

    flow = chart_data(NOW).flows[0]

    assert (flow.runs, flow.p50, flow.p95) == (SAMPLE + 10, 1.0, 1.0)  # the 100 s runs left out


def test_the_failure_rate_is_failed_over_ended_runs(db: None):
    for status in ("completed", "completed", "failed", "cancelled", "running", "queued"):
        _run("mixed", status, NOW - timedelta(hours=3), 1)
    _run("going", "running", NOW - timedelta(hours=3))

    flows = {flow.name: flow for flow in chart_data(NOW).flows}

    assert (flows["mixed"].runs, flows["mixed"].ended, flows["mixed"].failed) == (6, 4, 1)
    assert flows["mixed"].failure_rate == 0.25
    assert flows["going"].failure_rate == 0.0
    assert [row.name for row in dashboard_charts(chart_data(NOW))["failure_chart"].rows] == [
        "mixed"
    ]


def test_the_dashboard_draws_the_numbers_with_words_and_links_to_the_runs(viewer: Client):
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    for status in ("failed", "failed", "completed"):
        _run("pay", status, hour + timedelta(seconds=5), 2)
    _run("pay", "completed", hour + timedelta(seconds=6), 4)

    page = viewer.get("/").content.decode()

    assert '<article class="count-failed"><strong>2</strong>' in page  # the day's counts
    assert 'data-status="failed" data-count="2"' in page
    assert 'data-status="completed" data-count="2"' in page
    frm, to = _minute(hour), _minute(hour + timedelta(hours=1))
    assert f"/runs/?status=failed&amp;from={frm}&amp;to={to}" in page
    assert f"<title>{frm.replace('T', ' ')} to {to.replace('T', ' ')}: 2 failed</title>" in page
    assert "50.0% (2 of 4 ended)" in page  # the failure rate, in words
    assert "p50 3 s · p95 3.9 s" in page  # 2 s and 4 s: 3 and 2 + 0.95 * 2
    assert re.search(r'href="/runs/\?flow=pay&amp;status=failed&amp;from=[-\dT:]+"', page)
    for status in ("queued", "created", "running", "completed", "failed", "cancelled"):
        assert f'fill="url(#chart-fill-{status})"' in page  # its pattern, in the legend
        assert f'id="chart-fill-{status}"' in page


def test_an_empty_archive_draws_empty_charts(viewer: Client):
    page = viewer.get("/").content.decode()

    assert 'id="dashboard-charts"' in page
    assert page.count("No runs to chart yet.") == 2
    assert "data-count" not in page


def test_durations_are_written_in_words():
    assert [seconds_text(value) for value in (0.25, 2.5, 8.95, 185, 7500, None)] == [
        "250 ms",
        "2.5 s",
        "8.95 s",
        "3 min 05 s",
        "2 h 05 min",
        "—",
    ]


def test_the_dashboard_needs_a_login_and_the_view_permission(client: Client, db: None):
    assert client.get("/").status_code == 302
    client.force_login(User.objects.create_user("nobody"))

    assert client.get("/").status_code == 403


def test_the_dashboard_queries_are_bounded_not_per_run_nor_per_flow(viewer: Client):
    _runs(flows=2, count=10)
    few = _queries(viewer)
    _runs(flows=40, count=400)

    many = _queries(viewer)

    assert many == few
    # Session, user, its two permission reads; running, failures; the charts' hours, flows
    # and percentiles (the 24-hour counts are the chart's).
    assert many <= 9


def _runs(flows: int, count: int) -> None:
    for number in range(count):
        status = "failed" if number % 3 else "completed"
        _run(f"flow{number % flows}", status, timezone.now() - timedelta(hours=number % 150), 1)


def _queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    return len(captured)


def _record(number: int, created: datetime, seconds: float) -> RunRecord:
    return RunRecord(
        flow_id=f"bulk{number:05}",
        name="busy",
        status="completed",
        created_at=created,
        started_at=created,
        finished_at=created + timedelta(seconds=seconds),
    )


def _zeros() -> dict[str, int]:
    return dict.fromkeys(("queued", "created", "running", "completed", "failed", "cancelled"), 0)


def _minute(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")
