"""The Runs page's date range (from inclusive, to exclusive, a date alone a whole day), its
messages for bad dates, the pager keeping it, live rows kept to it, and the duration column."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.http import QueryDict
from django.test import Client

from flows.models import RunRecord
from flows.runs.date_range import date_range_from_query
from flows.runs.history import PAGE_SIZE, RunFilter
from flows.runs.runs_list import LiveRow, RunsList, filter_from_query

DAY = datetime(2026, 11, 30, tzinfo=UTC)  # the site's time zone is UTC


def _run(flow_id: str, created: datetime, seconds: float | None = None) -> RunRecord:
    return RunRecord.objects.create(
        flow_id=flow_id,
        name="pay",
        status="completed" if seconds is not None else "running",
        created_at=created,
        started_at=created,
        finished_at=None if seconds is None else created + timedelta(seconds=seconds),
    )


def _shown(client: Client, query: str) -> list[str]:
    page = client.get(f"/runs/?{query}").content.decode()
    return re.findall(r'id="run-row-([^"]+)"', page)


def test_from_is_inclusive_and_to_exclusive(viewer: Client):
    _run("before", DAY - timedelta(seconds=1))
    _run("at-from", DAY)
    _run("inside", DAY + timedelta(hours=5))
    _run("at-to", DAY + timedelta(hours=6))

    assert _shown(viewer, "from=2026-11-30T00:00&to=2026-11-30T06:00") == ["inside", "at-from"]
    assert _shown(viewer, "from=2026-11-30T05:00") == ["at-to", "inside"]
    assert _shown(viewer, "to=2026-11-30T00:00") == ["before"]


def test_a_date_alone_as_to_includes_that_whole_day(viewer: Client):
    _run("late", DAY + timedelta(hours=23, minutes=59))
    _run("next-day", DAY + timedelta(days=1))

    assert _shown(viewer, "from=2026-11-30&to=2026-11-30") == ["late"]


def test_bad_dates_are_explained_and_left_out(viewer: Client):
    _run("any", DAY)

    page = viewer.get("/runs/?from=yesterday&to=2026-13-01").content.decode()

    assert "“From” is not a date: write it like 2026-12-01 or 2026-12-01T14:00." in page
    assert "“To” is not a date" in page
    assert 'aria-invalid="true"' in page
    assert _shown(viewer, "from=yesterday") == ["any"]


def test_a_range_that_ends_before_it_starts_is_explained(viewer: Client):
    _run("any", DAY)

    page = viewer.get("/runs/?from=2026-12-01&to=2026-11-01").content.decode()

    assert "“From” must be before “To”" in page
    assert re.findall(r'id="run-row-([^"]+)"', page) == ["any"]


def test_the_pager_keeps_the_range_and_the_fields_show_it(viewer: Client):
    for number in range(PAGE_SIZE + 2):
        _run(f"r{number:03}", DAY + timedelta(minutes=number))
    _run("outside", DAY + timedelta(days=2))

    page = viewer.get("/runs/?flow=pay&from=2026-11-30&to=2026-11-30").content.decode()
    older = re.search(r'href="\?([^"]*cursor=[^"]*)">Older runs', page).group(1)
    second = viewer.get("/runs/?" + older.replace("&amp;", "&")).content.decode()

    assert older.startswith("flow=pay&amp;from=2026-11-30&amp;to=2026-11-30&amp;cursor=")
    assert 'name="from" value="2026-11-30T00:00"' in page
    assert 'name="to" value="2026-12-01T00:00"' in page  # the midnight that ends the day
    assert re.findall(r'id="run-row-([^"]+)"', second) == ["r001", "r000"]
    assert re.search(r'href="\?flow=pay&amp;from=2026-11-30&amp;to=2026-11-30">Newest', second)


def test_live_rows_are_kept_to_the_range():
    query = QueryDict("from=2026-11-30T00:00&to=2026-11-30T06:00")
    page = RunsList.showing(filter_from_query(query), [], PAGE_SIZE)

    def row(created: datetime) -> LiveRow:
        return LiveRow("f", "pay", "running", (created.timestamp(), "f"), "c", "<tr></tr>")

    assert page.takes(row(DAY + timedelta(hours=1)))
    assert not page.takes(row(DAY + timedelta(hours=6)))
    assert not page.takes(row(DAY - timedelta(seconds=1)))
    assert RunsList.showing(RunFilter(), [], PAGE_SIZE).takes(row(DAY + timedelta(days=9)))


def test_bounds_outside_the_calendar_are_bad_dates():
    dates = date_range_from_query(QueryDict("from=0000-01-01&to=9999-12-31"))

    assert dates.date_from == "" and dates.date_to == ""
    assert len(dates.errors) == 2


def test_the_duration_column_shows_how_long_an_ended_run_took(viewer: Client):
    _run("quick", DAY, seconds=1.25)
    _run("slow", DAY + timedelta(seconds=1), seconds=185)
    _run("going", DAY + timedelta(seconds=2))

    page = viewer.get("/runs/").content.decode()
    cells = {
        flow_id: re.search(r"<td>([^<]*)</td>\s*</tr>", row).group(1)
        for flow_id, row in re.findall(r'(?s)id="run-row-([^"]+)"(.*?</tr>)', page)
    }

    assert '<th scope="col">Duration</th>' in page
    assert cells == {"quick": "1.25 s", "slow": "3 min 05 s", "going": "—"}
