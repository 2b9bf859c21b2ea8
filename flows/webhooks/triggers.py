"""Making, rotating and revoking webhook triggers, each audited: a webhook's token is a
credential that launches runs, so who issued or retired one must be on record. A token, and a
signing secret, are returned once, to be shown once: neither can be read back from what is
stored."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from flows.models import AuditEntry, WebhookTrigger
from flows.secrets import vault

SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class Issued:
    """A trigger with what its sender needs and no page will show again."""

    trigger: WebhookTrigger
    token: str
    secret: str = ""


def create(
    trigger: WebhookTrigger, user: AbstractBaseUser, *, signed: bool, secret: str = ""
) -> Issued:
    """Save the (validated, unsaved) trigger with a new token, made by `user`, whose runs it
    launches. Signed: with `secret`, or a new one when that is empty."""
    token = trigger.new_token()
    if signed:
        secret = secret or SECRET_PREFIX + secrets.token_urlsafe(32)
        trigger.secret_token = vault.box().encrypt(secret)
    trigger.created_by = user
    with transaction.atomic():
        trigger.save()
        _audit(AuditEntry.Action.WEBHOOK_CREATE, user, trigger)
    return Issued(trigger, token, secret if signed else "")


def rotate(trigger: WebhookTrigger, user: AbstractBaseUser) -> Issued:
    """A new token for the trigger: the old one answers 404 from now on. The secret stays."""
    token = trigger.new_token()
    with transaction.atomic():
        trigger.save(update_fields=["digest", "token_prefix"])
        _audit(AuditEntry.Action.WEBHOOK_ROTATE, user, trigger)
    return Issued(trigger, token)


def revoke(trigger: WebhookTrigger, user: AbstractBaseUser) -> None:
    """Retire the trigger for good. Revoking one already revoked changes (and audits) nothing:
    of two people revoking it at once, the update lets one through, and the other's is a no-op."""
    now = timezone.now()
    with transaction.atomic():
        live = WebhookTrigger.objects.filter(pk=trigger.pk, revoked_at__isnull=True)
        if live.update(revoked_at=now):
            _audit(AuditEntry.Action.WEBHOOK_REVOKE, user, trigger)
    trigger.refresh_from_db(fields=["revoked_at"])


def _audit(action: AuditEntry.Action, user: AbstractBaseUser, trigger: WebhookTrigger) -> None:
    """Names the webhook by id and label (never its token, which is not kept anyway)."""
    AuditEntry.record(action, user, definition=trigger.flow, webhook=trigger.pk, name=trigger.label)


def secret_of(trigger: WebhookTrigger) -> str:
    """The signing secret, decrypted, to check a request's signature."""
    return vault.box().decrypt(trigger.secret_token)
