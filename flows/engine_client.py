"""The Django side's door to the engine: one long-lived FlowExecutor for the whole process.

Views are synchronous. The executor lives on an event loop of its own, in a daemon thread, and
each helper hands it a coroutine and waits for the answer: one pool of connections serves every
request, whichever thread or server (ASGI, the test client) runs the view, instead of a client
built and torn down per call. The loop and its connections close when the process exits, or
when a test points the site at another server (`setting_changed` on REDIS_URL and its kin).
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from flows.engine.builder import Flow
from flows.engine.executor import FlowExecutor
from flows.engine.health import HealthReader, ServerHealth
from flows.engine.heartbeats import RunnerHeartbeat
from flows.engine.metrics import EngineMetrics, read_metrics
from flows.engine.reads import RunReader
from flows.engine.sandbox.one_off import run_once
from flows.engine.sandbox.starlark_runtime import ScriptRequest, ScriptResult
from flows.engine.state import RunSnapshot
from flows.engine.statuses import FlowStatus, StepStatus
from flows.engine.store import ActionResult, RunNotFound
from flows.process_wide import ProcessWide

T = TypeVar("T")
CLOSE_TIMEOUT_SECONDS = 5.0
# The settings the cached clients are built from.
CLIENT_SETTINGS = {
    "REDIS_URL",
    "FLOWS_KEY_PREFIX",
    "FLOWS_RETENTION_SECONDS",
    "FLOWS_IDEMPOTENCY_SECONDS",
}


def _start_engine() -> tuple[asyncio.AbstractEventLoop, FlowExecutor]:
    """Start the engine's loop thread and its executor (once per process: see _engine)."""
    loop = asyncio.new_event_loop()
    threading.Thread(
        target=_run_until_stopped, args=(loop,), name="flows-engine-client", daemon=True
    ).start()
    executor = FlowExecutor(
        settings.REDIS_URL,
        key_prefix=settings.FLOWS_KEY_PREFIX,
        retention_seconds=settings.FLOWS_RETENTION_SECONDS,
        idempotency_seconds=settings.FLOWS_IDEMPOTENCY_SECONDS,
    )
    atexit.register(_close, loop, executor)
    return loop, executor


_engine = ProcessWide(_start_engine)


def _run_until_stopped(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_forever()
    loop.close()


def _close(loop: asyncio.AbstractEventLoop, executor: FlowExecutor) -> None:
    try:
        asyncio.run_coroutine_threadsafe(executor.close(), loop).result(CLOSE_TIMEOUT_SECONDS)
    finally:
        loop.call_soon_threadsafe(loop.stop)


@receiver(setting_changed)
def _forget_clients(setting: str, **kwargs: Any) -> None:
    """Close the cached executor and reader when the settings they were built from change; the
    next call builds them anew (as Channels does for CHANNEL_LAYERS)."""
    if setting not in CLIENT_SETTINGS:
        return
    engine = _engine.forget()
    if engine is not None:
        atexit.unregister(_close)
        _close(*engine)
    for old_reader in (reader.forget(), health.forget()):
        if old_reader is not None:
            old_reader.close()


def _with_executor(work: Callable[[FlowExecutor], Coroutine[Any, Any, T]]) -> T:
    loop, executor = _engine()
    return asyncio.run_coroutine_threadsafe(work(executor), loop).result()


def launch(flow: Flow, input: dict[str, Any], meta: dict[str, Any]) -> str:
    """Queue a run and return its flow id; ValueError if the input is not a JSON object."""
    return _with_executor(lambda executor: executor.execute_flow(flow, input, meta=meta))


def launch_once(
    flow: Flow, input: dict[str, Any], meta: dict[str, Any], idempotency_key: str
) -> tuple[str, bool]:
    """launch() unless a launch of the flow with this key started a run within the key's
    window (FLOWS_IDEMPOTENCY_SECONDS): the run's id, and whether this call started it."""
    return _with_executor(
        lambda executor: executor.launch(flow, input, meta=meta, idempotency_key=idempotency_key)
    )


def launch_many(flow: Flow, inputs: list[dict[str, Any]], meta: dict[str, Any]) -> list[str]:
    """Queue a run per input, in one round trip per batch; their flow ids in order."""
    return _with_executor(lambda executor: executor.execute_flows(flow, inputs, meta=meta))


def mirror_secrets(tokens: dict[str, str]) -> None:
    """Replace the engine's copy of the secrets (encrypted values, by name) with these."""

    _with_executor(lambda executor: executor.replace_secrets(tokens))


def _connect_reader() -> RunReader:
    return RunReader(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX)


# The engine's synchronous reader, on a pooled client: for reads on hot paths (page loads,
# connecting sockets), sparing them an event loop and a new connection each.
reader = ProcessWide(_connect_reader)


def _connect_health() -> HealthReader:
    return HealthReader(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX)


# The engine's health checks, on a client of their own with short timeouts: every page's
# banners ask, and a Redis that does not answer must not hang them.
health = ProcessWide(_connect_health)


def server_health() -> ServerHealth:
    """Redis' fitness to keep runs, and whether a runner is alive to run them, as read at most
    a few seconds ago; an unreachable server gives `reachable` False, not an exception."""
    return health().check()


def runners() -> list[RunnerHeartbeat]:
    """Every runner by its heartbeat, alive or gone, read now."""
    return health().runners()


def engine_metrics(live_pages: list[str], live_since: float) -> EngineMetrics:
    """What /metrics reports of the engine, read now on the health checks' client (short
    timeouts: a scrape of an unresponsive Redis fails quickly); raises redis errors."""
    checks = health()
    return read_metrics(checks.client, checks.keys, live_pages=live_pages, live_since=live_since)


def read_run(flow_id: str) -> RunSnapshot:
    """The run's state and its steps; raises RunNotFound."""
    run = reader().read_run(flow_id)
    if run is None:
        raise RunNotFound(f"no run {flow_id!r} in Redis")
    return run


def run_statuses(flow_ids: list[str]) -> dict[str, FlowStatus]:
    """Status of each run in one round trip; runs no longer in Redis are left out."""
    return reader().statuses(flow_ids)


def run_samples(flow_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A run's input and the outputs of its completed steps, as sample data for a test run."""
    try:
        run = read_run(flow_id)
    except RunNotFound:
        return {}, {}
    completed = [step for step in run.steps if step.status == StepStatus.COMPLETED]
    outputs = {step.step_id: step.output for step in completed}
    return run.state.input, outputs


def active_run_ids(flow_ids: list[str]) -> list[str]:
    """The runs among these that have not finished yet."""
    return [fid for fid, status in run_statuses(flow_ids).items() if not status.is_final]


def retry_step(flow_id: str, step_id: str, replacement: Flow | None = None) -> ActionResult:
    """Resume a failed run from its failed step (with a replacement definition: fix and resume).

    A step that is not failed is left alone and the result says why: double clicks are safe.
    Raises RunNotFound, and ValueError for a replacement that does not fit the run."""
    return _with_executor(
        lambda executor: executor.retry_step(flow_id, step_id, replacement=replacement)
    )


def cancel_run(flow_id: str) -> ActionResult:
    """Cancel a live run; an ended run is left alone and the result says so."""
    return _with_executor(lambda executor: executor.cancel_flow(flow_id))


def run_script_once(request: ScriptRequest) -> ScriptResult:
    """Run one script in the runner's sandbox, in a throwaway worker, without creating a run."""
    return async_to_sync(run_once)(request, tuple(settings.FLOWS_SCRIPT_MODULES))
