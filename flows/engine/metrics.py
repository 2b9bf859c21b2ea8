"""What /metrics reports, read from Redis in one round trip (two while tasks wait in the queue),
whatever the number of runs.

Counts of things that happened (runs launched and ended, lease takeovers, step durations) are
kept by the transition scripts themselves, in one hash (`Keys.counters`, prelude.lua's `tally`),
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

from flows.engine.heartbeats import parse_heartbeats
from flows.engine.keys import RUNNER_GROUP, Keys
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
    """Read the metrics on a blocking client (decoding responses). `live_pages`: the web app's
    live pages; a run's page is counted over all runs (`Keys.run_page_watchers`), the others
    by their one watch set. Watchers that joined before `live_since` have expired."""
    others = [page for page in live_pages if page != RUN_PAGE]
    with client.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.counters)
        pipe.xlen(keys.queue)
        pipe.xinfo_groups(keys.queue)
        pipe.zcard(keys.delayed)
        pipe.hgetall(keys.runners)
        pipe.zrange(keys.changed_runs, 0, 0, withscores=True)
        pipe.zcard(keys.changed_runs)
        pipe.zcount(keys.run_page_watchers, live_since, "+inf")
        for page in others:
            pipe.zcount(keys.watchers(page, ""), live_since, "+inf")
        pipe.time()
        answers = pipe.execute(raise_on_error=False)
    counters, queue_length, groups, delayed, beats, oldest_change, changed = answers[:7]
    watched, server_time = answers[7:-1], answers[-1]
    for answer in answers:
        # XINFO GROUPS of a queue nothing has made yet is an error ("no such key"): no group.
        if isinstance(answer, Exception) and not (
            answer is groups and isinstance(answer, redis.ResponseError)
        ):
            raise answer
    now = server_time[0] + server_time[1] / 1_000_000
    metrics = EngineMetrics(retries_waiting=delayed, archive_pending_runs=changed)
    _count(metrics, counters)
    _queue(metrics, client, keys, queue_length, groups, now)
    _runners(metrics, beats, server_time)
    metrics.live_clients = dict(zip([RUN_PAGE, *others], watched, strict=True))
    if oldest_change:
        metrics.archive_lag_seconds = max(now - oldest_change[0][1], 0.0)
    return metrics


def _count(metrics: EngineMetrics, counters: dict[str, str]) -> None:
    """Parse the counters hash (field formats: prelude.lua's `tally` and its callers)."""
    bucket_counts: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for name, raw in counters.items():
        kind, _, labels = name.partition("|")
        value = int(raw)
        if kind == "started":
            metrics.runs_started[labels] = value
        elif kind == "ended":
            status, _, flow = labels.partition("|")
            metrics.runs_ended[(flow, status)] = value
        elif kind == "takeover":
            metrics.lease_takeovers[labels] = value
        elif kind == "step":
            bound, _, flow_and_step = labels.partition("|")
            bucket_counts[_flow_and_step(flow_and_step)][bound] = value
        elif kind == "step_us":
            durations = metrics.step_durations.setdefault(_flow_and_step(labels), StepDurations())
            durations.sum_seconds = value / 1_000_000
    for flow_and_step, by_bound in bucket_counts.items():
        durations = metrics.step_durations.setdefault(flow_and_step, StepDurations())
        running = 0
        for index, bound in enumerate(STEP_SECONDS_BUCKETS):
            running += by_bound.get(str(bound), 0)
            durations.buckets[index] = running
        durations.count = running + by_bound.get("+Inf", 0)


def _flow_and_step(labels: str) -> tuple[str, str]:
    """`<bytes of the flow's name>|<flow name><step id>` (Lua counts bytes, not characters)."""
    length, _, names = labels.partition("|")
    encoded = names.encode()
    return encoded[: int(length)].decode(), encoded[int(length) :].decode()


def _queue(
    metrics: EngineMetrics,
    client: redis.Redis,
    keys: Keys,
    queue_length: int,
    groups: list[dict] | Exception,
    now: float,
) -> None:
    """Tasks stay in the stream while runners hold them, and are deleted once done with
    (prelude.lua's finish_task), so those queued are the stream's length less the group's
    pending ones; the oldest of them is the first entry after the last one delivered."""
    group = None
    if isinstance(groups, list):
        group = next((each for each in groups if each["name"] == RUNNER_GROUP), None)
    if group is None:
        metrics.queued_tasks = queue_length
        first_queued = "-"
    else:
        metrics.held_tasks = group["pending"]
        metrics.queued_tasks = max(queue_length - group["pending"], 0)
        first_queued = f"({group['last-delivered-id']}"
    if metrics.queued_tasks:
        oldest = client.xrange(keys.queue, first_queued, "+", count=1)
        if oldest:
            milliseconds = int(oldest[0][0].split("-")[0])
            metrics.oldest_queued_seconds = max(now - milliseconds / 1000, 0.0)


def _runners(metrics: EngineMetrics, beats: dict[str, str], server_time: tuple[int, int]) -> None:
    for runner in parse_heartbeats(beats, server_time):
        if runner.gone:
            metrics.runners_gone += 1
            continue
        metrics.runners_alive += 1
        metrics.free_slots += runner.free_slots
        metrics.busy_slots += runner.concurrency - runner.free_slots
