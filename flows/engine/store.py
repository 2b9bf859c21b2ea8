"""Atomic run transitions, one Lua script each, and reads of run state.

Every transition goes through a script in flows/engine/lua/, so two runners (or a runner and
an operator) can never both move the same step; the loser of a race gets a plain answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

import redis.asyncio as redis

from flows.engine.builder import Flow, Step, definition_json
from flows.engine.concurrency import LimitReached
from flows.engine.keys import RUNNER_GROUP, Keys, Partition
from flows.engine.lua_scripts import call_each, load_script
from flows.engine.reads import Steps, StepSelection, read_runs
from flows.engine.runner_settings import DEFAULT_RETENTION_SECONDS
from flows.engine.sandbox.syntax import steps_read
from flows.engine.state import FlowState, RunSnapshot, StepState
from flows.engine.statuses import StepStatus


@lru_cache(maxsize=256)
def _parse_definition(definition_json: str) -> Flow:
    """Runs of one flow share a definition: parse it once, not at every step."""
    return Flow.from_dict(json.loads(definition_json))


@dataclass(frozen=True)
class RunContext:
    """A run's input and definition: read with a runner's first claim on a task, kept while
    the runner goes on with the run."""

    input: dict[str, Any]
    definition: Flow


@dataclass(frozen=True)
class Claim:
    """A claimed attempt: which step, the outputs of the completed steps it reads, and, when
    the claim read it, the run's context."""

    step_id: str
    attempt: int
    retry_base: int
    outputs: dict[str, Any] = field(default_factory=dict)
    context: RunContext | None = None


class NewRun(NamedTuple):
    """A run to store: its id, its flow, its input and meta as JSON, and the concurrency limits
    it counts against (concurrency.limit_slots; '' for none)."""

    flow_id: str
    flow: Flow
    input_json: str
    meta_json: str
    limit_slots: str = ""


# A task a runner took when it finished its last one: (task_id, flow_id, claim or why not).
Taken = tuple[str, str, "Claim | str"]


@lru_cache(maxsize=256)
def _step_arguments(flow: Flow) -> tuple[Any, ...]:
    """What create.lua needs of each step, worked out once per flow: its id, attempts, how many
    steps it waits for, the steps that wait for it, and the outputs it reads."""
    arguments: list[Any] = []
    for step in flow.steps:
        dependents = json.dumps(flow.dependents(step.name))
        arguments += [step.name, step.max_attempts, len(flow.dependencies(step.name))]
        arguments += [dependents, _outputs_read_by(step)]
    return tuple(arguments)


def _outputs_read_by(step: Step) -> str:
    """The earlier outputs the step's script and condition read: a JSON list of step ids, or
    '*' when they may read any (syntax.steps_read). A claim sends a step just those."""
    names = steps_read(step.script)
    condition_names = steps_read(step.when) if step.when else frozenset()
    if names is None or condition_names is None:
        return "*"
    return json.dumps(sorted(names | condition_names))


@dataclass(frozen=True)
class ActionResult:
    """The answer to an operator action: done, or why nothing happened."""

    done: bool
    message: str


class RunNotFound(LookupError):
    pass


def _rejection(flow: Flow, limit_index: int) -> str:
    """Why create.lua refused a run: its flow's `limit_index`-th limit (from 1) is full."""
    limit = flow.concurrency_limits[limit_index - 1]
    return (
        f"flow {flow.name!r} allows {limit.describe()}, all taken: "
        "launch again once one of its runs ends"
    )


