"""The alert sender: a background service of the web process (under a lease: once across
workers) that sends the alerts that are due, and retries a failing destination with backoff.

The database is read and written in Django's database thread; mail and HTTP go out from their
own threads and an async client, never holding that thread (a slow mail server must not stall
the pages) nor the runner, which knows nothing of alerts.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import httpx
from channels.db import database_sync_to_async
from django.core.mail import send_mail
from django.utils import timezone

from flows.alerts.messages import email_body, headline, webhook_json
from flows.background import RoundsUntilStopped
from flows.models import AlertDestination, FailureAlert

logger = logging.getLogger(__name__)

BATCH = 20
IDLE_SECONDS = 2.0
WEBHOOK_TIMEOUT_SECONDS = 10.0
FIRST_RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 3600.0
MAX_ATTEMPTS = 8  # about four hours of retries


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: 30 s, doubling, at most an hour."""
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** (attempts - 1), MAX_RETRY_SECONDS))


class AlertSender(RoundsUntilStopped):
    def __init__(self) -> None:
        super().__init__()
        self.http = httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_SECONDS)

    async def work(self) -> None:
        sent = await send_due_alerts(self.http, timezone.now())
        if not sent:
            await self.pause(IDLE_SECONDS)

    async def finish(self) -> None:
        """What is due as the web process stops is still sent (a failure just before a
        deploy is the one worth telling)."""
        await send_due_alerts(self.http, timezone.now())

    async def close(self) -> None:
        await self.http.aclose()


async def send_due_alerts(http: httpx.AsyncClient, now: datetime) -> int:
    """Try each alert due by `now` (at most BATCH), and note when each was sent or is due
    again; returns how many were tried."""
    due = await database_sync_to_async(_due)(now)
    for alert in due:
        problem = await _deliver(http, alert)
        await database_sync_to_async(_note_outcome)(alert, problem, now)
    return len(due)


def _due(now: datetime) -> list[FailureAlert]:
    pending = FailureAlert.objects.filter(
        status=FailureAlert.Status.PENDING, next_attempt_at__lte=now
    )
    return list(pending.select_related("destination").order_by("next_attempt_at")[:BATCH])


async def _deliver(http: httpx.AsyncClient, alert: FailureAlert) -> str:
    """'' once sent, else why not."""
    destination = alert.destination
    try:
        if destination.kind == AlertDestination.Kind.EMAIL:
            recipients = [one.strip() for one in destination.target.split(",") if one.strip()]
            await asyncio.to_thread(send_mail, headline(alert), email_body(alert), None, recipients)
        else:
            answer = await http.post(destination.target, json=webhook_json(alert))
            if answer.status_code >= 300:
                return f"the webhook answered {answer.status_code}"
    except (OSError, httpx.HTTPError) as error:
        return str(error) or type(error).__name__
    return ""


def _note_outcome(alert: FailureAlert, problem: str, now: datetime) -> None:
    alert.attempts += 1
    if not problem:
        alert.status, alert.sent_at, alert.last_error = FailureAlert.Status.SENT, now, ""
    else:
        alert.last_error = problem
        if alert.attempts >= MAX_ATTEMPTS:
            alert.status = FailureAlert.Status.FAILED
            logger.error("alert %s to %s given up: %s", alert.pk, alert.destination, problem)
        else:
            alert.next_attempt_at = now + retry_delay(alert.attempts)
            logger.warning("alert %s to %s not sent: %s", alert.pk, alert.destination, problem)
    alert.save(update_fields=["attempts", "status", "sent_at", "last_error", "next_attempt_at"])
