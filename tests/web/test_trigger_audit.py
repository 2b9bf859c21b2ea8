"""Changes to what starts runs on their own are audited: a webhook made, rotated or revoked,
a schedule added, changed, turned off or deleted; each entry names who, which flow, and which
webhook or schedule (never a token); the admin's audit entries list them."""

from __future__ import annotations

from django.test import Client

from flows.models import AuditEntry, FlowDefinition, Schedule
from tests.web.test_schedule_pages import HTMX
from tests.web.test_schedule_pages import _form as _schedule_form
from tests.web.test_webhooks import _create as _create_webhook

Action = AuditEntry.Action


def _trail(flow: FlowDefinition) -> list[tuple[str, str, dict]]:
    """The flow's entries that are about no run, oldest first: (action, username, details)."""
    entries = AuditEntry.objects.filter(definition=flow, flow_id="").order_by("at", "id")
    return [(entry.action, entry.username, entry.details) for entry in entries]


def test_making_rotating_and_revoking_a_webhook_is_audited_without_its_token(
    operator: Client, stripe
):
    made = _create_webhook(operator, stripe, label="shop", signed="on")
    webhook = made.context["issued"].trigger
    base = f"/flows/{stripe.name}/webhooks/{webhook.pk}"
    rotated = operator.post(f"{base}/rotate/", headers=HTMX)
    operator.post(f"{base}/revoke/", headers=HTMX)
    operator.post(f"{base}/revoke/", headers=HTMX)  # revoked already: 404, nothing to audit

    about = {"webhook": webhook.pk, "name": "shop"}
    assert _trail(stripe) == [
        (Action.WEBHOOK_CREATE, "operator", about),
        (Action.WEBHOOK_ROTATE, "operator", about),
        (Action.WEBHOOK_REVOKE, "operator", about),
    ]
    stored = str(list(AuditEntry.objects.values_list("details", flat=True)))
    for shown_once in (made.context["url"], rotated.context["url"], made.context["issued"].secret):
        assert shown_once.rsplit("/", 1)[-1] not in stored


def test_adding_changing_turning_off_and_deleting_a_schedule_is_audited(operator: Client, stripe):
    operator.post(f"/flows/{stripe.name}/schedules/new/", _schedule_form(enabled="on"))
    schedule = Schedule.objects.get()
    base = f"/flows/{stripe.name}/schedules/{schedule.pk}"
    operator.post(
        f"{base}/edit/", _schedule_form(name="hourly", expression="@hourly", enabled="on")
    )
    operator.post(f"{base}/toggle/", headers=HTMX)
    operator.post(f"{base}/delete/")

    berlin = {"schedule": schedule.pk, "timezone": "Europe/Berlin", "enabled": True}
    first = berlin | {"name": "30 2 * * * (Europe/Berlin)", "expression": "30 2 * * *"}
    hourly = berlin | {"name": "hourly", "expression": "@hourly"}
    turned_off = hourly | {"enabled": False}
    assert _trail(stripe) == [
        (Action.SCHEDULE_CREATE, "operator", first),
        (Action.SCHEDULE_CHANGE, "operator", hourly),
        (Action.SCHEDULE_CHANGE, "operator", turned_off),
        (Action.SCHEDULE_DELETE, "operator", turned_off),
    ]


def test_a_form_with_errors_audits_nothing(operator: Client, stripe):
    operator.post(f"/flows/{stripe.name}/schedules/new/", _schedule_form(expression="61 * * * *"))
    _create_webhook(operator, stripe, label="")

    assert _trail(stripe) == []


def test_the_admins_audit_entries_say_which_webhook_or_schedule(
    admin_client: Client, operator: Client, stripe
):
    _create_webhook(operator, stripe, label="shop")
    operator.post(f"/flows/{stripe.name}/schedules/new/", _schedule_form(name="nightly"))

    page = admin_client.get("/admin/flows/auditentry/").content.decode()

    assert "made a webhook" in page and ">shop<" in page
    assert "added a schedule" in page and ">nightly<" in page
