"""Flow definitions as the builder stores them; the engine's Flow and Step are built from these.

A definition is only a recipe: runs keep their own copy of it in Redis, so editing a definition
never changes a run that is already going.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import validate_slug
from django.db import models
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from flows.engine.builder import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_SECONDS,
    Flow,
    Step,
    new_flow,
    new_step,
)
from flows.validators import (
    flow_name_validator,
    retries_validator,
    script_validator,
    step_name_validator,
    timeout_validator,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

NAME_MAX_LENGTH = 100
NAME_HELP = "Letters, digits, underscores and hyphens, e.g. stripe_payment_request."


class FlowDefinition(models.Model):
    name = models.CharField(
        max_length=NAME_MAX_LENGTH,
        unique=True,
        validators=[validate_slug, flow_name_validator],
        help_text=NAME_HELP,
    )
    description = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1, help_text="Goes up on every saved change.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        permissions = [
            ("launch_flow", "Can launch runs of flows"),
            ("test_step", "Can test-run a step script"),
            ("cancel_run", "Can cancel runs"),
            ("retry_step", "Can retry failed steps"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("flows:flow_detail", args=[self.name])

    def to_flow(self) -> Flow:
        """Build the engine's Flow through its own builder, so its validation applies."""
        builder = new_flow(self.name)
        for step in self.steps.all():
            builder.add_step(step.to_step())
        return builder.build()

    def record_change(self, user: AbstractBaseUser | None) -> None:
        """Count a saved change (of the flow or any of its steps) and who made it."""
        FlowDefinition.objects.filter(pk=self.pk).update(
            version=F("version") + 1, updated_by=user, updated_at=timezone.now()
        )
        self.refresh_from_db(fields=["version", "updated_by", "updated_at"])


class StepDefinition(models.Model):
    flow = models.ForeignKey(FlowDefinition, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(
        max_length=NAME_MAX_LENGTH,
        validators=[validate_slug, step_name_validator],
        help_text=NAME_HELP,
    )
    position = models.PositiveIntegerField(default=0)
    script = models.TextField(validators=[script_validator])
    timeout = models.FloatField(
        "timeout (seconds)", default=DEFAULT_TIMEOUT_SECONDS, validators=[timeout_validator]
    )
    retries = models.PositiveIntegerField(default=DEFAULT_RETRIES, validators=[retries_validator])

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "name"], name="unique_step_name_per_flow")
        ]

    def __str__(self) -> str:
        return f"{self.flow_id}:{self.name}"

    def to_step(self) -> Step:
        return (
            new_step(self.name).script(self.script).timeout(self.timeout).retries(self.retries)
        ).build()


class FlowRun(models.Model):
    """Which definition, version and user a run came from; its state lives in Redis."""

    flow_id = models.CharField(max_length=64, unique=True)
    definition = models.ForeignKey(FlowDefinition, on_delete=models.CASCADE, related_name="runs")
    version = models.PositiveIntegerField()
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    launched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-launched_at", "-id"]
        indexes = [models.Index(fields=["definition", "-launched_at"])]

    def __str__(self) -> str:
        return self.flow_id

    def get_absolute_url(self) -> str:
        return reverse("flows:run_detail", args=[self.flow_id])


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A per-user key for the JSON API. Only its SHA-256 is stored; the token is shown once."""

    PREFIX = "fst_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @classmethod
    def issue(cls, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
        """Create a token; return it with the plain-text key, which cannot be recovered later."""
        key = cls.PREFIX + secrets.token_urlsafe(32)
        return cls.objects.create(user=user, name=name, digest=_digest(key)), key

    @classmethod
    def authenticate(cls, key: str) -> ApiToken | None:
        token = cls.objects.select_related("user").filter(digest=_digest(key)).first()
        if token is None or not token.user.is_active:
            return None
        cls.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token
