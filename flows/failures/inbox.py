"""Reads of the failure inbox: the archive's failed runs grouped by flow, failed step and error
signature, newest group first, without the groups an admin dismissed since their last failure.

Grouping is one aggregate over the failed runs (the `run_failure_groups` index covers it);
then one query for the groups' newest runs (their samples) and one for the last day's failure
times (their sparklines), however many groups there are.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from urllib.parse import urlencode

from django.db.models import Count, Max, Min, Q, QuerySet
from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from flows.engine.statuses import FlowStatus
from flows.error_signatures import normalise
from flows.failures.sparkline import BUCKET, BUCKETS, Sparkline, sparkline
from flows.models import FailureDismissal, RunRecord

GROUPS_SHOWN = 100


@dataclass(frozen=True)
class GroupKey:
    """What makes a group: the flow's name, the failed step and the error signature."""

    flow: str
    step: str
    signature: str

    @classmethod
    def from_data(cls, data: QueryDict) -> GroupKey | None:
        """The key a form or a link carries; None if a part is missing."""
        key = cls(data.get("flow", ""), data.get("step", ""), data.get("signature", ""))
        return key if key.flow and key.step and key.signature else None

    @property
    def fix_url(self) -> str:
        """The group's fix page (the key in its query string: names may hold any character)."""
        query = urlencode({"flow": self.flow, "step": self.step, "signature": self.signature})
        return f"{reverse('flows:failure_fix')}?{query}"

    def failed_runs(self) -> QuerySet[RunRecord]:
        """The group's runs that the archive holds as failed, newest first."""
        return RunRecord.objects.filter(
            status=FlowStatus.FAILED,
            name=self.flow,
            current_step=self.step,
            error_signature=self.signature,
        ).order_by("-finished_at", "-flow_id")


@dataclass(frozen=True)
class FailureGroup:
    key: GroupKey
    count: int
    first_seen: datetime
    last_seen: datetime
    sample: RunRecord  # the newest run of the group
    sparkline: Sparkline

    @property
    def message(self) -> str:
        return normalise(self.sample.error)


def failure_groups(now: datetime | None = None) -> list[FailureGroup]:
    """The groups to show, newest failure first (at most GROUPS_SHOWN)."""
    now = now or timezone.now()
    rows = _undismissed_groups()[:GROUPS_SHOWN]
    if not rows:
        return []
    samples = _samples(rows)
    times = _recent_times(now)
    groups = []
    for row in rows:
        key = GroupKey(row["name"], row["current_step"], row["error_signature"])
        if key not in samples:
            # Its newest run was archived again (retried) between the two reads: the group has
            # changed, and the live feed sends it as it is now after that batch.
            continue
        groups.append(
            FailureGroup(
                key=key,
                count=row["count"],
                first_seen=row["first_seen"],
                last_seen=row["last_seen"],
                sample=samples[key],
                sparkline=sparkline(times[key], now),
            )
        )
    return groups


def _failed() -> QuerySet[RunRecord]:
    return RunRecord.objects.filter(status=FlowStatus.FAILED, finished_at__isnull=False).exclude(
        error_signature=""
    )


def _undismissed_groups() -> list[dict]:
    """Each group's key, count, first and last failure; a dismissed group only once it has
    failed again since."""
    rows = (
        _failed()
        .values("name", "current_step", "error_signature")
        .annotate(count=Count("id"), first_seen=Min("finished_at"), last_seen=Max("finished_at"))
    )
    dismissals = {
        (d.name, d.step, d.error_signature): d.dismissed_at for d in FailureDismissal.objects.all()
    }
    shown = []
    for row in rows.order_by("-last_seen", "name", "current_step"):
        dismissed_at = dismissals.get((row["name"], row["current_step"], row["error_signature"]))
        if dismissed_at is None or row["last_seen"] > dismissed_at:
            shown.append(row)
    return shown


def _samples(rows: list[dict]) -> dict[GroupKey, RunRecord]:
    """Each group's newest run: a run of the group that failed at its last_seen."""
    newest = reduce(
        operator.or_,
        (
            Q(
                name=row["name"],
                current_step=row["current_step"],
                error_signature=row["error_signature"],
                finished_at=row["last_seen"],
            )
            for row in rows
        ),
    )
    runs = _failed().filter(newest).defer("snapshot")
    samples = {}
    for run in runs.order_by("finished_at", "flow_id"):
        samples[GroupKey(run.name, run.current_step, run.error_signature)] = run
    return samples


def _recent_times(now: datetime) -> dict[GroupKey, list[datetime]]:
    since = now - BUCKETS * BUCKET
    recent = _failed().filter(finished_at__gt=since, finished_at__lte=now)
    times: dict[GroupKey, list[datetime]] = defaultdict(list)
    fields = ("name", "current_step", "error_signature", "finished_at")
    for name, step, signature, finished_at in recent.values_list(*fields):
        times[GroupKey(name, step, signature)].append(finished_at)
    return times


def render_inbox(can_act: bool) -> str:
    """The groups' section, as the page renders it and the live feed pushes it."""
    context = {"groups": failure_groups(), "can_act": can_act}
    return render_to_string("flows/_failure_groups.html", context)
