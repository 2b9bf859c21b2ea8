"""Engine fixtures: an executor, in-process and separate runners, a client of the module's cluster.

Where the tests run (one server, the session's cluster) is the suite's `redis_url`
(tests/conftest.py)."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from redis.asyncio import RedisCluster

from flows.engine import FlowExecutor, Runner
from flows.engine.cli import run_until_signalled  # noqa: F401 - the CLI module must import cleanly
from tests.own_cluster import OwnCluster


@pytest.fixture
async def cluster_client(cluster: OwnCluster) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(cluster.url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def executor(redis_url: str) -> AsyncIterator[FlowExecutor]:
    async with FlowExecutor(redis_url) as executor:
        yield executor


@pytest.fixture
async def runner(redis_url: str) -> AsyncIterator[Runner]:
    """A runner working in the test's event loop."""
    async with Runner(redis_url, concurrency=2, lease_seconds=1.0) as runner:
        yield runner


@pytest.fixture
def start_runner_process_on() -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `python -m flows.engine` processes on a Redis URL given with each, for tests with
    servers of their own; any still alive at teardown are killed."""
    processes: list[subprocess.Popen] = []

    def start(
        redis_url: str, concurrency: int = 2, lease_seconds: float = 1.0, *extra_arguments: str
    ) -> subprocess.Popen:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flows.engine",
                "--redis-url",
                redis_url,
                "--concurrency",
                str(concurrency),
                "--lease-seconds",
                str(lease_seconds),
                "--log-level",
                "WARNING",
                *extra_arguments,
            ],
            env={**os.environ, "PYTHONWARNINGS": "error"},
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()


@pytest.fixture
def start_runner_process(
    redis_url: str, start_runner_process_on: Callable[..., subprocess.Popen]
) -> Callable[..., subprocess.Popen]:
    """Start `python -m flows.engine` processes on the test's Redis; killed at teardown."""
    return functools.partial(start_runner_process_on, redis_url)
