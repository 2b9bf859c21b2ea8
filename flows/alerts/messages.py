"""What an alert says: one line of text (an email's subject, a chat message), the email's body,
and the JSON a webhook receives, with a `text` field as Slack-compatible webhooks want it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from flows.models import FailureAlert


def run_link(alert: FailureAlert) -> str:
    """The run's page: absolute under FLOWS_SITE_URL when set, else the site-relative path."""
    path = reverse("flows:run_detail", args=[alert.flow_id])
    return settings.FLOWS_SITE_URL.rstrip("/") + path


def headline(alert: FailureAlert) -> str:
    where = f"{alert.name} failed at step {alert.step}" if alert.step else f"{alert.name} failed"
    if alert.kind == FailureAlert.Kind.DIGEST:
        again = "once more" if alert.count == 1 else f"{alert.count} more times"
        return f"Flowsite: {where} {again} since the last alert"
    return f"Flowsite: {where}"


def email_body(alert: FailureAlert) -> str:
    lines = [headline(alert), "", f"Error: {alert.error}", f"Run: {run_link(alert)}"]
    if alert.kind == FailureAlert.Kind.DIGEST:
        lines.append("(the latest of them; alerts alike are sent at most every 10 minutes)")
    return "\n".join(lines) + "\n"


def webhook_json(alert: FailureAlert) -> dict[str, Any]:
    return {
        "text": f"{headline(alert)}: {alert.error} {run_link(alert)}",
        "kind": alert.kind,
        "flow": alert.name,
        "step": alert.step,
        "error": alert.error,
        "count": alert.count,
        "run_id": alert.flow_id,
        "run_url": run_link(alert),
    }
