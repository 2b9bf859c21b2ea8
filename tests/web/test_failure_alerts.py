"""Failure alerts: who is told (per flow, every flow, not when off), throttling into digests,
delivery by email (Django's test mail box) and webhook (a real local HTTP receiver), retries
with backoff, a real failed run alerting end to end, and the Alerts page's permissions."""

from __future__ import annotations

import http.server
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.core import mail
from django.test import Client
from django.utils import timezone

from flows.alerts.recording import THROTTLE, record_failures
from flows.alerts.sending import MAX_ATTEMPTS, AlertSender, send_due_alerts
from flows.error_signatures import error_signature
from flows.models import AlertDestination, FailureAlert, RunRecord
from tests.serving import served
from tests.web.failure_runs import Archive, define_shop, fail_runs

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _failed(n: int, at: datetime, error: str = "fail: No such customer: cus_{n}") -> RunRecord:
    text = error.format(n=n)
    return RunRecord.objects.create(
        flow_id=f"run{n}",
        name="shop",
        status="failed",
        current_step="charge",
        error=text,
        error_signature=error_signature(text),
        created_at=at,
        finished_at=at,
    )


def _send(now: datetime) -> int:
    async def send() -> int:
        async with httpx.AsyncClient(timeout=5) as client:
            return await send_due_alerts(client, now)

    return async_to_sync(send)()


# Alerts are sent through database_sync_to_async, which closes the connection it used as a
# request would: on PostgreSQL, that of a test's enclosing transaction too. So these tests
# commit (transactional_db), as the archiver's do.


@pytest.fixture
def email(transactional_db: None) -> AlertDestination:
    return AlertDestination.objects.create(kind="email", target="ops@example.com, dev@example.com")


def test_a_failure_alerts_its_flows_destinations_and_those_for_every_flow(email, stripe):
    shop = define_shop()
    for_shop = AlertDestination.objects.create(flow=shop, kind="email", target="shop@example.com")
    AlertDestination.objects.create(flow=stripe, kind="email", target="stripe@example.com")
    AlertDestination.objects.create(kind="email", target="off@example.com", enabled=False)

    assert record_failures([_failed(1, START)], START) == 1

    alerted = {alert.destination for alert in FailureAlert.objects.all()}
    assert alerted == {email, for_shop}
    assert _send(START) == 2
    assert sorted(tuple(message.to) for message in mail.outbox) == [
        ("ops@example.com", "dev@example.com"),
        ("shop@example.com",),
    ]
    message = mail.outbox[0]
    assert message.subject == "Flowsite: shop failed at step charge"
    assert "Error: fail: No such customer: cus_1" in message.body
    assert "Run: /runs/run1/" in message.body


def test_alike_failures_within_ten_minutes_make_one_digest_sent_when_the_window_closes(email):
    record_failures([_failed(1, START)], START)
    for n, minutes in ((2, 1), (3, 4), (4, 9)):
        at = START + timedelta(minutes=minutes)
        record_failures([_failed(n, at)], at)
    record_failures([_failed(5, START, error="fail: card declined")], START)  # another kind

    assert _send(START) == 2  # the first of each kind; the digest waits
    digest = FailureAlert.objects.get(kind=FailureAlert.Kind.DIGEST)
    assert (digest.count, digest.flow_id) == (3, "run4")
    assert digest.next_attempt_at == START + THROTTLE
    assert _send(START + THROTTLE - timedelta(seconds=1)) == 0
    assert _send(START + THROTTLE) == 1
    assert mail.outbox[-1].subject == (
        "Flowsite: shop failed at step charge 3 more times since the last alert"
    )
    # Past the window, the next failure alerts at once again.
    later = START + THROTTLE + timedelta(minutes=1)
    record_failures([_failed(6, later)], later)
    assert _send(later) == 1


def test_the_sender_service_sends_what_is_due_even_as_it_stops(email):
    now = timezone.now()
    record_failures([_failed(1, now)], now)

    async def stopped_at_once() -> None:
        sender = AlertSender()
        sender.stop()
        await sender.run()

    async_to_sync(stopped_at_once)()

    assert len(mail.outbox) == 1
    assert FailureAlert.objects.get().status == FailureAlert.Status.SENT


