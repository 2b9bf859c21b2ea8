"""Where live rows go on an open Runs list: replaced in place, new ones where they sort, one page
kept. Plain functions of what the page shows: no socket, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.http import QueryDict

from flows.models import RunRecord
from flows.runs.history import RunFilter
from flows.runs.runs_list import LiveRow, RunsList, filter_from_query, take_rows

TEN_O_CLOCK = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
EVERY_RUN = RunFilter()


def _record(flow_id: str, minute: int, status: str = "running") -> RunRecord:
    created_at = TEN_O_CLOCK + timedelta(minutes=minute)
    return RunRecord(flow_id=flow_id, name="pair", status=status, created_at=created_at)


def _row(flow_id: str, minute: int, status: str = "running") -> LiveRow:
    return LiveRow.of(_record(flow_id, minute, status), f"<tr {flow_id}>")


def _page(*minutes: int, page_size: int = 3, run_filter: RunFilter = EVERY_RUN) -> RunsList:
    """A page showing runs launched at these minutes, newest first, named by their minute."""
    runs = [_record(f"m{minute}", minute) for minute in sorted(minutes, reverse=True)]
    return RunsList.showing(run_filter, runs, page_size)


def _shown(page: RunsList) -> list[str]:
    return [row.flow_id for row in page.rows]


def test_a_row_the_page_shows_replaces_its_own_and_nothing_moves():
    page = _page(20, 10)

    update = take_rows(page, [_row("m10", 10, status="completed")])

    assert update.replaced == ["<tr m10>"]
    assert (update.inserted, update.pushed_out, update.no_runs_gone) == ([], [], False)
    assert update.page == page


def test_a_new_run_goes_in_above_the_first_row_older_than_it():
    update = take_rows(_page(30, 10), [_row("new", 20)])

    assert update.inserted == [("m10", ["<tr new>"])]
    assert _shown(update.page) == ["m30", "new", "m10"]


def test_a_run_older_than_every_row_goes_at_the_bottom_of_a_page_not_yet_full():
    update = take_rows(_page(30), [_row("old", 5)])

    assert update.inserted == [(None, ["<tr old>"])]
    assert _shown(update.page) == ["m30", "old"]


def test_the_first_row_of_an_empty_page_takes_the_place_of_no_runs():
    update = take_rows(_page(), [_row("first", 0)])

    assert update.no_runs_gone
    assert update.inserted == [(None, ["<tr first>"])]


def test_a_full_page_keeps_to_its_size_and_its_pager_links_past_the_last_row_left():
    page = _page(30, 20, 10)

    update = take_rows(page, [_row("new", 40)])

    assert update.inserted == [("m30", ["<tr new>"])]
    assert update.pushed_out == ["m10"]
    assert _shown(update.page) == ["new", "m30", "m20"]
    assert update.next_cursor == page.rows[1].cursor  # m20's: the next page starts after it


def test_a_full_page_leaves_out_a_run_older_than_its_last_row():
    update = take_rows(_page(30, 20, 10), [_row("old", 5)])

    assert (update.inserted, update.pushed_out) == ([], [])


def test_a_burst_of_new_runs_shows_only_a_page_of_the_newest_in_order():
    rows = [_row(f"b{minute}", minute) for minute in (41, 43, 42, 44)]

    update = take_rows(_page(10, page_size=2), rows)

    assert update.inserted == [("m10", ["<tr b44>", "<tr b43>"])]
    assert update.pushed_out == ["m10"]
    assert _shown(update.page) == ["b44", "b43"]


def test_new_rows_are_grouped_by_the_row_they_go_in_above():
    rows = [_row("a", 25), _row("b", 15), _row("c", 24)]

    update = take_rows(_page(30, 20, 10, page_size=10), rows)

    assert update.inserted == [("m20", ["<tr a>", "<tr c>"]), ("m10", ["<tr b>"])]


def test_only_the_first_page_takes_new_runs():
    later_page = RunFilter(cursor=_page(50).rows[0].cursor)

    update = take_rows(_page(30, run_filter=later_page), [_row("new", 40)])

    assert (update.inserted, _shown(update.page)) == ([], ["m30"])


def test_a_filtered_page_takes_only_runs_that_match_it():
    failed = RunFilter(status="failed")
    rows = [_row("done", 40, "completed"), _row("broke", 41, "failed")]

    update = take_rows(_page(30, run_filter=failed), rows)

    assert update.inserted == [("m30", ["<tr broke>"])]


def test_a_row_survives_the_channel_layer_as_it_was_sent():
    row = _row("r", 1)

    message = row.to_message()

    assert isinstance(message["key"], list)  # as the layer's serializer would carry it
    assert LiveRow.from_message(message) == row


def test_the_filter_is_read_from_the_page_query():
    query = QueryDict("flow=pair&status=failed&cursor=c&other=x")

    assert filter_from_query(query) == RunFilter("pair", "failed", "c")
    assert filter_from_query(QueryDict("")) == RunFilter()
