"""The runner: takes step tasks from the Redis queues and runs them in the sandbox.

Any number of runners, in any number of processes and machines, share one consumer group on
each partition's queue (one queue without partitions: keys.py). A runner takes tasks with the
take script, partition by partition, as long as it has free slots; with none queued it waits
on every queue at once with a plain XREAD, which takes nothing (so a runner never holds more
than it can run), and sweeps again as soon as any queue gets a task.
A runner renews the lease on the tasks it holds; a runner that dies stops renewing, and once
its lease lapses another runner claims the task (XAUTOCLAIM) and runs the step again, counted
as another attempt. On stop() it takes no new work, lets running steps finish for a grace
period, hands back the rest, and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections import defaultdict
from dataclasses import dataclass
from enum import Enum
from typing import Literal

import redis.asyncio as redis

from flows.engine import script_functions
from flows.engine.builder import Step
from flows.engine.connections import async_client, partitions_of
from flows.engine.grants import HttpSettings, StepGrants
from flows.engine.heartbeats import Heartbeat
from flows.engine.keys import RUNNER_GROUP, Keys, Partition
from flows.engine.runner_settings import (
    DEFAULT_CONCURRENCY,
    DEFAULT_LEASE_SECONDS,
    DEFAULT_RETENTION_SECONDS,
    DEFAULT_SHUTDOWN_GRACE_SECONDS,
    RunnerSettings,
)
from flows.engine.sandbox.engine import ScriptEngine
from flows.engine.sandbox.limits import MEMORY_MB
from flows.engine.sandbox.pool import WorkerPool
from flows.engine.sandbox.starlark_runtime import ScriptRequest, ScriptResult
from flows.engine.sandbox.syntax import ScriptError
from flows.engine.secrets import SecretError
from flows.engine.server_version import check_server
from flows.engine.statuses import FlowStatus, StepStatus
from flows.engine.store import Claim, RunContext, RunStore, Taken
from flows.engine.stream_bells import StreamBells

logger = logging.getLogger(__name__)

# Attempts lost to dead runners that a step may use beyond its own retries, so that a step
# which keeps killing its runner cannot be retried forever.
LOST_RUNNER_ALLOWANCE = 2
READ_BLOCK_MS = 500


class Skipped(Enum):
    """What an attempt gives when the step's condition is false."""

    SKIPPED = "skipped"


SKIPPED = Skipped.SKIPPED


@dataclass
class _Task:
    """A task this runner holds: why its script was interrupted, if it was."""

    part: Partition  # whose queue holds the task (its run's)
    task_id: str
    flow_id: str
    step_id: str = ""  # the task's step, then the step it runs now
    context: RunContext | None = None  # read with the first claim on the task's run
    worker: asyncio.Task | None = None
    script: asyncio.Future | None = None
    interrupted_by: str = ""  # "cancel" (the run was cancelled) or "shutdown"


