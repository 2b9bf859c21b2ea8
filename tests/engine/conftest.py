"""Engine fixtures: a flushed Redis database, an executor, in-process and separate runners."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from flows.engine import FlowExecutor, Runner
from flows.engine.cli import run_until_signalled  # noqa: F401 - the CLI module must import cleanly


@pytest.fixture
async def executor(redis_url: str) -> AsyncIterator[FlowExecutor]:
    async with FlowExecutor(redis_url) as executor:
        yield executor


@pytest.fixture
async def runner(redis_url: str) -> AsyncIterator[Runner]:
    """A runner working in the test's event loop."""
    import asyncio

    runner = Runner(redis_url, concurrency=2, lease_seconds=1.0)
    task = asyncio.create_task(runner.run(), name="test-runner")
    yield runner
    runner.stop()
    await task


@pytest.fixture
def start_runner_process(redis_url: str) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `python -m flows.engine` processes; any still alive at teardown are killed."""
    processes: list[subprocess.Popen] = []

    def start(
        concurrency: int = 2, lease_seconds: float = 1.0, *extra_arguments: str
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
