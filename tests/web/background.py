"""A real runner working through the site's runs: in the test's event loop while a block runs,
or until a run ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from asgiref.sync import async_to_sync
from django.conf import settings

from flows.engine.executor import FlowExecutor
from flows.engine.runner import Runner
from flows.engine.statuses import FlowStatus


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


def until_ended(flow_id: str) -> FlowStatus:
    """Run a real runner until the run ends; return its final status."""

    async def work() -> FlowStatus:
        async with runner_in_background(), FlowExecutor(settings.REDIS_URL) as executor:
            state = await executor.wait_for_flow(flow_id)
        return state.status

    return async_to_sync(work)()


def until_all_ended(flow_ids: list[str]) -> list[FlowStatus]:
    """Run a real runner until all these runs end; return their final statuses, in order."""

    async def work() -> list[FlowStatus]:
        async with runner_in_background(), FlowExecutor(settings.REDIS_URL) as executor:
            states = await executor.wait_for_flows(flow_ids)
        return [state.status for state in states]

    return async_to_sync(work)()
