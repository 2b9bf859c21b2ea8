"""Live overhead benchmark (not a test). Target (issue 4): the runner's steps/s with the live
dashboard open drops by at most 10% against the engine benchmark.

`python bench/live_overhead.py` serves the site with uvicorn on 127.0.0.1 (bench/_support.py)
and drives one fixed workload through the web process's own embedded runner: SEQUENTIAL flows
of CHAIN_STEPS trivial steps one after another, then BATCH one-step flows launched at once.
A round runs it with no WebSocket clients ("quiet"), with the live dashboard open ("dashboard":
DASHBOARD_CLIENTS on the dashboard and RUNS_CLIENTS on the Runs list, the target's case), or
with those and one client on each sequential run's page from its launch as well ("run pages":
100 pages opened in two seconds, a stress beyond the target). Clients read every frame, as a
browser does. The live bridge and archiver run in every round, as they always do in the web
process. The "engine" round runs the same workload on a standalone runner process with the
same concurrency (bench/engine.py's set-up) under a key prefix of its own, which no bridge or
archiver follows. The four kinds take turns, so that all see the same machine; the medians are
compared.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator, Callable

import uvloop
from _support import Site, served_site
from engine import chain, runners_on_a_fresh_prefix, throughput
from websockets.asyncio.client import connect

from flows.engine import FlowExecutor, FlowStatus

SEQUENTIAL = 100
CHAIN_STEPS = 40
BATCH = 2000  # throughput() launches in hundreds
SEQUENTIAL_STEPS = SEQUENTIAL * CHAIN_STEPS
ROUNDS = 9  # of each kind: the 2-core machine drifts, medians of more rounds drift less
DASHBOARD_CLIENTS = 5
RUNS_CLIENTS = 5
RUNNER_CONCURRENCY = 4  # the web process's default FLOWS_RUNNER_CONCURRENCY, set explicitly
TIMEOUT_SECONDS = 60
# A pause before each round, so the server is done with the last one (archiving its runs,
# closing its sockets) and no round pays for its predecessor.
SETTLE_SECONDS = 1.0

Round = tuple[float, float]  # wall seconds of the sequential part, of the batch part


async def workload(executor: FlowExecutor, on_launch: Callable[[str], None]) -> tuple[float, float]:
    """Run the fixed workload; return the wall times of its sequential and its batch part.
    `on_launch` sees each sequential run as it is launched."""
    flow = chain(CHAIN_STEPS)
    started = time.perf_counter()
    for _ in range(SEQUENTIAL):
        flow_id = await executor.execute_flow(flow)
        on_launch(flow_id)
        state = await executor.wait_for_flow(flow_id, timeout=TIMEOUT_SECONDS)
        assert state.status == FlowStatus.COMPLETED, state
    sequential = time.perf_counter() - started
    return sequential, BATCH / await throughput(executor, BATCH)


class Watchers:
    """Logged-in WebSocket clients reading their page's frames until closed, as browsers do."""

    def __init__(self, site: Site, session: str) -> None:
        self.site = site
        self.headers = site.socket_headers(session)
        self.frames: dict[str, int] = {}
        self.tasks: list[asyncio.Task] = []

    def open(self, path: str) -> asyncio.Event:
        """Start a client on `path`; the event is set once the connect-time state arrived."""
        name = f"{path}#{len(self.tasks)}"
        self.frames[name] = 0
        connected = asyncio.Event()
        self.tasks.append(asyncio.create_task(self._read(path, name, connected), name=name))
        return connected

    async def _read(self, path: str, name: str, connected: asyncio.Event) -> None:
        url = self.site.socket_url(path)
        async with connect(url, additional_headers=self.headers, max_queue=None) as socket:
            async for _frame in socket:
                self.frames[name] += 1
                connected.set()

    async def close(self) -> None:
        """Close every client; a client that failed (refused, dropped) fails the benchmark."""
        for task in self.tasks:
            task.cancel()
        for outcome in await asyncio.gather(*self.tasks, return_exceptions=True):
            if not isinstance(outcome, asyncio.CancelledError):
                raise RuntimeError(f"a WebSocket client failed: {outcome!r}")


async def watched(
    site: Site, session: str, executor: FlowExecutor, run_pages: bool
) -> tuple[Round, Watchers]:
    """One round with the live dashboard open (its clients are live before the clock starts),
    and with `run_pages` a page on each sequential run too."""
    watchers = Watchers(site, session)
    try:
        opened = [watchers.open("ws/dashboard/") for _ in range(DASHBOARD_CLIENTS)]
        opened += [watchers.open("ws/runs/") for _ in range(RUNS_CLIENTS)]
        async with asyncio.timeout(TIMEOUT_SECONDS):
            await asyncio.gather(*(event.wait() for event in opened))

        def on_launch(flow_id: str) -> None:
            if run_pages:
                watchers.open(f"ws/runs/{flow_id}/")

        timings = await workload(executor, on_launch)
    finally:
        await watchers.close()
    return timings, watchers


