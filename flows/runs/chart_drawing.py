"""Where the dashboard's charts put their shapes: numbers for `_charts.html` to draw as SVG.

Geometry only, no markup: the template draws (and escapes) what these dataclasses place. Every
shape carries its words too (a title for its tooltip and screen readers, a visible value for
the per-flow bars) and a link to the Runs page filtered to what it counts, so a status is never
told by colour alone and every bar leads to its runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.timezone import localtime

from flows.engine.statuses import FlowStatus
from flows.runs.charts import Bucket, ChartData, FlowStats

WIDTH = 720
PLOT_LEFT = 44  # room for the count axis' labels
PLOT_TOP = 8
PLOT_HEIGHT = 160
BAR_GAP = 2
ROW_HEIGHT = 26
NAME_WIDTH = 190  # per-flow charts: the flow's name, then its bar
VALUE_WIDTH = 230  # then its value in words
MOST_FLOWS = 10  # per-flow charts show the flows with the most runs (or failures)


@dataclass(frozen=True)
class Fill:
    """A status' fill (or the p95 bar's): an Okabe-Ito colour, which most colour-blind readers
    tell apart, and a mark of its own (stripes, hatching, crosses, or none), so two statuses
    differ in pattern and in grey too."""

    name: str
    colour: str
    mark: str = ""  # an SVG path in a 6x6 tile
    mark_colour: str = "#000"
    mark_width: float = 1.5
    rotate: int = 0


FILLS = [
    Fill("queued", "#CC79A7", "M3 0V6", "#fff"),
    Fill("created", "#BBBBBB"),
    Fill("running", "#56B4E9", "M0 3H6", "#0072B2"),
    Fill("completed", "#009E73"),
    Fill("failed", "#D55E00", "M0 0V6", mark_width=2, rotate=45),
    Fill("cancelled", "#E69F00", "M1.5 1.5L4.5 4.5M4.5 1.5L1.5 4.5", mark_width=1.2),
    Fill("p95", "#9ECAE1", "M0 0V6", "#0072B2", mark_width=1, rotate=45),
]


@dataclass(frozen=True)
class Segment:
    """One status' part of a bar: its runs, in a colour and a pattern of its own."""

    status: str
    count: int
    y: str  # SVG lengths, formatted here once: floatformat on hundreds of shapes is slow
    height: str
    title: str
    href: str


@dataclass(frozen=True)
class Column:
    x: str
    width: str
    label: str  # the axis label under it ('' for most bars)
    segments: list[Segment]


@dataclass(frozen=True)
class StackedChart:
    """Runs per bucket of time, stacked by status."""

    title: str
    columns: list[Column]
    gridlines: list[tuple[str, int]]  # (y, count) of each horizontal line
    height: int = PLOT_TOP + PLOT_HEIGHT + 24
    width: int = WIDTH
    plot_left: int = PLOT_LEFT
    plot_bottom: int = PLOT_TOP + PLOT_HEIGHT
    font_size: int = 11
    label_x: int = PLOT_LEFT - 4  # the count axis' labels end here
    label_y: int = PLOT_TOP + PLOT_HEIGHT + 16  # the time axis' labels stand here


@dataclass(frozen=True)
class FlowRow:
    """A flow's row in a per-flow chart: its name, one or two bars, and their value in words."""

    name: str
    y: float
    widths: tuple[str, ...]  # widest first: p95 then p50, or the failure rate alone
    value: str
    title: str
    href: str


@dataclass(frozen=True)
class FlowChart:
    title: str
    rows: list[FlowRow]
    more: int  # flows not shown
    width: int = WIDTH
    name_width: int = NAME_WIDTH
    bar_width: int = WIDTH - NAME_WIDTH - VALUE_WIDTH
    value_x: int = WIDTH - VALUE_WIDTH + 8
    font_size: int = 14  # drawn at half the page's width, like the stacked charts

    @property
    def height(self) -> int:
        return max(1, len(self.rows)) * ROW_HEIGHT


def dashboard_charts(data: ChartData) -> dict[str, object]:
    """The four charts of the dashboard, placed, with the week they cover."""
    runs_page = reverse("flows:run_list")
    return {
        "charts_since": data.window.start,
        "chart_statuses": [status.value for status in FlowStatus],
        "chart_fills": FILLS,
        "day_chart": stacked_chart(
            "Runs per hour, last 24 hours", data.last_day, _hour_label, runs_page
        ),
        "week_chart": stacked_chart(
            "Runs per 6 hours, last 7 days", data.week, _week_label, runs_page
        ),
        "duration_chart": duration_chart(data.flows, data.window.start, runs_page),
        "failure_chart": failure_chart(data.flows, data.window.start, runs_page),
    }


