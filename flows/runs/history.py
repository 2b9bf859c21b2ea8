"""Reads of the run archive for the Runs page and the dashboard.

The Runs page pages by keyset on (created_at, flow_id), newest first: the cost of a page does
not grow with how many runs came before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.db.models import Q

from flows.engine.statuses import FlowStatus
from flows.models import RunRecord
from flows.runs import date_range
from flows.runs.chart_drawing import dashboard_charts
from flows.runs.charts import chart_data, merge_buckets

PAGE_SIZE = 50
RUNNING_NOW = 20
LATEST_FAILURES = 10


@dataclass(frozen=True)
class RunFilter:
    """What the Runs page shows: a flow, a status, a trigger, runs launched from `date_from`
    (inclusive) to `date_to` (exclusive; date_range.py, which validated both), and the page
    after a cursor."""

    flow: str = ""
    status: str = ""
    cursor: str = ""
    trigger: str = ""
    date_from: str = ""
    date_to: str = ""

    @property
    def first_page(self) -> bool:
        return not self.cursor

    @property
    def since(self) -> datetime | None:
        return date_range.bound(self.date_from) if self.date_from else None

    @property
    def until(self) -> datetime | None:
        return date_range.bound(self.date_to, end_of_day=True) if self.date_to else None

    def query(self) -> str:
        """The filter (not the cursor) as a query string, for links that keep it."""
        fields = {
            "flow": self.flow,
            "status": self.status,
            "trigger": self.trigger,
            "from": self.date_from,
            "to": self.date_to,
        }
        return urlencode({field: value for field, value in fields.items() if value})

    def matches(self, name: str, status: str, trigger: str, created: float) -> bool:
        """Whether a run of this flow, status, trigger and launch time (a timestamp) is shown."""
        since, until = self.since, self.until
        return (
            self.flow in {"", name}
            and self.status in {"", status}
            and self.trigger in {"", trigger}
            and (since is None or created >= since.timestamp())
            and (until is None or created < until.timestamp())
        )


class BadCursor(ValueError):
    pass


def sort_key(record: RunRecord) -> tuple[float, str]:
    """Where a run sorts in the Runs list (descending), as plain data a message can carry."""
    return record.created_at.timestamp(), record.flow_id


def encode_cursor(record: RunRecord) -> str:
    return f"{record.created_at.isoformat()}~{record.flow_id}"


def _after(cursor: str) -> Q:
    created_at, _sep, flow_id = cursor.partition("~")
    try:
        moment = datetime.fromisoformat(created_at)
    except ValueError:
        raise BadCursor(f"not a page of this list: {cursor!r}") from None
    return Q(created_at__lt=moment) | Q(created_at=moment, flow_id__lt=flow_id)


def runs_page(run_filter: RunFilter) -> tuple[list[RunRecord], str]:
    """One page of runs and the cursor of the next page ('' on the last); BadCursor."""
    runs = RunRecord.objects.defer("snapshot").order_by("-created_at", "-flow_id")
    if run_filter.flow:
        runs = runs.filter(name=run_filter.flow)
    if run_filter.status:
        runs = runs.filter(status=run_filter.status)
    if run_filter.trigger:
        runs = runs.filter(trigger_kind=run_filter.trigger)
    if run_filter.since is not None:
        runs = runs.filter(created_at__gte=run_filter.since)
    if run_filter.until is not None:
        runs = runs.filter(created_at__lt=run_filter.until)
    if run_filter.cursor:
        runs = runs.filter(_after(run_filter.cursor))
    page = list(runs[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    return page[:PAGE_SIZE], encode_cursor(page[PAGE_SIZE - 1]) if more else ""


def dashboard() -> dict[str, object]:
    """Counts by status over the last 24 hours (the 24-hour chart's: whole hours, the current
    one included), runs going now, the latest failures, and the charts (chart_drawing.py)."""
    charts = chart_data()
    light = RunRecord.objects.defer("snapshot")
    live = [FlowStatus.QUEUED, FlowStatus.CREATED, FlowStatus.RUNNING]
    return {
        "counts": list(merge_buckets(charts.last_day).counts.items()),
        "running": list(light.filter(status__in=live).order_by("-created_at")[:RUNNING_NOW]),
        "failures": list(
            light.filter(status=FlowStatus.FAILED).order_by("-finished_at")[:LATEST_FAILURES]
        ),
        **dashboard_charts(charts),
    }