def test_a_failure_is_alerted_once_however_often_it_is_archived(email):
    record = _failed(1, START)

    assert record_failures([record], START) == 1
    assert record_failures([record], START + timedelta(seconds=1)) == 0
    assert FailureAlert.objects.count() == 1


class _Receiver(http.server.BaseHTTPRequestHandler):
    answers: list[int] = []
    bodies: list[dict] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).answers.pop(0) if type(self).answers else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():
    _Receiver.answers, _Receiver.bodies = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    with served(server, "alert-receiver"):
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver


def test_a_webhook_gets_slack_compatible_json_and_a_failing_one_is_retried_with_backoff(
    transactional_db: None, receiver
):
    url, handler = receiver
    AlertDestination.objects.create(kind="webhook", target=url)
    handler.answers = [500, 503]
    record_failures([_failed(1, START)], START)

    _send(START)
    alert = FailureAlert.objects.get()
    assert (alert.status, alert.attempts, alert.last_error) == (
        "pending",
        1,
        "the webhook answered 500",
    )
    retried_at = alert.next_attempt_at
    assert retried_at == START + timedelta(seconds=30)
    assert _send(retried_at - timedelta(seconds=1)) == 0
    _send(retried_at)
    alert.refresh_from_db()
    assert alert.attempts == 2 and alert.last_error == "the webhook answered 503"
    assert alert.next_attempt_at == retried_at + timedelta(seconds=60)
    _send(alert.next_attempt_at)

    alert.refresh_from_db()
    assert (alert.status, alert.attempts, alert.last_error) == ("sent", 3, "")
    body = handler.bodies[-1]
    assert body["text"] == (
        "Flowsite: shop failed at step charge: fail: No such customer: cus_1 /runs/run1/"
    )
    assert (body["flow"], body["step"], body["count"], body["run_id"]) == (
        "shop",
        "charge",
        1,
        "run1",
    )


def test_an_unreachable_destination_is_given_up_after_its_last_try(transactional_db: None):
    # Nothing listens on port 9 (discard) here: the connection is refused at once.
    AlertDestination.objects.create(kind="webhook", target="http://127.0.0.1:9/hook")
    record_failures([_failed(1, START)], START)

    for _ in range(MAX_ATTEMPTS):
        alert = FailureAlert.objects.get()
        _send(alert.next_attempt_at)

    alert.refresh_from_db()
    assert (alert.status, alert.attempts) == ("failed", MAX_ATTEMPTS)
    assert alert.last_error


def test_a_real_failed_run_alerts_through_the_archiver(email, archive: Archive):
    [flow_id] = fail_runs(define_shop(), [{"n": 7}])

    archive()

    alert = FailureAlert.objects.get()
    assert (alert.flow_id, alert.name, alert.step) == (flow_id, "shop", "charge")
    assert "No such customer: cus_7" in alert.error
    _send(timezone.now())
    assert mail.outbox[0].subject == "Flowsite: shop failed at step charge"


def test_only_admins_see_and_change_the_alerts_page(
    client: Client, viewer: Client, operator: Client, admin: Client
):
    assert client.get("/alerts/").status_code == 302
    assert viewer.get("/alerts/").status_code == 403
    assert operator.post("/alerts/add/", {"kind": "email", "target": "a@b.c"}).status_code == 403

    refused = admin.post("/alerts/add/", {"kind": "email", "target": "ops@example.com, nope"})
    added = admin.post("/alerts/add/", {"kind": "webhook", "target": "https://hooks.example/x"})
    page = admin.get("/alerts/")

    assert refused.status_code == 400
    assert "&#x27;nope&#x27; is not a valid email address." in refused.content.decode()
    assert 'value="ops@example.com, nope"' in refused.content.decode()
    assert added.status_code == 302
    (destination,) = AlertDestination.objects.all()
    assert (destination.kind, destination.flow, destination.enabled) == ("webhook", None, True)
    assert b"https://hooks.example/x" in page.content
    admin.post(f"/alerts/{destination.pk}/toggle/")
    destination.refresh_from_db()
    assert not destination.enabled
    assert operator.post(f"/alerts/{destination.pk}/delete/").status_code == 403
    admin.post(f"/alerts/{destination.pk}/delete/")
    assert not AlertDestination.objects.exists()
