"""Live fan-out benchmark (not a test): CLIENTS logged-in WebSocket clients watch one run page
while the run moves through STEPS steps. Targets: every client gets the final state; no client
lags more than 1 s behind any transition; the ASGI process's memory stays bounded.

`python bench/live_fanout.py` serves the site with uvicorn on 127.0.0.1 (bench/_support.py).
So that every client is watching before the run moves, the run's first step fails at once;
the clients connect to the failed run, then a fix-and-resume (the engine's retry with a
replacement definition) sends it through all its steps. A client's lag for an update is the
time from the transition (the summary's data-at, Redis time) to the frame reaching it.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from dataclasses import dataclass, field

from _support import Site, served_site
from websockets.asyncio.client import connect

from flows.engine import Flow, FlowExecutor, FlowStatus, new_flow, new_step

CLIENTS = 200
STEPS = 100
STEP_SCRIPT = 'mock_api("slow", delay=0.01)'
TIMEOUT_SECONDS = 120
SUMMARY = re.compile(r'id="run-summary"[^>]*data-status="(\w+)" data-at="([\d.]*)"')


def fanout_flow(first_script: str) -> Flow:
    builder = new_flow("fanout")
    builder.add_step(new_step("s0").script(first_script).retries(0).build())
    for index in range(1, STEPS):
        builder.add_step(new_step(f"s{index}").script(STEP_SCRIPT).build())
    return builder.build()


@dataclass
class Watcher:
    """One client's view: when each summary reached it, against the transition's time."""

    lags: list[float] = field(default_factory=list)
    final_lag: float | None = None

    def saw(self, frame: str) -> str:
        """Record the frame's summary, if it has one; return the run status it shows."""
        found = SUMMARY.search(frame)
        if not found:
            return ""
        status, at = found.groups()
        if at:  # the connect-time state carries no transition time
            self.lags.append(time.time() - float(at))
            if status == FlowStatus.COMPLETED:
                self.final_lag = self.lags[-1]
        return status


async def watch(
    url: str, headers: dict[str, str], connected: asyncio.Event, ready: list
) -> Watcher:
    """Connect, wait for the connect-time state, then read until the run's completed summary."""
    watcher = Watcher()
    async with connect(
        url, additional_headers=headers, max_queue=None, open_timeout=TIMEOUT_SECONDS
    ) as socket:
        while watcher.saw(await socket.recv()) != FlowStatus.FAILED:
            pass
        ready.append(watcher)
        if len(ready) == CLIENTS:
            connected.set()
        while watcher.saw(await socket.recv()) != FlowStatus.COMPLETED:
            pass
    return watcher


async def fan_out(site: Site) -> tuple[list[Watcher], dict[str, float], float]:
    async with FlowExecutor(site.redis_url, key_prefix=site.key_prefix) as executor:
        flow_id = await executor.execute_flow(fanout_flow('mock_api("failure")'))
        assert (await executor.wait_for_flow(flow_id, timeout=30)).status == FlowStatus.FAILED
        url = f"ws://127.0.0.1:{site.base.rsplit(':', 1)[1]}/ws/runs/{flow_id}/"
        headers = {"Cookie": f"sessionid={site.session_cookie()}", "Origin": site.base}
        rss = {"before clients": site.rss_mib()}
        connected, ready = asyncio.Event(), []
        async with asyncio.timeout(TIMEOUT_SECONDS), asyncio.TaskGroup() as tasks:
            watchers = [
                tasks.create_task(watch(url, headers, connected, ready), name=f"client-{n}")
                for n in range(CLIENTS)
            ]
            connecting = time.perf_counter()
            await connected.wait()
            rss[f"{CLIENTS} clients connected"] = site.rss_mib()
            print(f"  {CLIENTS} clients connected in {time.perf_counter() - connecting:.1f} s")
            started = time.perf_counter()
            await executor.retry_step(flow_id, "s0", replacement=fanout_flow(STEP_SCRIPT))
            state = await executor.wait_for_flow(flow_id, timeout=TIMEOUT_SECONDS)
            run_seconds = time.perf_counter() - started
        assert state.status == FlowStatus.COMPLETED, state
        rss["after the run"] = site.rss_mib()
        print(f"  ASGI process's Redis connections after the run: {site.redis_connections()}")
    return [task.result() for task in watchers], rss, run_seconds


def main() -> None:
    with served_site() as site:
        watchers, rss, run_seconds = asyncio.run(fan_out(site))
    finals = [w.final_lag for w in watchers if w.final_lag is not None]
    lags = [lag for w in watchers for lag in w.lags]
    print(f"{CLIENTS} WebSocket clients on one run page, {STEPS} steps in {run_seconds:.2f} s:")
    print(f"  final state received by {len(finals)} of {CLIENTS} clients")
    print(f"  updates per client: median {statistics.median(len(w.lags) for w in watchers)}")
    print(
        f"  lag of the final state: median {statistics.median(finals) * 1000:.0f} ms, "
        f"max {max(finals) * 1000:.0f} ms (target <= 1000 ms)"
    )
    print(f"  lag of any update: max {max(lags) * 1000:.0f} ms")
    print("  ASGI process RSS: " + ", ".join(f"{k} {v:.0f} MiB" for k, v in rss.items()))


if __name__ == "__main__":
    main()
