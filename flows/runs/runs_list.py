"""Where live rows go on an open Runs list: plain functions of what the page shows, no socket.

A Runs page shows one page of runs, newest first (history's keyset order). After each archived
batch the feeds send the batch's rows to every watching Runs page, and each page takes them:
- a row it shows replaces its own;
- a row it does not show but would (the page is the first, the run matches its filter, and it
  sorts above the last row shown or the page is not full: launched since, or just come to match
  a status) goes in where it sorts;
- it keeps to one page: the rows pushed past the page leave it, and its pager then links past
  the last row still shown.
The consumer keeps the page's RunsList and sends what take_rows says, rendered (feeds.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.http import QueryDict

from flows.models import RunRecord
from flows.runs import history
from flows.runs.date_range import date_range_from_query
from flows.runs.history import RunFilter

SortKey = tuple[float, str]


def filter_from_query(query: QueryDict) -> RunFilter:
    """The Runs page's filter from its query string (the page's, or its socket's); a date
    bound that is not valid is left out (date_range_from_query says why, for the page)."""
    dates = date_range_from_query(query)
    return RunFilter(
        query.get("flow", ""),
        query.get("status", ""),
        query.get("cursor", ""),
        query.get("trigger", ""),
        dates.date_from,
        dates.date_to,
    )


@dataclass(frozen=True)
class LiveRow:
    """A run's row as the feeds send it to Runs pages: where it sorts, its next-page cursor, and
    what a filter matches it by. Travels as a dict (to_message) over the channel layer."""

    flow_id: str
    name: str
    status: str
    key: SortKey
    cursor: str
    html: str
    trigger: str = ""

    @classmethod
    def of(cls, record: RunRecord, html: str) -> LiveRow:
        key, cursor = history.sort_key(record), history.encode_cursor(record)
        return cls(
            record.flow_id, record.name, record.status, key, cursor, html, record.trigger_kind
        )

    @classmethod
    def from_message(cls, row: dict[str, Any]) -> LiveRow:
        # A channel layer message turns the key's tuple into a list.
        return cls(**{**row, "key": tuple(row["key"])})

    def to_message(self) -> dict[str, Any]:
        return {**asdict(self), "key": list(self.key)}


@dataclass(frozen=True)
class ShownRow:
    flow_id: str
    key: SortKey
    cursor: str


@dataclass(frozen=True)
class RunsList:
    """What an open Runs page shows: its filter, and its rows top to bottom."""

    filter: RunFilter
    rows: tuple[ShownRow, ...]
    page_size: int

    @classmethod
    def showing(cls, run_filter: RunFilter, runs: list[RunRecord], page_size: int) -> RunsList:
        rows = (ShownRow(r.flow_id, history.sort_key(r), history.encode_cursor(r)) for r in runs)
        return cls(run_filter, tuple(rows), page_size)

    def takes(self, row: LiveRow) -> bool:
        """Whether a row this page does not show belongs on it."""
        if not self.filter.first_page or not self.filter.matches(
            row.name, row.status, row.trigger, row.key[0]
        ):
            return False
        return len(self.rows) < self.page_size or row.key > self.rows[-1].key

    def first_older_than(self, key: SortKey) -> str | None:
        """The row shown highest that sorts below `key`: a new row goes in just above it."""
        return next((shown.flow_id for shown in self.rows if shown.key < key), None)


@dataclass(frozen=True)
class RowsUpdate:
    """What a batch of rows does to a page, in the order the page must be told."""

    page: RunsList  # what the page shows afterwards
    replaced: list[str]  # the html of rows it shows, each replacing its own
    no_runs_gone: bool  # it showed no rows, and now does: its "no runs" row goes
    # New rows, newest first, grouped by the row they go in above (None: at the bottom).
    inserted: list[tuple[str | None, list[str]]]
    pushed_out: list[str]  # flow ids of the rows that leave the page
    next_cursor: str  # where the next page starts, once rows were pushed out


def take_rows(page: RunsList, rows: list[LiveRow]) -> RowsUpdate:
    """Place a batch of rows on the page (see the module's docstring)."""
    shown = {row.flow_id for row in page.rows}
    replaced = [row.html for row in rows if row.flow_id in shown]
    added = {row.flow_id: row for row in rows if row.flow_id not in shown and page.takes(row)}
    # Of a burst of new runs, only as many as fit on the page.
    newest = sorted(added.values(), key=lambda row: row.key, reverse=True)[: page.page_size]
    inserted: dict[str | None, list[str]] = {}
    for row in newest:
        inserted.setdefault(page.first_older_than(row.key), []).append(row.html)
    new_rows = (ShownRow(row.flow_id, row.key, row.cursor) for row in newest)
    ordered = sorted([*page.rows, *new_rows], key=lambda row: row.key, reverse=True)
    kept, pushed_out = ordered[: page.page_size], ordered[page.page_size :]
    return RowsUpdate(
        page=RunsList(page.filter, tuple(kept), page.page_size),
        replaced=replaced,
        no_runs_gone=bool(newest) and not page.rows,
        inserted=list(inserted.items()),
        pushed_out=[row.flow_id for row in pushed_out],
        next_cursor=kept[-1].cursor if pushed_out else "",
    )
