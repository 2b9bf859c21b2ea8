"""GET /metrics: the engine's counters and state in Prometheus' text format (docs/operations.md).

A custom collector turns one read of Redis (flows/engine/metrics.py) into metric families at
each scrape, so every web worker answers the same numbers, whichever the scraper reaches, and
nothing is counted in a worker's memory that a restart would lose.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Iterator

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from flows import engine_client
from flows.engine.metrics import STEP_SECONDS_BUCKETS, EngineMetrics
from flows.health.metrics_access import refusal
from flows.live import watchers
from flows.runs.groups import Page

logger = logging.getLogger(__name__)


class EngineCollector(Collector):
    """The engine's metrics, read from Redis at each collect()."""

    def collect(self) -> Iterator[Metric]:
        live_pages = list(typing.get_args(Page))
        yield from families(engine_client.engine_metrics(live_pages, watchers.since()))


def families(metrics: EngineMetrics) -> Iterator[Metric]:
    """The metric families of one reading (names and labels: docs/operations.md)."""
    started = CounterMetricFamily(
        "flowsite_runs_started", "Runs launched (queued ones included).", labels=["flow"]
    )
    for flow, value in sorted(metrics.runs_started.items()):
        started.add_metric([flow], value)
    ended = CounterMetricFamily(
        "flowsite_runs_ended", "Runs ended, by final status.", labels=["flow", "status"]
    )
    for (flow, status), value in sorted(metrics.runs_ended.items()):
        ended.add_metric([flow, status], value)
    takeovers = CounterMetricFamily(
        "flowsite_lease_takeovers",
        "Steps taken over from a runner that stopped renewing its lease.",
        labels=["flow"],
    )
    for flow, value in sorted(metrics.lease_takeovers.items()):
        takeovers.add_metric([flow], value)
    yield from (started, ended, takeovers, _step_durations(metrics))
    yield from _gauges(metrics)


def _step_durations(metrics: EngineMetrics) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "flowsite_step_duration_seconds",
        "Attempts of steps that ran their script (completed or failed), by how long they took.",
        labels=["flow", "step"],
    )
    bounds = [str(float(bound)) for bound in STEP_SECONDS_BUCKETS]
    for (flow, step), durations in sorted(metrics.step_durations.items()):
        buckets = [*zip(bounds, durations.buckets, strict=True), ("+Inf", durations.count)]
        family.add_metric([flow, step], buckets, durations.sum_seconds)
    return family


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _gauges(metrics: EngineMetrics) -> Iterator[Metric]:
    yield _gauge("flowsite_queue_depth", "Tasks queued, not yet taken.", metrics.queued_tasks)
    yield _gauge(
        "flowsite_queue_oldest_age_seconds",
        "Age of the oldest task queued, not yet taken (0 with none).",
        metrics.oldest_queued_seconds,
    )
    yield _gauge("flowsite_tasks_held", "Tasks taken by runners.", metrics.held_tasks)
    yield _gauge(
        "flowsite_retries_waiting", "Steps waiting out a retry's backoff.", metrics.retries_waiting
    )
    runners = GaugeMetricFamily("flowsite_runners", "Runners by heartbeat.", labels=["state"])
    runners.add_metric(["alive"], metrics.runners_alive)
    runners.add_metric(["gone"], metrics.runners_gone)
    slots = GaugeMetricFamily(
        "flowsite_runner_slots", "Step slots of the runners alive.", labels=["state"]
    )
    slots.add_metric(["free"], metrics.free_slots)
    slots.add_metric(["busy"], metrics.busy_slots)
    clients = GaugeMetricFamily(
        "flowsite_live_clients", "Live pages' WebSocket clients.", labels=["page"]
    )
    for page, value in metrics.live_clients.items():
        clients.add_metric([page], value)
    yield from (runners, slots, clients)
    yield _gauge(
        "flowsite_archive_pending_runs",
        "Runs changed since the archive last took them.",
        metrics.archive_pending_runs,
    )
    yield _gauge(
        "flowsite_archive_lag_seconds",
        "Age of the oldest change the archive has not taken (0 with none).",
        metrics.archive_lag_seconds,
    )


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(EngineCollector())


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """The metrics for a scraper with the token or from an allowed address (metrics_access)."""
    refused = refusal(
        settings.FLOWS_METRICS_TOKEN,
        settings.FLOWS_METRICS_ALLOW,
        request.META.get("REMOTE_ADDR", ""),
        request.headers.get("Authorization", ""),
    )
    if refused is not None:
        response = HttpResponse(f"{refused.phrase}\n", status=refused, content_type="text/plain")
        if refused == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    try:
        body = generate_latest(REGISTRY)
    except redis.RedisError as error:
        # The scrape fails (Prometheus' `up` goes to 0) rather than reporting zeros.
        logger.warning("metrics: Redis does not answer (%s)", error)
        return HttpResponse("Redis is unreachable\n", status=503, content_type="text/plain")
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
