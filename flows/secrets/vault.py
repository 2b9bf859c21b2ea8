"""Secrets on the web side: set, replace and delete them (audited, never shown again), say which
flows use each, and keep the engine's Redis copy equal to the database's.

The database holds the encrypted values and outlives Redis; runners read the copy in Redis
(flows/engine/secrets.py), which is written on every change and again whenever it is missing.
"""

from __future__ import annotations

import functools
from collections import defaultdict

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from flows import engine_client
from flows.engine.secrets import SecretBox, secret_names
from flows.models import AuditEntry, Secret, StepDefinition


@functools.cache
def box() -> SecretBox:
    return SecretBox.from_setting(settings.FLOWS_SECRETS_KEY)


def set_secret(name: str, value: str, user: AbstractBaseUser | None) -> Secret:
    """Create or replace the secret: audited, and mirrored into Redis. ValidationError for a bad
    name, SecretError for a value over the cap."""
    Secret(name=name).full_clean(exclude=["token"], validate_unique=False)
    token = box().encrypt(value)
    with transaction.atomic():
        secret, _ = Secret.objects.update_or_create(
            name=name, defaults={"token": token, "changed_by": user}
        )
        AuditEntry.record(AuditEntry.Action.SECRET_SET, user, secret=name)
    mirror()
    return secret


def delete_secret(secret: Secret, user: AbstractBaseUser | None) -> None:
    with transaction.atomic():
        secret.delete()
        AuditEntry.record(AuditEntry.Action.SECRET_DELETE, user, secret=secret.name)
    mirror()


def mirror() -> None:
    """Make the engine's Redis copy hold exactly the database's encrypted values."""
    engine_client.mirror_secrets(dict(Secret.objects.values_list("name", "token")))


def flows_using() -> dict[str, list[str]]:
    """Secret name -> the flows whose steps read it, sorted."""
    using: dict[str, set[str]] = defaultdict(set)
    for flow_name, script in StepDefinition.objects.values_list("flow__name", "script"):
        for name in secret_names(script)[0]:
            using[name].add(flow_name)
    return {name: sorted(flows) for name, flows in using.items()}


def unset_names(script: str) -> list[str]:
    """The secrets the script names that are not set (yet)."""
    names = secret_names(script)[0]
    known = set(Secret.objects.filter(name__in=names).values_list("name", flat=True))
    return [name for name in names if name not in known]


def values(names: list[str]) -> dict[str, str]:
    """The named secrets' values, for a test run in the web process; SecretError names the
    first that is not set."""
    tokens = dict(Secret.objects.filter(name__in=names).values_list("name", "token"))
    for name in names:
        if name not in tokens:
            raise ValueError(f"secret {name} is not set: an admin sets it on Secrets")
    return {name: box().decrypt(token) for name, token in tokens.items()}