@contextlib.asynccontextmanager
async def standalone_runner(redis_url: str) -> AsyncIterator[FlowExecutor]:
    """One standalone runner process under a key prefix of its own (the site's bridge and
    archiver never see its events), and an executor on that prefix."""
    with runners_on_a_fresh_prefix(redis_url, 1, RUNNER_CONCURRENCY) as prefix:
        async with FlowExecutor(redis_url, key_prefix=prefix) as executor:
            yield executor


async def unwatched(executor: FlowExecutor) -> tuple[Round, None]:
    return await workload(executor, lambda _flow_id: None), None


KINDS = {
    "engine": "engine only (standalone runner)",
    "quiet": "web process, no clients",
    "dashboard": "web process, dashboard open",
    "run pages": "dashboard and 100 run pages",
}


async def all_rounds(site: Site) -> tuple[dict[str, list[Round]], Watchers]:
    """Rounds of each kind in turn, after one unmeasured warm-up of each. The standalone runner
    and the site are both up throughout, each idle while the other works, so every kind is
    measured on the same machine at the same time."""
    session = site.session_cookie()
    async with (
        standalone_runner(site.redis_url) as alone,
        FlowExecutor(site.redis_url, key_prefix=site.key_prefix) as executor,
    ):
        kinds = {
            "engine": lambda: unwatched(alone),
            "quiet": lambda: unwatched(executor),
            "dashboard": lambda: watched(site, session, executor, run_pages=False),
            "run pages": lambda: watched(site, session, executor, run_pages=True),
        }
        rounds: dict[str, list[Round]] = {kind: [] for kind in kinds}
        for _ in range(ROUNDS + 1):
            for kind, run in kinds.items():
                await asyncio.sleep(SETTLE_SECONDS)
                timings, watchers = await run()
                if kind == "run pages":
                    clients = watchers
                rounds[kind].append(timings)
    # The first round of each kind warmed up.
    return {kind: timings[1:] for kind, timings in rounds.items()}, clients


def rates(rounds: list[Round]) -> tuple[float, float, float]:
    """Median steps/s of the sequential part, the batch part and the whole workload."""
    sequential = statistics.median(SEQUENTIAL_STEPS / timings[0] for timings in rounds)
    batch = statistics.median(BATCH / timings[1] for timings in rounds)
    whole = statistics.median((SEQUENTIAL_STEPS + BATCH) / sum(timings) for timings in rounds)
    return sequential, batch, whole


def report(rounds: dict[str, list[Round]], clients: Watchers) -> None:
    print(
        f"{SEQUENTIAL} sequential {CHAIN_STEPS}-step flows, then {BATCH} one-step flows; "
        f"runner concurrency {RUNNER_CONCURRENCY}; median steps/s of {ROUNDS} rounds"
    )
    print("                                   sequential    batch    whole")
    figures = {kind: rates(timings) for kind, timings in rounds.items()}
    for kind, label in KINDS.items():
        print(f"  {label:31} " + "".join(f"{figure:9.0f}" for figure in figures[kind]))
    for label, kind, against in [
        ("drop, dashboard open (<= 10%):  ", "dashboard", "engine"),
        ("drop, 100 run pages too:        ", "run pages", "engine"),
        ("drop, dashboard vs no clients:  ", "dashboard", "quiet"),
        ("drop, no clients vs engine:     ", "quiet", "engine"),
    ]:
        drops = [
            1 - ours / theirs for ours, theirs in zip(figures[kind], figures[against], strict=True)
        ]
        print(f"  {label}" + "".join(f"{drop * 100:8.1f}%" for drop in drops))
    frames = sorted(clients.frames.values())
    print(
        f"  last round with run pages: {len(frames)} clients "
        f"({DASHBOARD_CLIENTS} dashboard, {RUNS_CLIENTS} runs list, {SEQUENTIAL} run pages), "
        f"frames per client min {frames[0]}, median {statistics.median(frames)}, max {frames[-1]}"
    )


def main() -> None:
    with served_site(FLOWS_RUNNER_CONCURRENCY=str(RUNNER_CONCURRENCY)) as site:
        rounds, clients = uvloop.run(all_rounds(site))
    report(rounds, clients)


if __name__ == "__main__":
    main()