class Runner:
    def __init__(
        self,
        redis_url: str,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        key_prefix: str = "",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        shutdown_grace_seconds: float = DEFAULT_SHUTDOWN_GRACE_SECONDS,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
        engine: ScriptEngine | None = None,
        http: HttpSettings | None = None,
        secrets_key: str = "",
        script_modules: tuple[str, ...] = (),
        sandbox_memory_mb: int = MEMORY_MB,
    ) -> None:
        """`http`: the outbound HTTP policy steps get (none: no host allowed); `secrets_key`:
        FLOWS_SECRETS_KEY, without which steps that read secrets fail; `script_modules`: the
        FLOWS_SCRIPT_MODULES entries scripts may call (ValueError names one that won't load).
        The defaults are RunnerSettings' (runner_settings.py)."""
        script_functions.load(script_modules)
        self.redis = async_client(redis_url, decode_responses=True)
        self.keys = Keys(key_prefix, partitions_of(redis_url))
        self.store = RunStore(self.redis, self.keys, retention_seconds)
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self.engine = engine or WorkerPool(concurrency, sandbox_memory_mb, script_modules)
        self.grants = StepGrants(self.redis, self.keys, http or HttpSettings(), secrets_key)
        self.name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.heartbeat = Heartbeat(
            self.redis, self.keys, self.name, concurrency=concurrency, lease_seconds=lease_seconds
        )
        self._stopping = asyncio.Event()  # stop taking work
        # Set once held work is finished or handed back: leases and cancels matter until then.
        self._released = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._retry_scheduled = asyncio.Event()
        # Held tasks by (partition number, task id): partitions' streams hand out the same ids.
        self._tasks: dict[tuple[int, str], _Task] = {}
        self._next_partition = 0  # where the next sweep starts, so that each gets its turn
        self.bells = StreamBells(redis_url, [part.queue for part in self.keys.partitions])
        self._partition_of_queue = {part.queue: part for part in self.keys.partitions}
        self._woken: list[Partition] = []  # the queues that rang while nothing was queued
        self._started = False
        self._working: asyncio.Task | None = None  # run(), while in an `async with` block

    @classmethod
    def from_settings(cls, settings: RunnerSettings) -> Runner:
        """A runner configured by `settings` (RunnerSettings.from_env, or the web app's)."""
        return cls(
            settings.redis_url,
            concurrency=settings.concurrency,
            key_prefix=settings.key_prefix,
            lease_seconds=settings.lease_seconds,
            shutdown_grace_seconds=settings.shutdown_grace_seconds,
            retention_seconds=settings.retention_seconds,
            http=settings.http,
            secrets_key=settings.secrets_key,
            script_modules=settings.script_modules,
            sandbox_memory_mb=settings.sandbox_memory_mb,
        )

    async def start(self) -> None:
        if not self._started:
            await check_server(self.redis)
            await self.store.ensure_group()
            await self.engine.start()
            self._started = True

    def stop(self) -> None:
        """Ask run() to stop taking work and return once held work is finished or handed back."""
        self._stopping.set()

    async def __aenter__(self) -> Runner:
        """Work in this event loop, beside the block's own code, until the block ends: then stop
        as stop() does. For a program (or a test) that runs its own runner."""
        await self.start()
        self._working = asyncio.create_task(self.run(), name=f"{self.name}-working")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop()
        if self._working is not None:
            await self._working

    async def run(self) -> None:
        await self.start()
        logger.info("runner %s started with concurrency %d", self.name, self.concurrency)
        self.bells.start()
        helpers = [
            asyncio.create_task(
                self._every(self.lease_seconds / 3, self._renew_leases), name=f"{self.name}-leases"
            ),
            asyncio.create_task(
                self._every(self.lease_seconds / 2, self._reclaim_expired),
                name=f"{self.name}-reclaim",
            ),
            asyncio.create_task(
                self._every(1.0, self._listen_for_cancels), name=f"{self.name}-cancels"
            ),
            asyncio.create_task(self._promote_retries(), name=f"{self.name}-retries"),
            asyncio.create_task(
                self.heartbeat.run(self._running_steps, self._released),
                name=f"{self.name}-heartbeat",
            ),
        ]
        try:
            while not self._stopping.is_set():
                try:
                    await self._take_new_tasks()
                except redis.RedisError:
                    # Redis restarting or unreachable: keep what we hold, try again shortly.
                    logger.exception("runner %s cannot read tasks; retrying in 1s", self.name)
                    await self._pause(1.0, self._stopping)
        finally:
            await self._shut_down(helpers)

    # -- taking work -------------------------------------------------------------------

    def _running_steps(self) -> list[tuple[str, str]]:
        return [(task.flow_id, task.step_id) for task in self._tasks.values()]

    def _free_slots(self) -> int:
        return self.concurrency - len(self._tasks)

    async def _take_new_tasks(self) -> None:
        """Take tasks for the free slots, waiting briefly for a slot or a task when there is
        none (so run() loops without spinning). Claiming in the same call as reading keeps a
        busy runner fast."""
        if self._free_slots() <= 0:
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), READ_BLOCK_MS / 1000)
            return
        try:
            if not await self._sweep():
                # Nothing queued: wait until a queue gets a task (or a while, in case a ring
                # was lost to a Redis restart), then sweep again from the queues that did.
                rang = await self.bells.wait(READ_BLOCK_MS / 1000)
                self._woken = [self._partition_of_queue[queue] for queue in rang]
        except redis.ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            # A queue was deleted (Redis flushed or restarted without data): recreate it.
            await self.store.ensure_group()

    async def _sweep(self) -> bool:
        """Take what the queues hold while slots are free: from the queues that rang first,
        else from those that may hold tasks. Returns whether any task was taken (or the queues
        that rang were all looked at: the next sweep looks at all)."""
        woken, self._woken = self._woken, []
        self.bells.forget()  # what is queued from now on rings anew
        if woken:
            parts = woken
        elif len(self.keys.partitions) == 1:
            parts = list(self.keys.partitions)
        else:
            parts = await self._queues_with_tasks()
        start = self._next_partition % max(len(parts), 1)
        self._next_partition += 1  # each gets its turn to go first
        took = False
        for part in parts[start:] + parts[:start]:
            if self._free_slots() <= 0:
                return True
            for task_id, flow_id, claim in await self.store.take(
                part, self.name, self._free_slots()
            ):
                took = True
                if isinstance(claim, Claim):
                    self._begin(part, task_id, flow_id, claim.step_id, claim)
        return took or bool(woken)

    async def _queues_with_tasks(self) -> list[Partition]:
        """In one round trip, the partitions whose queue holds tasks no runner took yet (or may:
        the group's lag is unknown after some deletions, or there is no group yet). Spares a
        take per empty queue: a sweep of 16 one after the other took 5 ms, long enough for a
        step to wait on it."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for part in self.keys.partitions:
                pipe.xinfo_groups(part.queue)
            answers = await pipe.execute(raise_on_error=False)
        candidates = []
        for part, groups in zip(self.keys.partitions, answers, strict=True):
            group = None
            if not isinstance(groups, Exception):
                group = next((each for each in groups if each["name"] == RUNNER_GROUP), None)
            if group is None or group.get("lag") != 0:
                candidates.append(part)
        return candidates

    async def _reclaim_expired(self) -> None:
        """Take over tasks whose runner stopped renewing its lease (it died)."""
        for part in self.keys.partitions:
            if self._free_slots() <= 0 or self._stopping.is_set():
                return
            answer = await self.redis.xautoclaim(
                part.queue,
                RUNNER_GROUP,
                self.name,
                min_idle_time=int(self.lease_seconds * 1000),
                count=self._free_slots(),
            )
            # [next id, messages, deleted ids]; deleted ones have no fields.
            for task_id, fields in answer[1]:
                if fields and (part.number, task_id) not in self._tasks:
                    logger.warning(
                        "runner %s takes over task %s (lease lapsed)", self.name, task_id
                    )
                    self._begin(part, task_id, fields["flow_id"], fields.get("step_id", ""))

    def _begin(
        self,
        part: Partition,
        task_id: str,
        flow_id: str,
        step_id: str,
        claim: Claim | None = None,
    ) -> None:
        """Hold the task and run its step (`step_id`: '' for a task queued before flows
        branched), claimed already or not."""
        task = _Task(part, task_id, flow_id, step_id)
        self._tasks[part.number, task_id] = task
        task.worker = asyncio.create_task(self._process(task, claim), name=f"run-{task_id}")

    # -- running one task --------------------------------------------------------------

    async def _process(self, task: _Task, claim: Claim | str | None) -> None:
        """Run the task's step, then each step it makes ready that this runner goes on with,
        until the run's part held here ends, is handed back, or is lost."""
        try:
            if claim is None:
                claim = await self.store.claim(task.task_id, task.flow_id, task.step_id, self.name)
            if isinstance(claim, str):
                logger.debug("task %s skipped: %s", task.task_id, claim)
                await self._drop(task)
                return
            while isinstance(claim, Claim):
                task.step_id = claim.step_id
                task.context = claim.context or task.context
                result = await self._attempt(task, claim)
                if result is None:
                    await self._hand_back(task, claim)
                    return
                claim, taken = await self._record(task, claim, result)
                if taken is not None:
                    claim = self._switch(task, taken)
        except Exception:
            # The task stays in our pending list; once our lease on it lapses it is retried.
            logger.exception("flow %s step %s: runner error", task.flow_id, task.step_id)
        finally:
            del self._tasks[task.part.number, task.task_id]
            self._slot_freed.set()

    async def _attempt(self, task: _Task, claim: Claim) -> ScriptResult | Skipped | None:
        """Check the step's condition, then run its script; None when interrupted by shutdown."""
        assert task.context is not None, "a task's first claim reads its run's context"
        context = task.context
        step = context.definition.step(claim.step_id)
        if claim.attempt - claim.retry_base > step.max_attempts + LOST_RUNNER_ALLOWANCE:
            message = f"gave up: runners were lost during {LOST_RUNNER_ALLOWANCE} attempts"
            return ScriptResult(error=ScriptError(message))
        if step.when:
            verdict = await self._check_condition(task, claim, step)
            if verdict is not True:
                return verdict
        try:
            grant = await self.grants.for_script(step.script, context.definition.allowed_hosts)
        except SecretError as error:
            return ScriptResult(error=ScriptError(str(error)))
        request = ScriptRequest(
            script=step.script,
            input=context.input,
            steps=claim.outputs,
            attempt=claim.attempt,
            timeout=step.timeout,
            secrets=grant.secrets,
            http=grant.http,
        )
        result = await self._sandboxed(task, request)
        return grant.redacted(result) if result else result

    async def _check_condition(
        self, task: _Task, claim: Claim, step: Step
    ) -> Literal[True] | Skipped | ScriptResult | None:
        """True when the step is to run; SKIPPED when its condition is false; a failed
        attempt when the condition does not give True or False."""
        assert task.context is not None
        request = ScriptRequest(
            script=step.when,
            input=task.context.input,
            steps=claim.outputs,
            attempt=claim.attempt,
            timeout=step.timeout,
        )
        verdict = await self._sandboxed(task, request)
        if verdict is None:
            return None
        if verdict.ok and verdict.output_json in ("true", "false"):
            return True if verdict.output_json == "true" else SKIPPED
        problem = verdict.error or f"gave {verdict.output_json}, not True or False"
        return ScriptResult(error=ScriptError(f"condition {problem}"), logs=verdict.logs)

    async def _sandboxed(self, task: _Task, request: ScriptRequest) -> ScriptResult | None:
        """Run a script for the task in the sandbox, unless or until it is interrupted: a
        cancel fails the attempt, a shutdown gives None (the attempt is handed back)."""
        if not task.interrupted_by:
            task.script = asyncio.ensure_future(self.engine.run(request))
        try:
            if task.script is not None:
                return await task.script
        except asyncio.CancelledError:
            if not task.interrupted_by:
                raise
        finally:
            task.script = None
        return (
            ScriptResult(error=ScriptError("cancelled"))
            if task.interrupted_by == "cancel"
            else None
        )

    async def _record(
        self, task: _Task, claim: Claim, result: ScriptResult | Skipped
    ) -> tuple[Claim | str, Taken | None]:
        """Finish the attempt; a runner that is not stopping takes its next task in the same
        call once this one is done with."""
        assert task.context is not None
        if result is SKIPPED:
            logger.info("flow %s step %s skipped: condition false", task.flow_id, claim.step_id)
            outcome, error, output_json, logs = StepStatus.SKIPPED, "", "", []
        else:
            outcome = StepStatus.COMPLETED if result.ok else StepStatus.FAILED
            error, output_json, logs = (
                str(result.error or ""),
                result.output_json or "",
                result.logs,
            )
        if error:
            logger.info(
                "flow %s step %s attempt %d failed: %s",
                task.flow_id,
                claim.step_id,
                claim.attempt,
                error,
            )
        step = task.context.definition.step(claim.step_id)
        answer, taken = await self.store.finish(
            task.task_id,
            task.flow_id,
            claim.step_id,
            attempt=claim.attempt,
            consumer=self.name,
            outcome=outcome,
            output_json=output_json,
            error=error,
            logs=logs,
            retry_delay=_retry_delay(step, claim) if outcome == StepStatus.FAILED else 0.0,
            take_next=not self._stopping.is_set(),
        )
        if answer == "waiting":
            self._retry_scheduled.set()
        elif answer == "lost":
            logger.warning(
                "flow %s step %s attempt %d was taken over by another runner (or recorded already)",
                task.flow_id,
                claim.step_id,
                claim.attempt,
            )
        return answer, taken

    def _switch(self, task: _Task, taken: Taken) -> Claim | str:
        """Hold the task taken instead of the one done with, in the same slot."""
        task_id, flow_id, claim = taken  # from the same partition's queue
        del self._tasks[task.part.number, task.task_id]
        task.task_id, task.flow_id, task.context, task.interrupted_by = task_id, flow_id, None, ""
        self._tasks[task.part.number, task_id] = task
        if isinstance(claim, str):
            logger.debug("task %s skipped: %s", task_id, claim)
        return claim

    async def _hand_back(self, task: _Task, claim: Claim) -> None:
        await self.store.release(
            task.task_id, task.flow_id, claim.step_id, attempt=claim.attempt, consumer=self.name
        )
        logger.info("flow %s step %s handed back", task.flow_id, claim.step_id)

    async def _drop(self, task: _Task) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(task.part.queue, RUNNER_GROUP, task.task_id)
            pipe.xdel(task.part.queue, task.task_id)
            await pipe.execute()

    # -- retries after a wait ----------------------------------------------------------

    async def _promote_retries(self) -> None:
        """Queue retries as they fall due, waking when this runner schedules one. Every runner
        does this for all, so a retry scheduled by a runner that died is queued by the others,
        at most lease/2 seconds late."""
        while not self._released.is_set():
            self._retry_scheduled.clear()
            try:
                waits = [await self.store.promote_due_retries(p) for p in self.keys.partitions]
                wait = min((w for w in waits if w is not None), default=None)
            except redis.RedisError:
                logger.exception("runner %s cannot queue due retries; trying again", self.name)
                wait = None
            backstop = self.lease_seconds / 2
            await self._pause(
                backstop if wait is None else min(wait, backstop), self._retry_scheduled
            )

    # -- leases and cancellation -------------------------------------------------------

    async def _renew_leases(self) -> None:
        """Reset the idle time of held tasks, and catch cancellations pub/sub may have missed."""
        held = list(self._tasks.values())
        if not held:
            return
        by_queue: dict[str, list[str]] = defaultdict(list)
        for task in held:
            by_queue[task.part.queue].append(task.task_id)
        for queue, task_ids in by_queue.items():
            try:
                await self.redis.xclaim(
                    queue,
                    RUNNER_GROUP,
                    self.name,
                    min_idle_time=0,
                    message_ids=task_ids,
                    justid=True,
                )
            except redis.RedisError as error:
                # One queue's failure (its slot moving, its node away) must not let the leases
                # of the others lapse: they would be taken over while their steps run.
                logger.warning(
                    "runner %s could not renew leases in %s (%s)", self.name, queue, error
                )
        async with self.redis.pipeline(transaction=False) as pipe:
            for task in held:
                pipe.hget(self.keys.flow(task.flow_id), "status")
            statuses = await pipe.execute(raise_on_error=False)
        for task, status in zip(held, statuses, strict=True):
            if status == FlowStatus.CANCELLED:
                self._interrupt(task, "cancel")

    async def _listen_for_cancels(self) -> None:
        """Interrupt held tasks as their run's cancel is published, until nothing is held.
        (Run by _every: should Redis stay away longer than redis-py's reconnects, it is
        subscribed again; meanwhile _renew_leases still catches cancels.)"""
        async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(self.keys.cancel_channel)
            while not self._released.is_set():
                message = await pubsub.get_message(timeout=READ_BLOCK_MS / 1000)
                if message is None:
                    continue
                for task in list(self._tasks.values()):
                    if task.flow_id == message["data"]:
                        self._interrupt(task, "cancel")

    def _interrupt(self, task: _Task, reason: str) -> None:
        """Stop the task's script now, or keep the next one from starting."""
        task.interrupted_by = reason
        if task.script is not None and not task.script.done():
            task.script.cancel()

    async def _every(self, seconds: float, work) -> None:
        """Do `work` every so often until this runner holds nothing any more."""
        while not self._released.is_set():
            try:
                await work()
            except redis.RedisError:
                logger.exception("runner %s: %s failed; trying again", self.name, work.__name__)
            await self._pause(seconds, self._released)

    @staticmethod
    async def _pause(seconds: float, until: asyncio.Event) -> None:
        """Sleep, but wake at once when `until` is set."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(until.wait(), seconds)

    # -- stopping ----------------------------------------------------------------------

    async def _shut_down(self, helpers: list[asyncio.Task]) -> None:
        workers = [task.worker for task in self._tasks.values() if task.worker]
        if workers:
            logger.info(
                "runner %s stopping: waiting up to %gs for %d running step(s)",
                self.name,
                self.shutdown_grace_seconds,
                len(workers),
            )
            _done, still_running = await asyncio.wait(workers, timeout=self.shutdown_grace_seconds)
            if still_running:
                logger.info("runner %s handing back %d step(s)", self.name, len(still_running))
                for task in list(self._tasks.values()):
                    self._interrupt(task, "shutdown")
                await asyncio.wait(still_running)
        self._released.set()
        self._retry_scheduled.set()  # wakes the retries helper to see it
        try:
            await asyncio.gather(*helpers)
            await self._leave_group()
        except redis.RedisError as error:
            # Redis is away: the group keeps this consumer's name, holding nothing.
            logger.warning("runner %s could not leave its group (%s)", self.name, error)
        finally:
            await self.bells.close()
            await self.engine.close()
            await self.redis.aclose()  # a client left open warns when collected
        logger.info("runner %s stopped", self.name)

    async def _leave_group(self) -> None:
        """Remove this consumer from the group, unless it still holds tasks (they'd be lost)."""
        for part in self.keys.partitions:
            try:
                pending = await self.redis.xpending_range(
                    part.queue, RUNNER_GROUP, min="-", max="+", count=1, consumername=self.name
                )
                if not pending:
                    await self.redis.xgroup_delconsumer(part.queue, RUNNER_GROUP, self.name)
            except redis.ResponseError as error:
                if "NOGROUP" not in str(error):
                    raise


def _retry_delay(step: Step, claim: Claim) -> float:
    """Seconds before the next attempt: the step's backoff less up to half at random."""
    nominal = step.backoff_seconds(claim.attempt - claim.retry_base)
    return nominal * random.uniform(0.5, 1.0)
