"""What is done to flow definitions beyond one form's save: create from an engine Flow,
duplicate, move and reorder steps (each one transaction, one change)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Max

from flows.engine.builder import Flow, Step
from flows.models import NAME_MAX_LENGTH, FlowDefinition, StepDefinition

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
