"""Engine fixtures: a flushed Redis database, an executor, in-process and separate runners."""

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
from tests.own_cluster import OwnCluster, start_own_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnCluster]:
    """A cluster of the test module's own, for tests that move its slots or kill connections."""
    cluster = start_own_cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    cluster.stop()


@pytest.fixture
async def cluster_client(cluster: OwnCluster) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(cluster.url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnCluster]:
    """A local 3-master Valkey Cluster for the session (tests/own_cluster.py)."""
    cluster = start_own_cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    cluster.stop()


# Where the engine tests run: "server" (REDIS_URL), "cluster" (a local cluster of three masters,
# 16 partitions), or both, comma-separated. `make test` runs them on the server; CI's cluster
# job on the cluster.
LAYOUTS = os.environ.get("FLOWS_TEST_LAYOUTS", "server").split(",")


@pytest.fixture(params=LAYOUTS)
def redis_url(request: pytest.FixtureRequest) -> str:
    """The Redis of an engine test: each runs on every layout of LAYOUTS, except that those
    about one server (marked `single_server`, saying why) do not run on a cluster."""
    if request.param == "server":
        return os.environ["REDIS_URL"]
    single_server = request.node.get_closest_marker("single_server")
    if single_server is not None:
        pytest.skip(f"about one server: {single_server.args[0]}")
    cluster: OwnCluster = request.getfixturevalue("own_cluster")
    return cluster.url.replace("redis://", "redis+cluster://", 1)


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
