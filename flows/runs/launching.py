"""Launching runs of a flow definition: the engine queues them, the audit trail names who
launched which version, and a single launch is recorded in the archive at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flows import engine_client
from flows.engine.concurrency import LimitReached
from flows.models import AuditEntry, FlowDefinition, RunRecord
from flows.runs import records

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


# What starts runs, as a run's meta records it ({"kind": ..., and for a schedule or a webhook its
# id and name}); the Runs page filters by kind.
TRIGGER_KINDS = ("manual", "api", "schedule", "webhook")
MANUAL = {"kind": "manual"}


def launch(
    definition: FlowDefinition,
    input: dict[str, Any],
    user: AbstractBaseUser,
    trigger: dict[str, Any] = MANUAL,
) -> RunRecord:
    """Start a run of the definition as it is now and return its RunRecord (already stored, so
    the Runs list shows it at once); ValueError says why it cannot run, LimitReached that a
    concurrency limit refused it. `trigger` says what started it (TRIGGER_KINDS)."""
    meta = _launch_meta(definition, user, trigger)
    flow_id = engine_client.launch(definition.to_flow(), input, meta)
    _audit_launches(definition, user, meta, [flow_id])
    return records.record_launched_run(flow_id)


def launch_once(
    definition: FlowDefinition,
    input: dict[str, Any],
    user: AbstractBaseUser,
    key: str,
    trigger: dict[str, Any] = MANUAL,
) -> tuple[RunRecord, bool]:
    """launch() with an idempotency key: a launch of the flow with the same key within the
    key's window answers with its run instead (and nothing is audited). Also says whether this
    call started the run."""
    meta = _launch_meta(definition, user, trigger)
    flow_id, started = engine_client.launch_once(definition.to_flow(), input, meta, key)
    if started:
        _audit_launches(definition, user, meta, [flow_id])
    return records.record_launched_run(flow_id), started


def launch_many(
    definition: FlowDefinition,
    inputs: list[dict[str, Any]],
    user: AbstractBaseUser,
    trigger: dict[str, Any] = MANUAL,
) -> list[str]:
    """Start a run per input, all or none (every input is checked first); their flow ids in
    order. The archiver lists them on the Runs page as it takes them, within a second. A
    concurrency limit that rejects runs may refuse some: LimitReached lists those started."""
    meta = _launch_meta(definition, user, trigger)
    try:
        flow_ids = engine_client.launch_many(definition.to_flow(), inputs, meta)
    except LimitReached as refusal:
        _audit_launches(definition, user, meta, refusal.started)
        raise
    _audit_launches(definition, user, meta, flow_ids)
    return flow_ids


def _launch_meta(
    definition: FlowDefinition, user: AbstractBaseUser, trigger: dict[str, Any]
) -> dict[str, Any]:
    """What a run keeps of who launched it from which version of its definition, and how."""
    if trigger.get("kind") not in TRIGGER_KINDS:
        raise ValueError(f"a run's trigger is one of {', '.join(TRIGGER_KINDS)}, not {trigger!r}")
    return {
        "launched_by": user.get_username(),
        "definition_id": definition.pk,
        "definition_version": definition.version,
        "trigger": trigger,
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