def stacked_chart(
    title: str, buckets: list[Bucket], label_of: Callable[[int, Bucket], str], runs_page: str
) -> StackedChart:
    top = _round_up(max((bucket.total for bucket in buckets), default=0))
    scale = PLOT_HEIGHT / top
    step = (WIDTH - PLOT_LEFT) / len(buckets)
    columns = []
    for index, bucket in enumerate(buckets):
        segments, bottom = [], PLOT_TOP + PLOT_HEIGHT
        span = f"{_readable(bucket.start)} to {_readable(bucket.end)}"
        for status, count in bucket.counts.items():
            if count:
                bottom -= count * scale
                segments.append(
                    Segment(
                        status,
                        count,
                        _px(bottom),
                        _px(count * scale),
                        f"{span}: {count} {status}",
                        runs_url(runs_page, status=status, since=bucket.start, until=bucket.end),
                    )
                )
        x = PLOT_LEFT + index * step
        columns.append(Column(_px(x), _px(step - BAR_GAP), label_of(index, bucket), segments))
    gridlines = [(_px(PLOT_TOP + PLOT_HEIGHT - count * scale), count) for count in (top // 2, top)]
    return StackedChart(title, columns, gridlines)


def duration_chart(flows: list[FlowStats], since: datetime, runs_page: str) -> FlowChart:
    """p50 and p95 of completed runs' durations, of the flows with the most runs."""
    timed = [flow for flow in flows if flow.p95 is not None][:MOST_FLOWS]
    longest = max((flow.p95 or 0.0 for flow in timed), default=0.0) or 1.0
    bar_width = WIDTH - NAME_WIDTH - VALUE_WIDTH
    rows = [
        FlowRow(
            flow.name,
            index * ROW_HEIGHT,
            tuple(_px(bar_width * (value or 0) / longest) for value in (flow.p95, flow.p50)),
            value := f"p50 {seconds_text(flow.p50)} · p95 {seconds_text(flow.p95)}",
            f"{flow.name}: {value} (completed runs)",
            runs_url(runs_page, flow=flow.name, status="completed", since=since),
        )
        for index, flow in enumerate(timed)
    ]
    return FlowChart("Duration of completed runs, p50 and p95", rows, _more(flows, timed))


def failure_chart(flows: list[FlowStats], since: datetime, runs_page: str) -> FlowChart:
    """Failed runs over ended runs, of the flows that fail most."""
    ended = sorted(
        (flow for flow in flows if flow.ended),
        key=lambda flow: (-flow.failure_rate, -flow.ended, flow.name),
    )[:MOST_FLOWS]
    bar_width = WIDTH - NAME_WIDTH - VALUE_WIDTH
    rows = [
        FlowRow(
            flow.name,
            index * ROW_HEIGHT,
            (_px(bar_width * flow.failure_rate),),
            value := f"{flow.failure_rate:.1%} ({flow.failed} of {flow.ended} ended)",
            f"{flow.name}: {value} failed",
            runs_url(runs_page, flow=flow.name, status="failed", since=since),
        )
        for index, flow in enumerate(ended)
    ]
    return FlowChart("Failure rate", rows, _more(flows, ended))


def runs_url(
    runs_page: str,
    flow: str = "",
    status: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> str:
    """The Runs page (its path, reversed once per render) filtered to what a bar counts (from
    inclusive, to exclusive)."""
    query = {"flow": flow, "status": status}
    if since is not None:
        query["from"] = _moment(since)
    if until is not None:
        query["to"] = _moment(until)
    return f"{runs_page}?{urlencode({k: v for k, v in query.items() if v}, safe=':')}"


def seconds_text(seconds: float | None) -> str:
    """'850 ms', '2.5 s', '3 min 05 s', '2 h 05 min'; '—' when unknown."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes = round(seconds) // 60
    if minutes < 60:
        return f"{minutes} min {round(seconds) % 60:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _px(length: float) -> str:
    return f"{length:.1f}"


def _moment(moment: datetime) -> str:
    """A moment as the Runs page's from/to take it: local time to the minute."""
    return localtime(moment).strftime("%Y-%m-%dT%H:%M")


def _readable(moment: datetime) -> str:
    return localtime(moment).strftime("%Y-%m-%d %H:%M")


def _hour_label(index: int, bucket: Bucket) -> str:
    return localtime(bucket.start).strftime("%H:%M") if index % 3 == 0 else ""


def _week_label(index: int, bucket: Bucket) -> str:
    return localtime(bucket.start).strftime("%a %H:%M") if index % 4 == 0 else ""


def _round_up(count: int) -> int:
    """A top for the count axis: the next even number at least `count` (at least 2), so the
    middle gridline falls on a whole count."""
    return max(2, count + count % 2)


def _more(flows: list[FlowStats], shown: list[FlowStats]) -> int:
    return len(flows) - len(shown)
