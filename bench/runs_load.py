"""Runs list under load (not a test). Target (issue 10): with 4 web workers and 2 runner
processes on this machine, /runs/ answers 20 concurrent logged-in clients with p95 <= 250 ms
while 500 runs are in flight.

`python bench/runs_load.py` serves the site on 127.0.0.1 (bench/_support.py) in two shapes, one
after the other: production's (`--workers 4`, FLOWS_EMBEDDED_RUNNER=false, 2 `manage.py
runflows` processes) and `make run`'s (one web process with its embedded runner). In each it
launches IN_FLIGHT runs of a STEPS-step flow whose steps each wait STEP_SECONDS, as a call to
a remote service would (long enough that none ends before the clients are done), then CLIENTS
threads, each with a keep-alive connection and a logged-in session, request /runs/ back to
back until REQUESTS answers in all (or SECONDS have passed). It prints the p50, p95 and max of
/runs/, the web processes' CPU time per request (the archiver's and bridge's included), how
many of the runs were still in flight at the end, and the load average (the machine is
shared). `--busy` makes the steps trivial instead: the runners then take every
cycle they can get, a stress beyond the target. Loopback only; everything it stores is
deleted afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import uvloop
from _support import Site, served_site

from flows.engine import Flow, FlowExecutor, FlowStatus, new_flow, new_step

IN_FLIGHT = 500
STEPS = 20
STEP_SECONDS = 0.05
CLIENTS = 20
REQUESTS = 1000  # in all, after WARMUP
WARMUP = 2 * CLIENTS
SECONDS = 90
WORKERS = 4
RUNNERS = 2
RUNNER_STOP_SECONDS = 30


def load_flow(busy: bool) -> Flow:
    script = "1" if busy else f'mock_api("slow", delay={STEP_SECONDS})'
    builder = new_flow("load")
    for index in range(STEPS):
        builder.add_step(new_step(f"s{index}").script(script).timeout(30).build())
    return builder.build()


@contextmanager
def runner_processes(site: Site, count: int) -> Iterator[None]:
    """`manage.py runflows` processes against the site until the block ends (SIGTERM then)."""
    command = [sys.executable, "manage.py", "runflows"]
    runners = [subprocess.Popen(command, env=site.environment) for _ in range(count)]
    try:
        yield
    finally:
        for runner in runners:
            runner.terminate()
        for runner in runners:
            runner.wait(RUNNER_STOP_SECONDS)


async def launch(site: Site, busy: bool) -> list[str]:
    async with FlowExecutor(site.redis_url, key_prefix=site.key_prefix) as executor:
        return await executor.execute_flows(load_flow(busy), [{}] * IN_FLIGHT)


async def still_in_flight(site: Site, flow_ids: list[str]) -> int:
    async with FlowExecutor(site.redis_url, key_prefix=site.key_prefix) as executor:
        states = [await executor.get_flow_state(flow_id) for flow_id in flow_ids]
    return sum(1 for state in states if not FlowStatus(state.status).is_final)


class Budget:
    """How many requests may still be made, in all clients together, and until when."""

    def __init__(self, requests: int, seconds: float) -> None:
        self.left = requests
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0 or time.monotonic() > self.deadline:
                return False
            self.left -= 1
            return True


def client_loop(site: Site, session: str, times: list[float], budget: Budget) -> None:
    """One client: /runs/ back to back on one keep-alive connection while the budget lasts."""
    host, port = site.base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=SECONDS)
    headers = {"Cookie": f"sessionid={session}"}
    try:
        while budget.take():
            started = time.perf_counter()
            connection.request("GET", "/runs/", headers=headers)
            response = connection.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - started
            assert response.status == 200 and b'id="run-rows"' in body, response.status
            times.append(elapsed * 1000)
    finally:
        connection.close()


def measure(site: Site, requests: int) -> list[float]:
    """Times (ms) of `requests` /runs/ answers from CLIENTS concurrent clients."""
    session = site.session_cookie()
    times: list[float] = []
    budget = Budget(requests, SECONDS)
    clients = [
        threading.Thread(target=client_loop, args=(site, session, times, budget), daemon=True)
        for _ in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    return times


def web_cpu_seconds(site: Site) -> float:
    """CPU time so far of the web processes: uvicorn and its workers, not the runner child."""
    server = psutil.Process(site.pid)
    processes = [server, *server.children()]
    total = 0.0
    for process in processes:
        try:
            if "flows.runner" not in process.cmdline():
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def one_shape(label: str, busy: bool, workers: int, runners: int) -> None:
    embedded = "false" if runners else "true"
    with (
        served_site(workers=workers, FLOWS_EMBEDDED_RUNNER=embedded) as site,
        runner_processes(site, runners),
    ):
        flow_ids = uvloop.run(launch(site, busy))
        measure(site, WARMUP)
        load_before = os.getloadavg()[0]
        started, cpu_before = time.perf_counter(), web_cpu_seconds(site)
        times = measure(site, REQUESTS)
        wall, cpu = time.perf_counter() - started, web_cpu_seconds(site) - cpu_before
        in_flight = uvloop.run(still_in_flight(site, flow_ids))
    p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[-1]
    print(
        f"{label:<44} /runs/ p50 {p50:6.0f} ms  p95 {p95:6.0f} ms  max {max(times):6.0f} ms  "
        f"({len(times)} requests, {len(times) / wall:.0f}/s, web CPU {cpu / len(times) * 1000:.1f} "
        f"ms each; {in_flight} runs still in flight; "
        f"load average {load_before:.2f} -> {os.getloadavg()[0]:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", action="store_true", help="trivial steps: runners flat out")
    parser.add_argument(
        "--only", choices=["production", "single"], help="measure one of the two shapes only"
    )
    arguments = parser.parse_args()
    steps = "trivial steps" if arguments.busy else f"steps of {STEP_SECONDS * 1000:g} ms"
    print(
        f"{IN_FLIGHT} runs in flight ({STEPS} {steps}), {CLIENTS} clients, "
        f"{REQUESTS} requests after {WARMUP} warm-up; target p95 <= 250 ms with {WORKERS} workers"
    )
    if arguments.only != "single":
        label = f"{WORKERS} web workers + {RUNNERS} runflows processes"
        one_shape(label, arguments.busy, WORKERS, RUNNERS)
    if arguments.only != "production":
        one_shape("1 web process with its embedded runner", arguments.busy, 1, 0)


if __name__ == "__main__":
    main()
