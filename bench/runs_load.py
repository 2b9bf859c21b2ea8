"""Runs list under load (not a test). Target (issue 10): with 4 web workers and 2 runner
processes on this machine, /runs/ answers 20 concurrent logged-in clients with p95 <= 250 ms
while 500 runs are in flight.

`python bench/runs_load.py` serves the site on 127.0.0.1 (bench/_support.py) in two shapes, one
after the other: production's (`--workers 4`, FLOWS_EMBEDDED_RUNNER=false, 2 `manage.py
runflows` processes) and `make run`'s (one web process with its embedded runner). In each it
keeps IN_FLIGHT runs of a STEPS-step flow in flight (a run that ends is replaced at once),
whose steps each wait STEP_SECONDS as a call to a remote service would, while CLIENTS threads,
each with a keep-alive connection and a logged-in session, request /runs/ back to back until
REQUESTS answers in all (or SECONDS have passed). It prints the p50, p95 and max of /runs/
(and its median with one client alone), the web processes' CPU time per request (the
archiver's and bridge's included), how many runs ended meanwhile, and the load average (the
machine is shared). `--busy` makes the steps
trivial instead: the runners then take every cycle they can get, a stress beyond the target.
Loopback only; everything it stores is deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie

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
ALONE = 50  # requests from one client, for the median of /runs/ alone (runs still in flight)
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


class InFlight:
    """IN_FLIGHT runs in flight from start() to stop(), in a thread of its own: IN_FLIGHT
    launchers, each launching its next run as soon as its last one ends."""

    def __init__(self, site: Site, busy: bool) -> None:
        self.site = site
        self.flow = load_flow(busy)
        self.ended = 0
        self.loop = uvloop.new_event_loop()
        self.all_launched = threading.Event()
        self.thread = threading.Thread(target=self._run, name="in-flight", daemon=True)

    def start(self) -> None:
        self.thread.start()
        self.all_launched.wait()

    def stop(self) -> int:
        """Stop launching; return how many runs ended meanwhile (each replaced at once)."""
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join()
        return self.ended

    def _run(self) -> None:
        self.task = self.loop.create_task(self._keep())
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(self.task)
        self.loop.close()

    async def _keep(self) -> None:
        site = self.site
        async with FlowExecutor(site.redis_url, key_prefix=site.key_prefix) as executor:
            first = await executor.execute_flows(self.flow, [{}] * IN_FLIGHT)
            self.all_launched.set()
            await asyncio.gather(*(self._launcher(executor, flow_id) for flow_id in first))

    async def _launcher(self, executor: FlowExecutor, flow_id: str) -> None:
        while True:
            state = await executor.wait_for_flow(flow_id)
            assert state.status == FlowStatus.COMPLETED, state
            self.ended += 1
            flow_id = await executor.execute_flow(self.flow)


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
    """One client: /runs/ back to back on one keep-alive connection while the budget lasts,
    sending back the cookies it is given (the CSRF cookie), as a browser does."""
    host, port = site.base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=SECONDS)
    cookies = {"sessionid": session}
    try:
        while budget.take():
            started = time.perf_counter()
            cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
            connection.request("GET", "/runs/", headers={"Cookie": cookie})
            response = connection.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - started
            assert response.status == 200 and b'id="run-rows"' in body, response.status
            times.append(elapsed * 1000)
            for header in response.headers.get_all("Set-Cookie") or []:
                given = SimpleCookie(header)
                cookies.update((name, morsel.value) for name, morsel in given.items())
    finally:
        connection.close()


def measure(site: Site, requests: int, clients: int = CLIENTS) -> list[float]:
    """Times (ms) of `requests` /runs/ answers from `clients` concurrent clients."""
    session = site.session_cookie()
    times: list[float] = []
    budget = Budget(requests, SECONDS)
    threads = [
        threading.Thread(target=client_loop, args=(site, session, times, budget), daemon=True)
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times


def web_cpu_seconds(site: Site) -> float:
    """CPU time so far of the web processes: uvicorn and its workers, not the runner child."""
    server = psutil.Process(site.pid)
    processes = [server, *server.children()]
    total = 0.0
    for process in processes:
        try:
            if "flows.engine" not in process.cmdline():
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
        in_flight = InFlight(site, busy)
        in_flight.start()
        measure(site, WARMUP)
        alone = statistics.median(measure(site, ALONE, clients=1))
        load_before = os.getloadavg()[0]
        started, cpu_before = time.perf_counter(), web_cpu_seconds(site)
        times = measure(site, REQUESTS)
        wall, cpu = time.perf_counter() - started, web_cpu_seconds(site) - cpu_before
        ended = in_flight.stop()
    p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[-1]
    print(
        f"{label:<44} /runs/ p50 {p50:4.0f} ms  p95 {p95:4.0f} ms  max {max(times):4.0f} ms  "
        f"(alone {alone:.1f} ms; {len(times)} requests, {len(times) / wall:.0f}/s, "
        f"web CPU {cpu / len(times) * 1000:.1f} ms each; {ended} runs ended and were replaced; "
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