class RunStore:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        self.client = client
        self.keys = keys
        self.retention_seconds = retention_seconds
        self._scripts = {
            name: load_script(client, name)
            for name in (
                "create",
                "take",
                "claim",
                "finish",
                "promote",
                "retry",
                "cancel",
                "release",
            )
        }

    async def ensure_group(self) -> None:
        """Create the runners' consumer group on each partition's queue; from id 0 so no task
        queued before it is lost."""
        for partition in self.keys.partitions:
            try:
                await self.client.xgroup_create(
                    partition.queue, RUNNER_GROUP, id="0", mkstream=True
                )
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

    async def create(
        self, run: NewRun, idempotency: tuple[str, int] | None = None
    ) -> tuple[str, bool]:
        """Store the run (Queued when a concurrency limit of its flow is full); with
        `idempotency` (a key and its window in seconds), unless a run of the flow was launched
        with that key within its window. Returns the id of the run and whether this call
        created it. LimitReached when a limit is full and the flow rejects runs over it."""
        answer, outcome = await self._scripts["create"](**self._create_call(run, idempotency))
        if outcome == "rejected":
            raise LimitReached(_rejection(run.flow, int(answer)))
        return answer, outcome != "existing"

    async def create_many(self, runs: list[NewRun]) -> None:
        """create() for each run, in one round trip. LimitReached, listing the runs that
        were stored, when a limit refused any."""
        create = self._scripts["create"]
        answers = await call_each(self.client, [(create, self._create_call(run)) for run in runs])
        started, refusals = [], []
        for run, (answer, outcome) in zip(runs, answers, strict=True):
            if outcome == "rejected":
                refusals.append(_rejection(run.flow, int(answer)))
            else:
                started.append(run.flow_id)
        if refusals:
            raise LimitReached(
                f"{len(refusals)} of {len(runs)} runs refused: {refusals[0]}", started
            )

    def _create_call(
        self, run: NewRun, idempotency: tuple[str, int] | None = None
    ) -> dict[str, list]:
        flow_id, flow, input_json, meta_json, limit_slots = run
        part = self.keys.partition_of(flow_id)
        keys = [part.flow(flow_id), part.queue, part.events, part.runs]
        keys += [part.step(flow_id, step.name) for step in flow.steps]
        args: list[Any] = [
            flow_id,
            flow.name,
            input_json,
            definition_json(flow),
            meta_json,
            part.flow_channel(flow_id),
            self.retention_seconds,
            *self._idempotency_arguments(part, flow, idempotency),
            limit_slots,
            flow.when_limited,
        ]
        return {"keys": keys, "args": [*args, *_step_arguments(flow)]}

    @staticmethod
    def _idempotency_arguments(
        part: Partition, flow: Flow, idempotency: tuple[str, int] | None
    ) -> tuple[str, int]:
        if idempotency is None:
            return "", 0
        key, seconds = idempotency
        return part.idempotency(flow.name, key), seconds

    async def take(
        self, part: Partition, consumer: str, count: int
    ) -> list[tuple[str, str, Claim | str]]:
        """Read up to `count` new tasks of the partition and claim their steps, in one call.

        Returns (task_id, flow_id, claim or the reason it was dropped) for each task read."""
        taken = await self._scripts["take"](
            keys=[part.queue, part.events],
            args=[
                RUNNER_GROUP,
                consumer,
                count,
                *part.script_key_prefixes(),
                self.retention_seconds,
            ],
        )
        return [
            (task_id, flow_id, self._claim_or_reason(claim)) for task_id, flow_id, claim in taken
        ]

    async def claim(self, task_id: str, flow_id: str, step_id: str, consumer: str) -> Claim | str:
        """Claim an attempt at the task's step (`step_id` from the task; '' for a task queued
        before flows branched), or return why there is none to run."""
        part = self.keys.partition_of(flow_id)
        answer = await self._scripts["claim"](
            keys=[part.flow(flow_id), part.events, part.queue],
            args=[
                task_id,
                consumer,
                part.flow_channel(flow_id),
                part.step(flow_id, ""),
                self.retention_seconds,
                step_id,
                *part.script_key_prefixes(),
            ],
        )
        return self._claim_or_reason(answer)

    @staticmethod
    def _claim_or_reason(answer: list) -> Claim | str:
        if answer[0] != "run":
            return answer[1]
        _, step_id, attempt, retry_base, outputs_json, *context = answer
        run_context = None
        if context:
            input_json, definition_json = context
            run_context = RunContext(json.loads(input_json), _parse_definition(definition_json))
        return Claim(
            step_id=step_id,
            attempt=int(attempt),
            retry_base=int(retry_base),
            outputs=json.loads(outputs_json),
            context=run_context,
        )

    async def finish(
        self,
        task_id: str,
        flow_id: str,
        step_id: str,
        *,
        attempt: int,
        consumer: str,
        outcome: StepStatus,
        output_json: str = "",
        error: str = "",
        logs: list[str],
        retry_delay: float = 0.0,
        take_next: bool = False,
    ) -> tuple[Claim | str, Taken | None]:
        """Record an attempt's end (`outcome` COMPLETED with `output_json`, SKIPPED when the
        step's condition was false, or FAILED with `error`) and move the run on.

        Returns the claim (without context: the runner has it) on what this runner runs next
        for the run (the first step this one made ready, or the same step again while retries
        remain and `retry_delay` is 0), else the outcome: 'completed', 'skipped', 'failed',
        'waiting' (a retry is due in `retry_delay` seconds, for any runner), 'stale' (the run
        was cancelled meanwhile) or 'lost' (another runner took over, or this very call was
        applied already: sent again after its reply was lost). With `take_next`, once the task
        is done with, a new task is taken and claimed in the same call, and returned second
        (else None).
        """
        part = self.keys.partition_of(flow_id)
        answer = await self._scripts["finish"](
            keys=[
                part.flow(flow_id),
                part.step(flow_id, step_id),
                part.events,
                part.queue,
                part.delayed,
            ],
            args=[
                task_id,
                attempt,
                consumer,
                outcome,
                output_json,
                error,
                json.dumps(logs, ensure_ascii=False),  # as the caps measure them
                part.flow_channel(flow_id),
                RUNNER_GROUP,
                part.step(flow_id, ""),
                self.retention_seconds,
                retry_delay,
                int(take_next),
                *part.script_key_prefixes(),
            ],
        )
        if answer[0] == "next":
            _, outcome, (task_id, flow_id, claim) = answer
            return outcome, (task_id, flow_id, self._claim_or_reason(claim))
        return self._claim_or_reason(answer), None

    async def promote_due_retries(self, part: Partition, count: int = 100) -> float | None:
        """Queue up to `count` of the partition's retries whose wait is over; return the seconds
        until its next one is due (0 when more are due now), or None when none waits."""
        wait = await self._scripts["promote"](
            keys=[part.delayed, part.queue],
            args=[count, *part.script_key_prefixes()[:2]],
        )
        return None if float(wait) < 0 else float(wait)

    async def release(
        self, task_id: str, flow_id: str, step_id: str, *, attempt: int, consumer: str
    ) -> str:
        """Hand a running attempt back uncounted, queued again for any runner."""
        part = self.keys.partition_of(flow_id)
        return await self._scripts["release"](
            keys=[part.step(flow_id, step_id), part.queue, part.events, part.flow(flow_id)],
            args=[task_id, attempt, consumer, RUNNER_GROUP, part.flow_channel(flow_id)],
        )

    async def retry(
        self, flow_id: str, step_id: str, replacement: Flow | None = None
    ) -> ActionResult:
        max_attempts = replacement.step(step_id).max_attempts if replacement else ""
        steps = replacement.steps if replacement else ()
        reads = {step.name: _outputs_read_by(step) for step in steps}
        part = self.keys.partition_of(flow_id)
        status, message = await self._scripts["retry"](
            keys=[part.flow(flow_id), part.step(flow_id, step_id), part.events, part.queue],
            args=[
                part.flow_channel(flow_id),
                definition_json(replacement) if replacement else "",
                max_attempts,
                part.step(flow_id, ""),
                json.dumps(reads),
            ],
        )
        # A done retry answers with the queued task's id, which is no message for a person.
        done_message = f"step {step_id} will run again"
        return self._action_result(status, done_message if status == "ok" else message)

    async def cancel(self, flow_id: str) -> ActionResult:
        state = await self.read_flow(flow_id)
        part = self.keys.partition_of(flow_id)
        keys = [part.flow(flow_id), part.events, part.queue]
        keys += [part.step(flow_id, step.name) for step in state.definition.steps]
        status, message = await self._scripts["cancel"](
            keys=keys,
            args=[
                part.flow_channel(flow_id),
                self.keys.cancel_channel,
                self.retention_seconds,
                *part.script_key_prefixes(),
            ],
        )
        return self._action_result(status, message or "run cancelled")

    async def read_flow(self, flow_id: str) -> FlowState:
        data = await self.client.hgetall(self.keys.flow(flow_id))
        if not data:
            raise RunNotFound(f"no run {flow_id!r} in Redis")
        return FlowState.from_hash(data)

    async def read_flows(self, flow_ids: list[str]) -> list[FlowState]:
        """read_flow() of each run, in one round trip; RunNotFound if any is missing."""
        async with self.client.pipeline(transaction=False) as pipe:
            for flow_id in flow_ids:
                pipe.hgetall(self.keys.flow(flow_id))
            rows = await pipe.execute()
        missing = [flow_id for flow_id, row in zip(flow_ids, rows, strict=True) if not row]
        if missing:
            raise RunNotFound(f"no run {missing[0]!r} in Redis ({len(missing)} missing)")
        return [FlowState.from_hash(row) for row in rows]

    async def read_step(self, flow_id: str, step_id: str) -> StepState:
        data = await self.client.hgetall(self.keys.step(flow_id, step_id))
        if not data:
            raise RunNotFound(f"run {flow_id!r} has no step {step_id!r} in Redis")
        return StepState.from_hash(data)

    async def read_steps(self, flow_id: str, step_ids: list[str]) -> list[StepState]:
        async with self.client.pipeline(transaction=False) as pipe:
            for step_id in step_ids:
                pipe.hgetall(self.keys.step(flow_id, step_id))
            rows = await pipe.execute()
        return [StepState.from_hash(row) for row in rows if row]

    async def read_runs(
        self, flow_ids: list[str], steps: StepSelection = Steps.ALL
    ) -> list[RunSnapshot]:
        """These runs with the steps asked for, in at most two round trips (reads.py); runs
        Redis no longer holds are left out."""
        return await read_runs(self.client, self.keys, flow_ids, steps)

    @staticmethod
    def _action_result(status: str, message: str) -> ActionResult:
        if status == "missing":
            raise RunNotFound(message)
        return ActionResult(done=status == "ok", message=message)
