"""The web process runs a flow runner as a supervised child process through the ASGI lifespan:
restarted if it dies, stopped gracefully with the web process, gone if the web process is
killed outright."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psutil
import pytest

from flows.engine import FlowExecutor, FlowStatus
from tests.engine.flows import one_step_flow
from tests.site_settings import site_environment

# A bound on how long the processes may take, not a pause: polling stops as soon as they are done.
DEADLINE_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LoggedProcess:
    """A server process whose log (its stderr) a thread reads as it comes, into `lines`."""

    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    # Set when every process holding the log pipe (uvicorn, the runner, its workers) has exited.
    log_closed: threading.Event = field(default_factory=threading.Event)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
        self.log_closed.set()


@dataclass
class WebProcess(LoggedProcess):
    runners_seen: list[psutil.Process] = field(default_factory=list)

    def runner(self) -> psutil.Process | None:
        """The live `flows.engine` child of the web process, if there is one."""
        for child in psutil.Process(self.process.pid).children():
            try:
                if "flows.engine" in child.cmdline() and _alive(child):
                    self.runners_seen.append(child)
                    return child
            except psutil.NoSuchProcess:
                continue
        return None


def _alive(process: psutil.Process) -> bool:
    """Running, and not an unreaped zombie (a container's init may never reap orphans)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def _eventually(condition: Callable[[], object]) -> object:
    """Poll until `condition()` is true (returning it), failing after DEADLINE_SECONDS."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not (result := condition()):
        assert time.monotonic() < deadline, f"still not true after {DEADLINE_SECONDS} s"
        await asyncio.sleep(0.05)
    return result


@pytest.fixture
def web_process(redis_url: str, tmp_path) -> Iterator[WebProcess]:
    """uvicorn serving flowsite.asgi on a migrated SQLite database of its own."""
    environment = site_environment(
        tmp_path, REDIS_URL=redis_url, DATABASE_URL=f"sqlite:///{tmp_path / 'web.sqlite3'}"
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
    web = WebProcess(process)
    for line in process.stderr:  # blocks until uvicorn reports start-up, or exits
        web.lines.append(line)
        if "Application startup complete" in line:
            break
    # Keep draining the log, so a full pipe never blocks the server or its runner.
    reader = threading.Thread(target=web.read_log, name="web-log", daemon=True)
    reader.start()
    yield web
    if process.poll() is None:
        web.runner()
        process.kill()
        process.wait()
    for runner in web.runners_seen:  # should a test fail, leave no orphan behind
        if _alive(runner):
            runner.kill()
    reader.join(DEADLINE_SECONDS)
    process.stderr.close()


async def test_the_web_process_runs_flows_and_stops_its_runner_on_sigterm(
    redis_url: str, web_process: WebProcess
):
    async with FlowExecutor(redis_url) as executor:
        flow_id = await executor.execute_flow(one_step_flow("'from the web process'"))
        final = await executor.wait_for_flow(flow_id, timeout=60)

    web_process.process.send_signal(signal.SIGTERM)
    assert web_process.log_closed.wait(DEADLINE_SECONDS)
    web_process.process.wait()

    assert final.status == FlowStatus.COMPLETED
    # uvicorn shuts down gracefully, then exits by the signal it caught.
    assert web_process.process.returncode in (0, -signal.SIGTERM)
    log = web_process.log
    assert re.search(r"flows.engine.runner: runner \S+ stopped", log)
    assert re.search(r"flow runner process \d+ exited with code 0", log)
    assert log.rstrip().endswith(f"Finished server process [{web_process.process.pid}]")


async def test_a_killed_runner_process_is_restarted_and_runs_new_flows(
    redis_url: str, web_process: WebProcess
):
    first = await _eventually(web_process.runner)
    assert redis_url not in " ".join(first.cmdline())  # it may hold a password: not in `ps`

    first.kill()
    second = await _eventually(
        lambda: (runner := web_process.runner()) and runner.pid != first.pid and runner
    )
    async with FlowExecutor(redis_url) as executor:
        flow_id = await executor.execute_flow(one_step_flow("'after the restart'"))
        final = await executor.wait_for_flow(flow_id, timeout=60)

    assert final.status == FlowStatus.COMPLETED
    assert "RunnerProcess failed; starting it again in 0.5 s" in web_process.log
    assert f"flow runner process {first.pid} exited with code -9" in web_process.log
    assert _alive(second)


async def test_the_runner_process_stops_when_the_web_process_is_killed(web_process: WebProcess):
    runner = await _eventually(web_process.runner)
    await _eventually(lambda: re.search(r"runner \S+ started with concurrency", web_process.log))

    web_process.process.kill()

    await _eventually(lambda: not _alive(runner))
    # It stopped gracefully (SIGTERM from the kernel on its parent's death), and nothing that
    # shared the web process's log (the runner's sandbox workers neither) outlived it.
    assert web_process.log_closed.wait(DEADLINE_SECONDS)
    assert re.search(r"flows.engine.runner: runner \S+ stopped", web_process.log)
