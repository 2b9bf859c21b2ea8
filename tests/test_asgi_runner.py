"""The web process runs a flow runner through the ASGI lifespan and stops it gracefully."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from flows.engine import FlowExecutor, FlowStatus
from tests.engine.flows import one_step_flow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def web_process(redis_url: str, tmp_path) -> Iterator[subprocess.Popen]:
    """uvicorn serving flowsite.asgi on a migrated SQLite database of its own."""
    environment = dict(
        os.environ,
        REDIS_URL=redis_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'web.sqlite3'}",
        FLOWSITE_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="flowsite.settings",
    )
    migrate = [sys.executable, "manage.py", "migrate", "--verbosity", "0"]
    subprocess.run(migrate, env=environment, check=True)
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "flowsite.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(_free_port()),
        "--lifespan",
        "on",
    ]
    process = subprocess.Popen(command, env=environment, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:  # blocks until uvicorn reports start-up, or exits
        if "Application startup complete" in line:
            break
    yield process
    if process.poll() is None:
        process.kill()
        process.communicate()


async def test_the_web_process_runs_flows_and_stops_its_runner_on_sigterm(
    redis_url: str, web_process: subprocess.Popen
):
    async with FlowExecutor(redis_url) as executor:
        flow_id = await executor.execute_flow(one_step_flow("'from the web process'"))
        final = await executor.wait_for_flow(flow_id, timeout=60)

    web_process.send_signal(signal.SIGTERM)
    _, log = web_process.communicate()

    assert final.status == FlowStatus.COMPLETED
    # uvicorn shuts down gracefully, then exits by the signal it caught.
    assert web_process.returncode in (0, -signal.SIGTERM)
    assert re.search(r"flows.engine.runner: runner \S+ stopped", log)
    assert log.rstrip().endswith(f"Finished server process [{web_process.pid}]")
