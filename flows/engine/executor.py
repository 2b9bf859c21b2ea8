"""FlowExecutor: launch runs, read their state, wait for them, retry and cancel; and follow
what changes (the events stream, the runs changed since the archive last looked).

It never runs steps itself: runners (flows/engine/runner.py) do, from the Redis queue, so
`execute_flow` returns as soon as the run is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

import redis.asyncio as redis

from flows.engine.builder import Flow, validate_flow
from flows.engine.changes import ChangedRuns
from flows.engine.concurrency import LimitReached, limit_slots
from flows.engine.connections import (
    async_client,
    client_url,
    is_cluster_url,
    partitions_of,
    pool_options,
)
from flows.engine.events import EventReader
from flows.engine.keys import Keys
from flows.engine.reads import Steps, StepSelection
from flows.engine.runner_settings import DEFAULT_RETENTION_SECONDS
from flows.engine.secrets import replace_tokens
from flows.engine.state import FlowState, RunSnapshot, StepState
from flows.engine.statuses import FINAL_FLOW_STATUSES
from flows.engine.store import ActionResult, NewRun, RunStore
from flows.engine.subscriptions import RESYNC, Listener, RunSubscriptions


def encode_input(input: Any) -> str:
    """A run's input must be a JSON object; say so plainly when it is not."""
    if input is None:
        return "{}"
    if not isinstance(input, dict):
        raise ValueError(f"input must be a JSON object (a dict), got {type(input).__name__}")
    try:
        # NaN and Infinity are not JSON: stored, they would break every reader of the run.
        return json.dumps(input, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"input cannot be encoded as JSON: {error}") from None


# Connections one executor opens at most; calls past that wait for a free one.
DEFAULT_MAX_CONNECTIONS = 32
# How long a launch's idempotency key keeps answering with the run it started.
DEFAULT_IDEMPOTENCY_SECONDS = 24 * 3600
MAX_IDEMPOTENCY_KEY_CHARS = 255
# Runs a batch launch stores per pipeline (one round trip each).
LAUNCH_BATCH_SIZE = 500

FlowsOrFlow = Flow | Sequence[Flow]


def validate_idempotency_key(key: str) -> None:
    """ValueError unless the key is 1 to 255 printable characters."""
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_CHARS:
        raise ValueError(f"an idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters")
    if not key.isprintable():
        raise ValueError("an idempotency key must not hold control characters")


