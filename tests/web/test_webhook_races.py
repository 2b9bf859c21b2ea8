"""A sender that retries in a burst: many requests at once with one event id, through a real
HTTP server, start exactly one run, and every answer names it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection

from flows.models import AuditEntry, RunRecord

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # The live server's threads share the one connection of SQLite's in-memory test database,
    # which cannot hold their transactions at once: CI runs this on PostgreSQL.
    pytest.mark.skipif(connection.vendor == "sqlite", reason="needs a database server"),
]

SENDS = 30


def test_one_event_posted_thirty_times_at_once_starts_exactly_one_run(live_server, make_webhook):
    issued = make_webhook(idempotency_path="data.id", rate_limit_per_minute=1000)
    url = f"{live_server.url}/hooks/{issued.token}"

    def send(_: int) -> httpx.Response:
        return httpx.post(url, json={"data": {"id": "evt_42"}, "amount": 4200}, timeout=30)

    with ThreadPoolExecutor(SENDS) as senders:
        answers = list(senders.map(send, range(SENDS)))

    assert sorted(answer.status_code for answer in answers) == [200] * (SENDS - 1) + [202]
    (flow_id,) = {answer.json()["flow_id"] for answer in answers}
    assert list(RunRecord.objects.values_list("flow_id", flat=True)) == [flow_id]
    launches = AuditEntry.objects.filter(action=AuditEntry.Action.LAUNCH)
    assert list(launches.values_list("flow_id", flat=True)) == [flow_id]
