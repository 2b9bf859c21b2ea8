"""Making, rotating and revoking webhook triggers. A token, and a signing secret, are returned
once, to be shown once: neither can be read back from what is stored."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from flows.models import WebhookTrigger
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
    trigger.save()
    return Issued(trigger, token, secret if signed else "")


def rotate(trigger: WebhookTrigger) -> Issued:
    """A new token for the trigger: the old one answers 404 from now on. The secret stays."""
    token = trigger.new_token()
    trigger.save(update_fields=["digest", "token_prefix"])
    return Issued(trigger, token)


def revoke(trigger: WebhookTrigger) -> None:
    if trigger.revoked_at is None:
        trigger.revoked_at = timezone.now()
        trigger.save(update_fields=["revoked_at"])


def secret_of(trigger: WebhookTrigger) -> str:
    """The signing secret, decrypted, to check a request's signature."""
    return vault.box().decrypt(trigger.secret_token)