class FlowExecutor:
    """Client of the engine's Redis state. Creating one does no I/O.

    Safe for any number of concurrent calls in one event loop: they share a pool of at most
    `max_connections` connections (a call waits for a free one rather than failing), and every
    wait and watch shares one pub/sub connection."""

    def __init__(
        self,
        redis_url: str,
        *,
        key_prefix: str = "",
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idempotency_seconds: int = DEFAULT_IDEMPOTENCY_SECONDS,
    ) -> None:
        self.redis_url = redis_url
        if is_cluster_url(redis_url):
            self.redis = async_client(
                redis_url, decode_responses=True, max_connections=max_connections
            )
        else:
            pool = redis.BlockingConnectionPool.from_url(
                client_url(redis_url),
                max_connections=max_connections,
                timeout=None,
                decode_responses=True,
                **pool_options(),
            )
            self.redis = redis.Redis.from_pool(pool)
        self.keys = Keys(key_prefix, partitions_of(redis_url))
        self.store = RunStore(self.redis, self.keys, retention_seconds)
        self.subscriptions = RunSubscriptions(self.redis, self.keys)
        self.idempotency_seconds = idempotency_seconds

    async def __aenter__(self) -> FlowExecutor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        try:
            await self.subscriptions.close()
        finally:
            await self.redis.aclose()

    async def execute_flow(
        self,
        flow: Flow,
        input: dict[str, Any] | None = None,
        *,
        meta: dict | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Store a new run of `flow` and queue its first steps; return the run's flow id.

        `meta` is free-form JSON kept with the run (who launched it, definition version...).
        Over a full concurrency limit of the flow, the run waits as Queued for a slot, or, when
        the flow says "reject", LimitReached is raised and nothing is stored.
        With `idempotency_key`, a launch of the same flow (by name) with the same key within
        `idempotency_seconds` (a day by default) starts nothing and returns the id of the run
        that launch started, however many launches race.
        """
        return (await self.launch(flow, input, meta=meta, idempotency_key=idempotency_key))[0]

    async def launch(
        self,
        flow: Flow,
        input: dict[str, Any] | None = None,
        *,
        meta: dict | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[str, bool]:
        """execute_flow(), also saying whether this call started the run (False when an
        earlier launch with the idempotency key did)."""
        validate_flow(flow)
        if idempotency_key is not None:
            validate_idempotency_key(idempotency_key)
        window = (idempotency_key, self.idempotency_seconds) if idempotency_key else None
        run = self._new_run(flow, input, json.dumps(meta or {}), idempotency_key or "")
        return await self.store.create(run, window)

    def _new_run(self, flow: Flow, input: Any, meta_json: str, idempotency_key: str = "") -> NewRun:
        """The run to store, with an id that puts its keys in the partition of those it shares a
        script with: its flow's concurrency limits, else its idempotency key (keys.py)."""
        input_json = encode_input(input)
        home = None
        if flow.concurrency_limits:
            home = self.keys.partition_of_flow(flow.name)
        elif idempotency_key:
            home = self.keys.partition_of_flow(flow.name, idempotency_key)
        flow_id = self.keys.new_run_id(home)
        part = self.keys.partition_of(flow_id)
        slots = limit_slots(part, flow.name, flow.concurrency_limits, input)
        return NewRun(flow_id, flow, input_json, meta_json, slots)

    async def execute_flows(
        self,
        flows: FlowsOrFlow,
        inputs: Sequence[dict[str, Any] | None] | None = None,
        *,
        meta: dict | None = None,
    ) -> list[str]:
        """Launch many runs at once and return their flow ids, in order.

        Either one flow and a list of inputs (a run per input), or a list of flows (with a list
        of as many inputs, or none). Everything is checked before anything is stored, and runs
        are stored LAUNCH_BATCH_SIZE per round trip. Should a concurrency limit refuse runs
        (a flow that rejects runs over its limit), LimitReached lists the runs stored, and no
        more are."""
        if isinstance(flows, Flow):
            if inputs is None:
                raise ValueError("give a list of inputs with one flow (a run per input)")
            flows = [flows] * len(inputs)
        elif inputs is not None and len(inputs) != len(flows):
            raise ValueError(f"{len(flows)} flows but {len(inputs)} inputs: give one per flow")
        for flow in {id(flow): flow for flow in flows}.values():
            validate_flow(flow)
        inputs = inputs or [None] * len(flows)
        meta_json = json.dumps(meta or {})
        runs = [
            self._new_run(flow, input, meta_json) for flow, input in zip(flows, inputs, strict=True)
        ]
        for start in range(0, len(runs), LAUNCH_BATCH_SIZE):
            try:
                await self.store.create_many(runs[start : start + LAUNCH_BATCH_SIZE])
            except LimitReached as refusal:
                stored = [run.flow_id for run in runs[:start]]
                raise LimitReached(str(refusal), stored + refusal.started) from None
        return [run.flow_id for run in runs]

    async def get_flow_state(self, flow_id: str) -> FlowState:
        return await self.store.read_flow(flow_id)

    async def get_step_state(self, flow_id: str, step_id: str) -> StepState:
        return await self.store.read_step(flow_id, step_id)

    async def get_steps(self, flow_id: str) -> list[StepState]:
        """Every step of the run, in the run's order."""
        state = await self.store.read_flow(flow_id)
        return await self.store.read_steps(flow_id, [s.name for s in state.definition.steps])

    async def replace_secrets(self, tokens: Mapping[str, str]) -> None:
        """Make the engine's copy of the secrets hold exactly these encrypted values (by name),
        atomically: the web app's copy, which outlives Redis."""
        await replace_tokens(self.redis, self.keys, tokens)

    async def read_runs(
        self, flow_ids: list[str], steps: StepSelection = Steps.ALL
    ) -> list[RunSnapshot]:
        """These runs with the steps asked for (all, only the ended runs', or only the ids
        given per run), in at most two round trips; runs Redis no longer holds are left out."""
        return await self.store.read_runs(flow_ids, steps)

    def changed_runs(self) -> ChangedRuns:
        """The runs changed since the archive last took them (changes.py)."""
        return ChangedRuns(self.redis, self.keys)

    def event_reader(self, group: str) -> EventReader:
        """A reader of the events stream through the consumer group `group` (events.py)."""
        return EventReader(self.redis, self.keys, group, self.redis_url)

    async def watch_flow(self, flow_id: str) -> AsyncIterator[dict[str, Any]]:
        """Yield the run's transition events as they happen, until the run ends.

        Events are dicts with kind ("flow" or "step"), flow_id, status, at, error, and for
        steps step_id and attempt_count. Nothing is yielded for an ended run. Should the
        connection drop, events published meanwhile are lost, but the watch still ends when
        the run does.
        """
        listener = self.subscriptions.listener()
        try:
            await listener.listen_to([flow_id])
            if (await self.store.read_flow(flow_id)).status in FINAL_FLOW_STATUSES:
                return
            while True:
                event = await listener.queue.get()
                if event is RESYNC:
                    if (await self.store.read_flow(flow_id)).status in FINAL_FLOW_STATUSES:
                        return
                    continue
                yield event
                if _is_final(event):
                    return
        finally:
            listener.close()

    async def wait_for_flow(self, flow_id: str, timeout: float | None = None) -> FlowState:
        """Return the run's state as soon as it is Completed, Failed or Cancelled.

        Raises TimeoutError after `timeout` seconds, RunNotFound for an unknown run."""
        (state,) = await self.wait_for_flows([flow_id], timeout=timeout)
        return state

    async def wait_for_flows(
        self, flow_ids: Sequence[str], timeout: float | None = None
    ) -> list[FlowState]:
        """The final states of these runs, in the same order, once every one has ended.

        Raises TimeoutError, naming how many had not ended, after `timeout` seconds."""
        ended = {state.flow_id: state async for state in self.as_completed(flow_ids, timeout)}
        return [ended[flow_id] for flow_id in flow_ids]

    async def as_completed(
        self, flow_ids: Iterable[str], timeout: float | None = None
    ) -> AsyncIterator[FlowState]:
        """Yield each run's final state as it ends (an ended run's at once), each run once.

        Raises TimeoutError, naming how many had not ended, after `timeout` seconds, and
        RunNotFound for a run Redis does not hold."""
        remaining = set(flow_ids)
        total = len(remaining)
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        # Runs that have ended already need no subscription: one read answers them.
        for state in await self._take_ended(remaining, set(remaining)):
            yield state
        if not remaining:
            return
        listener = self.subscriptions.listener()
        try:
            async with _bounded(deadline, timeout, remaining, total):
                await listener.listen_to(list(remaining), ends_only=True)
            # Heard from now on; read once more for runs that ended before that.
            candidates = set(remaining)
            while remaining:
                for state in await self._take_ended(remaining, candidates):
                    yield state
                if remaining:
                    async with _bounded(deadline, timeout, remaining, total):
                        candidates = await _next_candidates(listener, remaining)
        finally:
            listener.close()

    async def _take_ended(self, remaining: set[str], candidates: set[str]) -> list[FlowState]:
        """Read the candidates' states; those that have ended leave `remaining` and are
        returned."""
        if not candidates:
            return []
        states = await self.store.read_flows(list(candidates))
        ended = [state for state in states if state.status in FINAL_FLOW_STATUSES]
        remaining.difference_update(state.flow_id for state in ended)
        return ended

    async def retry_step(
        self, flow_id: str, step_id: str, *, replacement: Flow | None = None
    ) -> ActionResult:
        """Send a failed step back to Pending and resume the run from it.

        With `replacement`, the run's own copy of its definition is replaced first (fix and
        resume); it must keep the same step names and what each runs after (the run's state
        holds its graph). Retrying a step that is not failed does nothing and says why.
        """
        if replacement is not None:
            validate_flow(replacement)
            state = await self.store.read_flow(flow_id)
            names = [step.name for step in state.definition.steps]
            if [step.name for step in replacement.steps] != names:
                raise ValueError("a replacement definition must keep the run's step names")
            for name in names:
                if replacement.dependencies(name) != state.definition.dependencies(name):
                    raise ValueError(
                        f"a replacement definition must keep what step {name!r} runs after"
                    )
        return await self.store.retry(flow_id, step_id, replacement)

    async def cancel_flow(self, flow_id: str) -> ActionResult:
        """Cancel a live run; its running steps are stopped by the runners holding them."""
        return await self.store.cancel(flow_id)


def _is_final(event: dict[str, Any]) -> bool:
    return event["kind"] == "flow" and event["status"] in FINAL_FLOW_STATUSES


async def _next_candidates(listener: Listener, remaining: set[str]) -> set[str]:
    """Wait for the listener's next events and return the runs they say may have ended: those
    with a final event, or every remaining run after a RESYNC."""
    events = [await listener.queue.get()]
    while not listener.queue.empty():
        events.append(listener.queue.get_nowait())
    if any(event is RESYNC for event in events):
        return set(remaining)
    return {event["flow_id"] for event in events if _is_final(event)} & remaining


@contextlib.asynccontextmanager
async def _bounded(
    deadline: float | None, timeout: float | None, remaining: set[str], total: int
) -> AsyncIterator[None]:
    """A wait's part, bounded by the whole wait's deadline; the TimeoutError says how much of
    the wait was left."""
    try:
        async with asyncio.timeout_at(deadline):
            yield
    except TimeoutError:
        raise TimeoutError(
            f"{len(remaining)} of {total} runs had not ended after {timeout} s"
        ) from None
