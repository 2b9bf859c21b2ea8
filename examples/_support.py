"""What the examples share: a Redis to run against, and how they show a run as it goes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flows.engine import Flow, FlowExecutor, FlowState
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


def _status(event: dict[str, Any]) -> str:
    return event["status"]


async def launch_and_watch(
    executor: FlowExecutor,
    flow: Flow,
    input: dict[str, Any],
    describe: Callable[[dict[str, Any]], str] = _status,
) -> FlowState:
    """Launch the flow, print its id at once, then each step's event as it happens (its status,
    or what `describe` makes of it), then how the run ended; return its final state."""
    flow_id = await executor.execute_flow(flow, input)
    print(f"launched flow {flow_id}")
    async for event in executor.watch_flow(flow_id):
        if event["kind"] == "step":
            print(f"  {event['step_id']}: {describe(event)}")
    final = await executor.get_flow_state(flow_id)
    print(f"flow {final.status}: {final.error or 'all steps done'}")
    return final
