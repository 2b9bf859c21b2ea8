"""What is done to flow definitions beyond one form's save: create from an engine Flow,
duplicate, move and reorder steps (each one transaction, one change), and launch a run."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Max

from flows import engine_client, runs
from flows.engine.builder import Flow, Step
from flows.models import NAME_MAX_LENGTH, AuditEntry, FlowDefinition, RunRecord, StepDefinition

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def _add_steps(definition: FlowDefinition, steps: Iterable[Step | StepDefinition]) -> None:
    StepDefinition.objects.bulk_create(
        StepDefinition(
            flow=definition,
            name=step.name,
            position=position,
            script=step.script,
            timeout=step.timeout,
            retries=step.retries,
        )
        for position, step in enumerate(steps)
    )


@transaction.atomic
def create_from_flow(
    flow: Flow, *, description: str = "", user: AbstractBaseUser | None = None
) -> FlowDefinition:
    """Store an engine Flow (already validated by its builder) as a new definition."""
    definition = FlowDefinition.objects.create(
        name=flow.name,
        description=description,
        allowed_hosts=flow.allowed_hosts or "",
        created_by=user,
        updated_by=user,
    )
    _add_steps(definition, flow.steps)
    return definition


def free_copy_name(name: str) -> str:
    """`name_copy`, or `name_copy2`, `name_copy3`... whichever is not taken yet."""
    stem = name[: NAME_MAX_LENGTH - len("_copy999")]
    candidate = f"{stem}_copy"
    number = 1
    while FlowDefinition.objects.filter(name=candidate).exists():
        number += 1
        candidate = f"{stem}_copy{number}"
    return candidate


@transaction.atomic
def duplicate(definition: FlowDefinition, user: AbstractBaseUser | None) -> FlowDefinition:
    copy = FlowDefinition.objects.create(
        name=free_copy_name(definition.name),
        description=definition.description,
        allowed_hosts=definition.allowed_hosts,
        created_by=user,
        updated_by=user,
    )
    _add_steps(copy, definition.steps.all())
    return copy


def next_position(definition: FlowDefinition) -> int:
    highest = definition.steps.aggregate(highest=Max("position"))["highest"]
    return 0 if highest is None else highest + 1


@transaction.atomic
def reorder_steps(
    definition: FlowDefinition, step_ids: list[int], user: AbstractBaseUser | None
) -> None:
    """Put the steps in the given order; the ids must be exactly the flow's steps."""
    steps = {step.pk: step for step in definition.steps.select_for_update()}
    if sorted(step_ids) != sorted(steps):
        raise ValueError("the new order must list every step of the flow exactly once")
    for position, step_id in enumerate(step_ids):
        steps[step_id].position = position
    StepDefinition.objects.bulk_update(steps.values(), ["position"])
    definition.record_change(user)


def move_step(step: StepDefinition, offset: int, user: AbstractBaseUser | None) -> None:
    """Move a step `offset` places (-1 up, +1 down); moving past either end does nothing."""
    ids = list(step.flow.steps.values_list("pk", flat=True))
    index = ids.index(step.pk)
    target = index + offset
    if 0 <= target < len(ids) and target != index:
        ids.insert(target, ids.pop(index))
        reorder_steps(step.flow, ids, user)


def launch(definition: FlowDefinition, input: dict[str, Any], user: AbstractBaseUser) -> RunRecord:
    """Start a run of the definition as it is now and return its RunRecord (already stored, so
    the Runs list shows it at once); ValueError says why it cannot run."""
    meta = _launch_meta(definition, user)
    flow_id = engine_client.launch(definition.to_flow(), input, meta)
    _audit_launches(definition, user, meta, [flow_id])
    return runs.record_launched_run(flow_id)


def launch_many(
    definition: FlowDefinition, inputs: list[dict[str, Any]], user: AbstractBaseUser
) -> list[str]:
    """Start a run per input, all or none (every input is checked first); their flow ids in
    order. The archiver lists them on the Runs page as it takes them, within a second."""
    meta = _launch_meta(definition, user)
    flow_ids = engine_client.launch_many(definition.to_flow(), inputs, meta)
    _audit_launches(definition, user, meta, flow_ids)
    return flow_ids


def _launch_meta(definition: FlowDefinition, user: AbstractBaseUser) -> dict[str, Any]:
    """What a run keeps of who launched it from which version of its definition."""
    return {
        "launched_by": user.get_username(),
        "definition_id": definition.pk,
        "definition_version": definition.version,
    }


def _audit_launches(
    definition: FlowDefinition, user: AbstractBaseUser, meta: dict[str, Any], flow_ids: list[str]
) -> None:
    AuditEntry.objects.bulk_create(
        AuditEntry.entry(
            AuditEntry.Action.LAUNCH,
            user,
            flow_id=flow_id,
            definition=definition,
            version=meta["definition_version"],
        )
        for flow_id in flow_ids
    )
