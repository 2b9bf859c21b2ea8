"""The production shape: `manage.py serve --workers N` serves with N web worker processes, and
their lifespans still run one flow runner, one live bridge and one archiver between them; when
the worker running those dies, another takes them over."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from flows.engine import FlowExecutor, FlowStatus
from tests.engine.flows import one_step_flow
from tests.site_settings import site_environment
from tests.test_asgi_runner import (
    DEADLINE_SECONDS,
    LoggedProcess,
    _alive,
    _eventually,
    _free_port,
)

LEASED = ["RunnerProcess", "LiveBridge", "Archiver", "AlertSender"]


@dataclass
class Served(LoggedProcess):
    database: Path = field(kw_only=True)

    def runners(self) -> list[psutil.Process]:
        """The live `python -m flows.engine` processes under the server, whichever its worker.
        Not a runner's own child caught between fork and exec (a sandbox worker starting): it
        shows its parent's command line for that moment."""
        found = {}  # process: its parent's pid
        for process in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if process.cmdline()[1:3] == ["-m", "flows.engine"] and _alive(process):
                    found[process] = process.ppid()
            except psutil.NoSuchProcess:
                continue
        runner_pids = {process.pid for process in found}
        return [process for process, parent in found.items() if parent not in runner_pids]

    def held(self, name: str) -> int:
        """How many times a worker has taken the lease of the service `name`."""
        return self.log.count(f"{name}: this worker holds the lease")

    def archived_status(self, flow_id: str) -> str | None:
        with sqlite3.connect(self.database) as connection:
            row = connection.execute(
                "SELECT status FROM flows_runrecord WHERE flow_id = ?", [flow_id]
            ).fetchone()
        return row and row[0]


@pytest.fixture
def served(redis_url: str, tmp_path: Path) -> Iterator[Served]:
    """`manage.py serve --workers 2` on a SQLite database of its own, runner embedded."""
    database = tmp_path / "web.sqlite3"
    environment = site_environment(
        tmp_path,
        REDIS_URL=redis_url,
        DATABASE_URL=f"sqlite:///{database}",
        DJANGO_SUPERUSER_USERNAME="workers",
        DJANGO_SUPERUSER_PASSWORD="workers-password-1",
    )
    command = [sys.executable, "manage.py", "serve", "--port", str(_free_port()), "--workers", "2"]
    process = subprocess.Popen(
        command,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        process_group=0,
    )
    served = Served(process, database=database)
    reader = threading.Thread(target=served.read_log, name="serve-log", daemon=True)
    reader.start()
    yield served
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    reader.join(DEADLINE_SECONDS)
    process.stderr.close()


async def _run_and_archive(redis_url: str, served: Served, label: str) -> None:
    async with FlowExecutor(redis_url) as executor:
        flow_id = await executor.execute_flow(one_step_flow(repr(label)))
        final = await executor.wait_for_flow(flow_id, timeout=60)
    assert final.status == FlowStatus.COMPLETED
    await _eventually(lambda: served.archived_status(flow_id) == FlowStatus.COMPLETED)


async def test_two_web_workers_run_one_runner_one_bridge_and_one_archiver(
    redis_url: str, served: Served
):
    # Each service is taken by one worker, and the other worker waits for it.
    await _eventually(
        lambda: all(
            served.held(name) == 1 and f"{name}: another worker runs it" in served.log
            for name in LEASED
        )
    )
    assert len(served.runners()) == 1

    await _run_and_archive(redis_url, served, "served by two workers")

    assert len(served.runners()) == 1
    assert len(re.findall(r"Application startup complete", served.log)) == 2
    assert all(served.held(name) == 1 for name in LEASED)


async def test_when_the_worker_running_them_dies_another_worker_takes_them_over(
    redis_url: str, served: Served
):
    await _eventually(lambda: all(served.held(name) == 1 for name in LEASED))
    (first_runner,) = await _eventually(served.runners)
    holder = first_runner.parent()

    holder.kill()  # no lease released: another worker takes over once the lease lapses

    # Leases are taken one by one, so the dead worker may have held the runner's alone: its
    # lease is taken again; the others' too if it held them (the run below needs them all).
    await _eventually(lambda: served.held("RunnerProcess") == 2)
    (second_runner,) = await _eventually(served.runners)
    assert second_runner.pid != first_runner.pid
    assert second_runner.parent().pid != holder.pid
    await _run_and_archive(redis_url, served, "after the takeover")
