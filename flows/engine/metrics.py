"""What /metrics reports, read from Redis in two round trips (and one per queue where tasks wait),
whatever the number of runs.

Counts of things that happened (runs launched and ended, lease takeovers, step durations) are
kept by the transition scripts themselves, in one hash per partition (`Partition.counters`,
prelude.lua's `tally`),
atomically with the transitions they count: every web worker reads the same numbers, and a
scrape costs a read of that hash, whose size grows with the flows and steps there are, never
with the runs. Everything else is the state of the moment: the queue stream's length and its
group's pending count, the heartbeats, the watchers' sorted sets, the archive's changed set.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis

from flows.engine.heartbeats import RunnerHeartbeat, parse_heartbeats, read_beats
from flows.engine.keys import RUNNER_GROUP, Keys, Partition
from flows.engine.watches import RUN_PAGE

# Upper bounds (seconds) of the step duration histogram's buckets, as prelude.lua counts them.
STEP_SECONDS_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
)  # fmt: skip


@dataclass
class StepDurations:
    """A histogram of one step's attempt durations: `buckets[i]` attempts took at most
    STEP_SECONDS_BUCKETS[i] (cumulative), `count` in all (the +Inf bucket)."""

    buckets: list[int] = field(default_factory=lambda: [0] * len(STEP_SECONDS_BUCKETS))
    count: int = 0
    sum_seconds: float = 0.0


@dataclass
class EngineMetrics:
    """The engine's counters and state at one moment; see docs/operations.md, Metrics."""

    runs_started: dict[str, int] = field(default_factory=dict)  # flow -> launches
    runs_ended: dict[tuple[str, str], int] = field(default_factory=dict)  # (flow, status)
    lease_takeovers: dict[str, int] = field(default_factory=dict)  # flow -> takeovers
    step_durations: dict[tuple[str, str], StepDurations] = field(default_factory=dict)
    queued_tasks: int = 0  # in the queue, not yet taken by a runner
    oldest_queued_seconds: float = 0.0  # age of the oldest of them; 0 with none
    held_tasks: int = 0  # taken by a runner, not yet done with
    retries_waiting: int = 0  # steps waiting out a retry's backoff
    runners_alive: int = 0
    runners_gone: int = 0
    free_slots: int = 0  # of the runners alive
    busy_slots: int = 0
    live_clients: dict[str, int] = field(default_factory=dict)  # page -> sockets
    archive_pending_runs: int = 0  # changed runs the archive has not taken yet
    archive_lag_seconds: float = 0.0  # since the oldest such change; 0 with none


def read_metrics(
    client: redis.Redis, keys: Keys, *, live_pages: Sequence[str], live_since: float
) -> EngineMetrics:
    """Read the metrics on a blocking client (decoding responses), each partition's added up.
    `live_pages`: the web app's live pages; a run's page is counted over all runs
    (`Partition.run_page_watchers`), the others by their one watch set. Watchers that joined before
    `live_since` have expired."""
    others = [page for page in live_pages if page != RUN_PAGE]
    with client.pipeline(transaction=False) as pipe:
        for part in keys.partitions:
            pipe.hgetall(part.counters)
            pipe.xlen(part.queue)
            pipe.xinfo_groups(part.queue)
            pipe.zcard(part.delayed)
            pipe.zrange(part.changed_runs, 0, 0, withscores=True)
            pipe.zcard(part.changed_runs)
            pipe.zcount(part.run_page_watchers, live_since, "+inf")
        for page in others:
            pipe.zcount(keys.watchers(page, ""), live_since, "+inf")
        answers = pipe.execute(raise_on_error=False)
    beats, server_time = read_beats(client, keys)
    per_partition = [
        answers[start : start + PARTITION_READS]
        for start in range(0, len(keys.partitions) * PARTITION_READS, PARTITION_READS)
    ]
    other_pages = answers[len(per_partition) * PARTITION_READS :]
    # XINFO GROUPS of a queue nothing has made yet is an error ("no such key"): no group.
    groups = [reads[2] for reads in per_partition]
    for answer in answers:
        if isinstance(answer, Exception) and not (
            any(answer is each for each in groups) and isinstance(answer, redis.ResponseError)
        ):
            raise answer
    now = server_time[0] + server_time[1] / 1_000_000
    metrics, run_pages = EngineMetrics(), 0
    for part, reads in zip(keys.partitions, per_partition, strict=True):
        counters, queue_length, part_groups, delayed, oldest_change, changed, on_run_pages = reads
        run_pages += on_run_pages
        metrics.retries_waiting += delayed
        metrics.archive_pending_runs += changed
        _count(metrics, counters)
        _queue(metrics, client, part, queue_length, part_groups, now)
        if oldest_change:
            lag = max(now - oldest_change[0][1], 0.0)
            metrics.archive_lag_seconds = max(metrics.archive_lag_seconds, lag)
    _runners(metrics, parse_heartbeats(beats, server_time))
    metrics.live_clients = {RUN_PAGE: run_pages, **dict(zip(others, other_pages, strict=True))}
    return metrics


