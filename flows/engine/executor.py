"""FlowExecutor: launch runs, read their state, wait for them, retry and cancel.

It never runs steps itself: runners (flows/engine/runner.py) do, from the Redis queue, so
`execute_flow` returns as soon as the run is stored.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as redis

from flows.engine.builder import Flow, validate_flow
from flows.engine.keys import Keys
from flows.engine.state import FlowState, StepState
from flows.engine.statuses import FINAL_FLOW_STATUSES
from flows.engine.store import DEFAULT_RETENTION_SECONDS, ActionResult, RunStore


def encode_input(input: Any) -> str:
    """A run's input must be a JSON object; say so plainly when it is not."""
    if input is None:
        return "{}"
    if not isinstance(input, dict):
        raise ValueError(f"input must be a JSON object (a dict), got {type(input).__name__}")
    try:
        return json.dumps(input, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"input cannot be encoded as JSON: {error}") from None


class FlowExecutor:
    """Client of the engine's Redis state. Creating one does no I/O."""

    def __init__(
        self,
        redis_url: str,
        *,
        key_prefix: str = "",
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)
        self.keys = Keys(key_prefix)
        self.store = RunStore(self.redis, self.keys, retention_seconds)

    async def __aenter__(self) -> FlowExecutor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.redis.aclose()

    async def execute_flow(
        self, flow: Flow, input: dict[str, Any] | None = None, *, meta: dict | None = None
    ) -> str:
        """Store a new run of `flow` and queue its first step; return the run's flow id.

        `meta` is free-form JSON kept with the run (who launched it, definition version...).
        """
        validate_flow(flow)
        input_json = encode_input(input)
        flow_id = uuid.uuid4().hex
        await self.store.create(flow_id, flow, input_json, json.dumps(meta or {}))
        return flow_id

    async def get_flow_state(self, flow_id: str) -> FlowState:
        return await self.store.read_flow(flow_id)

    async def get_step_state(self, flow_id: str, step_id: str) -> StepState:
        return await self.store.read_step(flow_id, step_id)

    async def get_steps(self, flow_id: str) -> list[StepState]:
        """Every step of the run, in the run's order."""
        state = await self.store.read_flow(flow_id)
        return await self.store.read_steps(flow_id, [s.name for s in state.definition.steps])

    async def watch_flow(self, flow_id: str) -> AsyncIterator[dict[str, Any]]:
        """Yield the run's transition events as they happen, until the run ends.

        Events are dicts with kind ("flow" or "step"), flow_id, status, at, error, and for
        steps step_id and attempt_count. Subscribing before reading the state means a
        transition between the two cannot be missed; nothing is yielded for an ended run.
        """
        async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(self.keys.flow_channel(flow_id))
            if (await self.store.read_flow(flow_id)).status in FINAL_FLOW_STATUSES:
                return
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is None:
                    continue
                event = json.loads(message["data"])
                yield event
                if event["kind"] == "flow" and event["status"] in FINAL_FLOW_STATUSES:
                    return

    async def wait_for_flow(self, flow_id: str, timeout: float | None = None) -> FlowState:
        """Return the run's state as soon as it is Completed, Failed or Cancelled.

        Raises TimeoutError after `timeout` seconds.
        """
        async with asyncio.timeout(timeout):
            async for _event in self.watch_flow(flow_id):
                pass
            return await self.store.read_flow(flow_id)

    async def retry_step(
        self, flow_id: str, step_id: str, *, replacement: Flow | None = None
    ) -> ActionResult:
        """Send a failed step back to Pending and resume the run from it.

        With `replacement`, the run's own copy of its definition is replaced first (fix and
        resume); it must keep the same step names. Retrying a step that is not failed does
        nothing and says why.
        """
        if replacement is not None:
            validate_flow(replacement)
            state = await self.store.read_flow(flow_id)
            names = [step.name for step in state.definition.steps]
            if [step.name for step in replacement.steps] != names:
                raise ValueError("a replacement definition must keep the run's step names")
        return await self.store.retry(flow_id, step_id, replacement)

    async def cancel_flow(self, flow_id: str) -> ActionResult:
        """Cancel a live run; its running step is stopped by the runner holding it."""
        return await self.store.cancel(flow_id)
