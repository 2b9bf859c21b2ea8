"""RunnerProcess under the lifespan's supervision: a runner that keeps exiting is started again,
ever more slowly; and so is any service that fails."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterator

import pytest

from flowsite.lifespan import Service, keep_running
from flowsite.runner_process import RunnerProcess

# Nothing listens on port 1: the runner exits (code 1) as soon as it tries to reach Redis.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


class _Restarts(logging.Handler):
    """Collects the supervisor's restart messages; `three_seen` is set at the third."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []
        self.three_seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "starting it again in" in record.getMessage():
            self.messages.append(f"{record.getMessage()} ({record.exc_info[1]})")
            if len(self.messages) == 3:
                self.three_seen.set()


@pytest.fixture
def restarts() -> Iterator[_Restarts]:
    logger = logging.getLogger("flowsite.lifespan")
    handler = _Restarts()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@contextlib.asynccontextmanager
async def _supervised(service: Service) -> AsyncIterator[None]:
    """The service started and kept running as the lifespan does, then stopped as it does."""
    stopping = asyncio.Event()
    await service.start()
    supervising = asyncio.create_task(keep_running(service, stopping), name="supervised")
    try:
        yield
    finally:
        stopping.set()
        service.stop()
        await asyncio.wait_for(supervising, timeout=5)


async def test_a_runner_that_keeps_exiting_is_restarted_after_growing_pauses(restarts: _Restarts):
    service = RunnerProcess(UNREACHABLE_REDIS, concurrency=1, key_prefix="", retention_seconds=0)

    # Stopping during a pause ends it at once: there is no runner left to stop.
    async with _supervised(service):
        await asyncio.wait_for(restarts.three_seen.wait(), timeout=30)

    pauses = [
        re.search(r"starting it again in (\S+) s", message)[1] for message in restarts.messages
    ]
    assert pauses == ["0.5", "1", "2"]
    assert all("exited with code 1" in message for message in restarts.messages)


class _FailsTwice:
    """A service whose first two runs fail, as one does while Redis restarts."""

    def __init__(self) -> None:
        self.starts = 0
        self.runs = 0
        self.third_run = asyncio.Event()
        self.stopped = asyncio.Event()

    async def start(self) -> None:
        self.starts += 1

    async def run(self) -> None:
        self.runs += 1
        if self.runs <= 2:
            raise ConnectionError("Redis is restarting")
        self.third_run.set()
        await self.stopped.wait()

    def stop(self) -> None:
        self.stopped.set()


async def test_a_failing_service_is_started_again_and_then_stops_when_asked(restarts: _Restarts):
    service = _FailsTwice()

    async with _supervised(service):
        await asyncio.wait_for(service.third_run.wait(), timeout=10)

    assert (service.starts, service.runs) == (3, 3)
    assert [message.split(";")[0] for message in restarts.messages] == ["_FailsTwice failed"] * 2
