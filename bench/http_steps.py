"""HTTP-from-steps benchmark (not a test): `python bench/http_steps.py` against $REDIS_URL.

Prints, against a real HTTP/1.1 server on loopback (keep-alive):
- the median of a GET made with httpx directly, as a sandbox worker's own code would make it,
  against the median of a step script making the same GET with `http.get` (run in this process
  as a worker runs it), and what the script adds: target <= 0.5 ms;
- the wall time per step of a 40-step chain of one `http.get` each against a chain of no-op
  steps, 2 runner processes, from execute_flow until wait_for_flow returns.

Everything in Redis lives under a fresh key prefix, deleted afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvloop
from engine import chain_wall_times, parse_with_redis_url, runners_on_a_fresh_prefix

# The tests' loopback server (keep-alive, Nagle off), shared rather than written twice.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from flows.engine import Flow, FlowExecutor, new_flow, new_step
from flows.engine.grants import HttpSettings
from flows.engine.sandbox.starlark_runtime import ScriptRequest, run_script
from tests.engine.local_http import LocalHttpServer


def _serve(ports: multiprocessing.Queue) -> None:
    server = LocalHttpServer()
    ports.put(server.port)
    server.serve_forever()


@contextmanager
def server_process() -> Iterator[str]:
    """The server in a process of its own, as a real API is to a worker: in this one, its
    thread would compete for the GIL with the requests measured. Yields a URL."""
    ports: multiprocessing.Queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=30)}/"
    finally:
        process.terminate()
        process.join()


def _median_ms(call, repeats: int) -> float:
    for _ in range(50):  # warm: connections open, caches filled
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def in_worker(url: str, repeats: int) -> tuple[float, float]:
    """(httpx directly, http.get in a script), median ms each, one process as a worker."""
    with httpx.Client() as client:
        direct = _median_ms(lambda: client.get(url).raise_for_status(), repeats)
    grant = HttpSettings(allow="127.0.0.1", allow_private=True).grant(None)
    request = ScriptRequest(script=f'http.get("{url}").status', http=grant)

    def scripted() -> None:
        assert run_script(request).output_json == "200"

    return direct, _median_ms(scripted, repeats)


def http_chain(url: str, steps: int) -> Flow:
    builder = new_flow(f"http_{steps}")
    for index in range(steps):
        builder.add_step(new_step(f"s{index}").script(f'http.get("{url}").status').build())
    return builder.build()


async def chains(redis_url: str, url: str, repeats: int) -> tuple[float, float]:
    """ms per step of a 40-step chain of no-ops, and of HTTP calls."""
    os.environ |= {"FLOWS_HTTP_ALLOW": "127.0.0.1", "FLOWS_HTTP_ALLOW_PRIVATE": "true"}
    with runners_on_a_fresh_prefix(redis_url, 2, 8) as prefix:
        async with FlowExecutor(redis_url, key_prefix=prefix) as executor:
            await chain_wall_times(executor, 40, 3)  # warm up workers and connections
            no_op = statistics.median(await chain_wall_times(executor, 40, repeats)) / 40
            flow = http_chain(url, 40)
            await _flow_times(executor, flow, 3)
            with_http = statistics.median(await _flow_times(executor, flow, repeats)) / 40
    return no_op * 1000, with_http * 1000


async def _flow_times(executor: FlowExecutor, flow: Flow, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        state = await executor.wait_for_flow(await executor.execute_flow(flow), timeout=120)
        times.append(time.perf_counter() - started)
        assert str(state.status) == "completed", state
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=20, help="of each chain")
    arguments = parse_with_redis_url(parser)
    with server_process() as url:
        direct, scripted = in_worker(url, arguments.requests)
        no_op, with_http = uvloop.run(chains(arguments.redis_url, url, arguments.repeats))
    print(f"GET on loopback, median of {arguments.requests}:")
    print(f"  httpx directly: {direct:.3f} ms; http.get in a step script: {scripted:.3f} ms")
    print(f"  the script adds {scripted - direct:.3f} ms (target <= 0.5 ms)")
    print(f"40-step chain, median of {arguments.repeats}, 2 runner processes x 8:")
    print(f"  no-op steps: {no_op:.2f} ms/step; one http.get each: {with_http:.2f} ms/step")


if __name__ == "__main__":
    main()
