"""Turn failed runs, as the archiver saves them, into alerts to send.

Throttled per destination, flow, step and error signature (the failure inbox's): the first
failure of a kind is an alert at once; the ones alike within THROTTLE after it add up in one
digest, sent when the window closes. Runs in the archiver's database thread, in one transaction,
and each failure (a run, as of when it failed) is recorded once: a batch taken again after a
crash alerts nobody twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q

from flows.engine.statuses import FlowStatus
from flows.models import AlertDestination, AlertedFailure, FailureAlert, RunRecord

THROTTLE = timedelta(minutes=10)


def record_failures(records: Iterable[RunRecord], now: datetime) -> int:
    """Queue the alerts the failed runs among `records` call for; returns how many failures
    were new."""
    failed = [r for r in records if r.status == FlowStatus.FAILED and r.finished_at is not None]
    if not failed:
        return 0
    with transaction.atomic():
        seen = set(
            AlertedFailure.objects.filter(flow_id__in=[r.flow_id for r in failed]).values_list(
                "flow_id", "failed_at"
            )
        )
        new = [r for r in failed if (r.flow_id, r.finished_at) not in seen]
        AlertedFailure.objects.bulk_create(
            AlertedFailure(flow_id=r.flow_id, failed_at=r.finished_at) for r in new
        )
        for record in new:
            for destination in _destinations(record):
                _alert_or_add_to_digest(destination, record, now)
    return len(new)


def _destinations(record: RunRecord) -> Iterable[AlertDestination]:
    enabled = AlertDestination.objects.filter(enabled=True)
    return enabled.filter(Q(flow__isnull=True) | Q(flow__name=record.name))


def _alert_or_add_to_digest(
    destination: AlertDestination, record: RunRecord, now: datetime
) -> None:
    alike = FailureAlert.objects.filter(
        destination=destination,
        name=record.name,
        step=record.current_step,
        error_signature=record.error_signature,
    )
    last_alert = alike.filter(kind=FailureAlert.Kind.ALERT, created_at__gt=now - THROTTLE).first()
    if last_alert is None:
        _new_alert(destination, record, FailureAlert.Kind.ALERT, now, due=now)
        return
    window_end = last_alert.created_at + THROTTLE
    digest = alike.filter(
        kind=FailureAlert.Kind.DIGEST, status=FailureAlert.Status.PENDING, sent_at__isnull=True
    ).filter(created_at__gte=last_alert.created_at)
    updated = digest.update(count=F("count") + 1, flow_id=record.flow_id, error=record.error)
    if not updated:
        _new_alert(destination, record, FailureAlert.Kind.DIGEST, now, due=window_end)


def _new_alert(
    destination: AlertDestination,
    record: RunRecord,
    kind: FailureAlert.Kind,
    now: datetime,
    due: datetime,
) -> None:
    FailureAlert.objects.create(
        destination=destination,
        kind=kind,
        name=record.name,
        step=record.current_step,
        error_signature=record.error_signature,
        error=record.error,
        flow_id=record.flow_id,
        created_at=now,
        next_attempt_at=due,
    )
