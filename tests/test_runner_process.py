"""RunnerProcess on its own: a runner that keeps exiting is restarted, ever more slowly."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator

import pytest

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
        if "restarting it in" in record.getMessage():
            self.messages.append(record.getMessage())
            if len(self.messages) == 3:
                self.three_seen.set()


@pytest.fixture
def restarts() -> Iterator[_Restarts]:
    logger = logging.getLogger("flowsite.runner_process")
    handler = _Restarts()
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous_level)


async def test_a_runner_that_keeps_exiting_is_restarted_after_growing_pauses(restarts: _Restarts):
    service = RunnerProcess(UNREACHABLE_REDIS, concurrency=1, key_prefix="", retention_seconds=0)
    await service.start()
    supervising = asyncio.create_task(service.run(), name="runner-process")

    await asyncio.wait_for(restarts.three_seen.wait(), timeout=30)
    service.stop()
    # stop() during a pause ends it at once: there is no runner left to stop.
    await asyncio.wait_for(supervising, timeout=5)

    pauses = [re.search(r"restarting it in (\S+) s", message)[1] for message in restarts.messages]
    assert pauses == ["0.5", "1", "2"]
    assert all("exited with code 1;" in message for message in restarts.messages)
