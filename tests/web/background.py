"""A real runner working through the site's runs in the test's event loop, while a block runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from django.conf import settings

from flows.engine.runner import Runner


@contextlib.asynccontextmanager
async def runner_in_background() -> AsyncIterator[Runner]:
    """The site's runner (its key prefix, its secrets), one step at a time. Leaving the block
    stops it, its held step finished or handed back; should it fail first, the block is
    cancelled and the test fails with the runner's error rather than waiting on it."""
    runner = Runner(
        settings.REDIS_URL,
        concurrency=1,
        key_prefix=settings.FLOWS_KEY_PREFIX,
        secrets_key=settings.FLOWS_SECRETS_KEY,
    )
    async with asyncio.TaskGroup() as group:
        group.create_task(runner.run(), name="runner")
        try:
            yield runner
        finally:
            runner.stop()