PARTITION_READS = 7  # what read_metrics asks of each partition


def _count(metrics: EngineMetrics, counters: dict[str, str]) -> None:
    """Add a partition's counters hash (field formats: prelude.lua's `tally` and its
    callers)."""
    bucket_counts: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for name, raw in counters.items():
        kind, _, labels = name.partition("|")
        value = int(raw)
        if kind == "started":
            metrics.runs_started[labels] = metrics.runs_started.get(labels, 0) + value
        elif kind == "ended":
            status, _, flow = labels.partition("|")
            metrics.runs_ended[(flow, status)] = metrics.runs_ended.get((flow, status), 0) + value
        elif kind == "takeover":
            metrics.lease_takeovers[labels] = metrics.lease_takeovers.get(labels, 0) + value
        elif kind == "step":
            bound, _, flow_and_step = labels.partition("|")
            bucket_counts[_flow_and_step(flow_and_step)][bound] = value
        elif kind == "step_us":
            durations = metrics.step_durations.setdefault(_flow_and_step(labels), StepDurations())
            durations.sum_seconds += value / 1_000_000
    for flow_and_step, by_bound in bucket_counts.items():
        durations = metrics.step_durations.setdefault(flow_and_step, StepDurations())
        running = 0
        for index, bound in enumerate(STEP_SECONDS_BUCKETS):
            running += by_bound.get(str(bound), 0)
            durations.buckets[index] += running
        durations.count += running + by_bound.get("+Inf", 0)


def _flow_and_step(labels: str) -> tuple[str, str]:
    """`<bytes of the flow's name>|<flow name><step id>` (Lua counts bytes, not characters)."""
    length, _, names = labels.partition("|")
    encoded = names.encode()
    return encoded[: int(length)].decode(), encoded[int(length) :].decode()


def _queue(
    metrics: EngineMetrics,
    client: redis.Redis,
    part: Partition,
    queue_length: int,
    groups: list[dict] | Exception,
    now: float,
) -> None:
    """Add a partition's queue. Tasks stay in the stream while runners hold them, and are
    deleted once done with (prelude.lua's finish_task), so those queued are the stream's length
    less the group's pending ones; the oldest of them is the first entry after the last one
    delivered."""
    group = None
    if isinstance(groups, list):
        group = next((each for each in groups if each["name"] == RUNNER_GROUP), None)
    queued = queue_length
    first_queued = "-"
    if group is not None:
        metrics.held_tasks += group["pending"]
        queued = max(queue_length - group["pending"], 0)
        first_queued = f"({group['last-delivered-id']}"
    metrics.queued_tasks += queued
    if queued:
        oldest = client.xrange(part.queue, first_queued, "+", count=1)
        if oldest:
            milliseconds = int(oldest[0][0].split("-")[0])
            age = max(now - milliseconds / 1000, 0.0)
            metrics.oldest_queued_seconds = max(metrics.oldest_queued_seconds, age)


def _runners(metrics: EngineMetrics, runners: list[RunnerHeartbeat]) -> None:
    for runner in runners:
        if runner.gone:
            metrics.runners_gone += 1
            continue
        metrics.runners_alive += 1
        metrics.free_slots += runner.free_slots
        metrics.busy_slots += runner.concurrency - runner.free_slots
