"""What is done to flow definitions beyond one form's save: create from an engine Flow,
duplicate, save, delete, move and reorder steps (each one transaction, one change).

The builder keeps every step below the steps it runs after, so the list reads in the order
steps can run: the step form offers only earlier steps, and a reorder that would put a step
above one it runs after is refused. A step's dependencies are by name: renaming a step renames
it in the others' "runs after", and deleting one hands its own dependencies to the steps that
ran after it, so the rest of the flow keeps the order it had.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.db import transaction
from django.db.models import Max

from flows.engine.builder import Flow, Step
from flows.models import NAME_MAX_LENGTH, FlowDefinition, StepDefinition
from flows.validators import sentence

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def _add_steps(definition: FlowDefinition, steps: Iterable[Step | StepDefinition]) -> None:
    StepDefinition.objects.bulk_create(
        StepDefinition.from_step(step, flow=definition, position=position)
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
        **FlowDefinition.limit_fields(flow),
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
        **{name: getattr(definition, name) for name in FlowDefinition.LIMIT_FIELDS},
        created_by=user,
        updated_by=user,
    )
    _add_steps(copy, definition.steps.all())
    return copy


def next_position(definition: FlowDefinition) -> int:
    highest = definition.steps.aggregate(highest=Max("position"))["highest"]
    return 0 if highest is None else highest + 1


class _NamedStep(Protocol):
    name: str
    after: Sequence[str] | None


@dataclass(frozen=True)
class Misordered:
    """A step listed above a step it runs after."""

    step: str
    dependency: str

    def __str__(self) -> str:
        return f"step {self.step!r} runs after {self.dependency!r}, so it must stay below it"


def find_misordered(steps: Sequence[_NamedStep]) -> Misordered | None:
    """The first step (in list order) that names as a dependency a step not above it, if any.
    Steps that run after the step before them (after is None) are never misordered."""
    names = {step.name for step in steps}
    above: set[str] = set()
    for step in steps:
        for dependency in step.after or ():
            if dependency in names and dependency not in above:
                return Misordered(step.name, dependency)
        above.add(step.name)
    return None


class StepsMisordered(ValueError):
    """A reorder refused because a step would go above a step it runs after."""

    def __init__(self, problem: Misordered, step_id: int) -> None:
        super().__init__(sentence(problem) + ".")
        self.step_id = step_id  # the step that would be misplaced (problem.step)


def with_step(
    steps: Iterable[StepDefinition], edited: StepDefinition, old_name: str | None
) -> list[StepDefinition]:
    """The flow's steps with `edited` in its place (or added at the end when new), and, when it
    was renamed from `old_name`, the others' dependencies on it renamed too (in place)."""
    result = [edited if step.pk == edited.pk and edited.pk else step for step in steps]
    if edited.pk is None:
        result.append(edited)
    if old_name and old_name != edited.name:
        for step in result:
            if step.after and old_name in step.after:
                step.after = [edited.name if name == old_name else name for name in step.after]
    return result


@transaction.atomic
def save_step(edited: StepDefinition, old_name: str | None) -> list[StepDefinition]:
    """Save a step from the step form (already checked with with_step()); when it was renamed,
    rename it in the other steps' dependencies too. Returns those other steps."""
    renamed: list[StepDefinition] = []
    if old_name and old_name != edited.name:
        others = list(edited.flow.steps.select_for_update().exclude(pk=edited.pk))
        with_step(others, edited, old_name)
        renamed = [step for step in others if step.after and edited.name in step.after]
    edited.save()
    StepDefinition.objects.bulk_update(renamed, ["after"])
    return renamed


@transaction.atomic
def delete_step(step: StepDefinition) -> list[StepDefinition]:
    """Delete a step; the steps that ran after it by name run after what it ran after instead.
    Returns those steps."""
    steps = list(step.flow.steps.select_for_update())
    index = next(i for i, other in enumerate(steps) if other.pk == step.pk)
    if step.after is not None:
        inherited = list(step.after)
    else:
        inherited = [steps[index - 1].name] if index else []
    rewired = [other for other in steps if other.after and step.name in other.after]
    for other in rewired:
        names = [name for name in other.after if name != step.name]
        other.after = names + [name for name in inherited if name not in names]
    StepDefinition.objects.bulk_update(rewired, ["after"])
    step.delete()
    return rewired


@transaction.atomic
def reorder_steps(
    definition: FlowDefinition, step_ids: list[int], user: AbstractBaseUser | None
) -> None:
    """Put the steps in the given order; the ids must be exactly the flow's steps. Raises
    StepsMisordered (nothing changed) when a step would go above a step it runs after."""
    steps = {step.pk: step for step in definition.steps.select_for_update()}
    if sorted(step_ids) != sorted(steps):
        raise ValueError("the new order must list every step of the flow exactly once")
    ordered = [steps[step_id] for step_id in step_ids]
    if problem := find_misordered(ordered):
        step_id = next(step.pk for step in ordered if step.name == problem.step)
        raise StepsMisordered(problem, step_id)
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
