"""What the examples share: a Redis to run against, and a runner of their own while they run."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from flows.engine import Runner
from flowsite.embedded_redis import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def redis_to_use() -> Iterator[str]:
    """$REDIS_URL, or the embedded server under var/ (started, and stopped after) when unset."""
    if configured := os.environ.get("REDIS_URL"):
        yield configured
        return
    with EmbeddedRedis(ROOT / "var" / "redis") as server:
        yield server.url


@asynccontextmanager
async def running(runner: Runner) -> AsyncIterator[Runner]:
    """The runner working in this event loop until the block ends, then stopped gracefully."""
    task = asyncio.create_task(runner.run(), name="example-runner")
    try:
        yield runner
    finally:
        runner.stop()
        await task
