"""Flow definitions as the builder stores them; the engine's Flow and Step are built from these.

A definition is only a recipe: runs keep their own copy of it in Redis, so editing a definition
never changes a run that is already going.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
    validate_slug,
)
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
from flows.engine.concurrency import (
    MAX_PATH_CHARS,
    MAX_RUNS_AT_ONCE,
    QUEUE,
    REJECT,
    ConcurrencyLimit,
)
from flows.validators import (
    alert_target_problem,
    allowed_hosts_validator,
    concurrency_key_validator,
    condition_validator,
    cron_validator,
    dependencies_validator,
    flow_name_validator,
    retries_validator,
    script_validator,
    secret_name_validator,
    step_name_validator,
    time_zone_validator,
    timeout_validator,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 10_000
NAME_HELP = "Letters, digits, underscores and hyphens, e.g. stripe_payment_request."


def _runs_at_once_field(verbose_name: str, help_text: str) -> models.PositiveIntegerField:
    """A concurrency limit's count: blank for no limit."""
    return models.PositiveIntegerField(
        verbose_name,
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RUNS_AT_ONCE)],
        help_text=help_text,
    )


class FlowDefinition(models.Model):
    name = models.CharField(
        max_length=NAME_MAX_LENGTH,
        unique=True,
        validators=[validate_slug, flow_name_validator],
        help_text=NAME_HELP,
    )
    # A TextField's max_length bounds only its form field: the validator bounds the model too.
    description = models.TextField(
        blank=True,
        max_length=DESCRIPTION_MAX_LENGTH,
        validators=[MaxLengthValidator(DESCRIPTION_MAX_LENGTH)],
    )
    allowed_hosts = models.CharField(
        "allowed hosts",
        max_length=1000,
        blank=True,
        validators=[allowed_hosts_validator],
        help_text="Hosts its steps may reach over HTTP, within the site's FLOWS_HTTP_ALLOW "
        "(comma-separated; *.domain, host:port). Empty: all the site allows.",
    )
    # Concurrency limits (flows/engine/concurrency.py): one for the whole flow, one per value
    # of an input field; blank for none.
    concurrency_limit = _runs_at_once_field("at most this many runs at once", "Empty: no limit.")
    key_concurrency_limit = _runs_at_once_field(
        "at most this many runs at once per key",
        "With a key: e.g. 1 runs one customer's runs one at a time.",
    )
    concurrency_key = models.CharField(
        "key",
        max_length=MAX_PATH_CHARS,
        blank=True,
        validators=[concurrency_key_validator],
        help_text='A field of the run\'s input, e.g. input["customer_id"].',
    )
    when_limited = models.CharField(
        "when a limit is reached",
        max_length=8,
        choices=[(QUEUE, "queue the run until a slot frees"), (REJECT, "reject the launch")],
        default=QUEUE,
    )
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

    def clean(self) -> None:
        if self.key_concurrency_limit and not self.concurrency_key.strip():
            raise ValidationError({"concurrency_key": "Give the input field to limit runs per."})
        if self.concurrency_key.strip() and not self.key_concurrency_limit:
            raise ValidationError(
                {"key_concurrency_limit": "Give how many runs may go at once per key."}
            )

    def to_flow(self, steps: Iterable[StepDefinition] | None = None) -> Flow:
        """Build the engine's Flow through its own builder, so its validation applies (ValueError
        naming what is wrong). `steps`: these instead of the stored ones, e.g. with an edit
        applied, to check it before saving."""
        builder = new_flow(self.name)
        if self.allowed_hosts.strip():
            builder.allowed_hosts(self.allowed_hosts)
        for limit in self.concurrency_limits():
            builder.concurrency_limit(limit.runs, limit.per)
        builder.when_limited(self.when_limited)
        for step in self.steps.all() if steps is None else steps:
            builder.add_step(step.to_step())
        return builder.build()

    def concurrency_limits(self) -> tuple[ConcurrencyLimit, ...]:
        """The limits as the engine takes them: the flow's, then the one per key."""
        limits = []
        if self.concurrency_limit:
            limits.append(ConcurrencyLimit(self.concurrency_limit))
        if self.key_concurrency_limit and self.concurrency_key.strip():
            limits.append(
                ConcurrencyLimit(self.key_concurrency_limit, self.concurrency_key.strip())
            )
        return tuple(limits)

    # The fields that hold its concurrency limits and what a launch over one does.
    LIMIT_FIELDS = ("concurrency_limit", "key_concurrency_limit", "concurrency_key", "when_limited")

    @staticmethod
    def limit_fields(flow: Flow) -> dict[str, Any]:
        """The fields holding an engine Flow's concurrency limits; ValueError for limits the
        builder cannot hold (more than one per key)."""
        fields: dict[str, Any] = {"when_limited": flow.when_limited}
        per_key = [limit for limit in flow.concurrency_limits if limit.per]
        if len(per_key) > 1:
            raise ValueError("the builder holds one concurrency limit per key at most")
        for limit in flow.concurrency_limits:
            if limit.per:
                fields |= {"key_concurrency_limit": limit.runs, "concurrency_key": limit.per}
            else:
                fields["concurrency_limit"] = limit.runs
        return fields

    def record_change(self, user: AbstractBaseUser | None) -> None:
        """Count a saved change (of the flow or any of its steps) and who made it."""
        FlowDefinition.objects.filter(pk=self.pk).update(
            version=F("version") + 1, updated_by=user, updated_at=timezone.now()
        )
        self.refresh_from_db(fields=["version", "updated_by", "updated_at"])
        AuditEntry.record(
            AuditEntry.Action.DEFINITION_CHANGE, user, definition=self, version=self.version
        )


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
    # The names of the steps it runs after; null: the step before it (none for the first), which
    # follows the order of the list, and is what every step made before flows could branch has.
    after = models.JSONField(
        "runs after", null=True, blank=True, default=None, validators=[dependencies_validator]
    )
    when = models.TextField(
        "run only if",
        blank=True,
        validators=[condition_validator],
        help_text='An expression over input and steps, e.g. steps["charge"]["paid"]. '
        "When false the step is skipped. Empty: always run.",
    )

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "name"], name="unique_step_name_per_flow")
        ]

    def __str__(self) -> str:
        return f"{self.flow_id}:{self.name}"

    @classmethod
    def from_step(cls, step: Step | StepDefinition, **fields: Any) -> StepDefinition:
        """An unsaved definition of an engine Step (or a copy of another definition)."""
        return cls(
            name=step.name,
            script=step.script,
            timeout=step.timeout,
            retries=step.retries,
            after=None if step.after is None else list(step.after),
            when=step.when,
            **fields,
        )

    def to_step(self) -> Step:
        builder = (
            new_step(self.name).script(self.script).timeout(self.timeout).retries(self.retries)
        )
        if self.after is not None:
            builder.after(*self.after)
        return builder.when(self.when).build()


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


class WebhookTrigger(models.Model):
    """A URL another system posts JSON to, to launch a run of the flow (flows/webhooks/).

    The URL holds a token of which only the SHA-256 is stored, as ApiToken's: it is shown once,
    when the trigger is made or rotated. The signing secret must be read back to check a
    signature, so it is kept encrypted under FLOWS_SECRETS_KEY, as Secret's values are, and no
    page shows it again. A revoked trigger keeps its row for the list and its runs' records.
    """

    PREFIX = "fwh_"
    DEFAULT_SIGNATURE_HEADER = "X-Flowsite-Signature"

    class InputMode(models.TextChoices):
        BODY = "body", "the JSON body"
        ENVELOPE = "envelope", "body and headers"

    flow = models.ForeignKey(FlowDefinition, on_delete=models.CASCADE, related_name="webhooks")
    label = models.CharField(max_length=100, help_text="Who sends to it, e.g. stripe.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(max_length=16, editable=False)
    input_mode = models.CharField(
        "run input",
        max_length=16,
        choices=InputMode.choices,
        default=InputMode.BODY,
        help_text='The body (a JSON object), or {"body": …, "headers": {…}}.',
    )
    secret_token = models.TextField(
        blank=True, editable=False, help_text="The signing secret, encrypted; empty: unsigned."
    )
    signature_header = models.CharField(
        max_length=100,
        default=DEFAULT_SIGNATURE_HEADER,
        validators=[RegexValidator(r"^[A-Za-z0-9-]+$", "Letters, digits and hyphens only.")],
        help_text="The header that carries t=<unix time>,v1=<hex HMAC-SHA256>.",
    )
    tolerance_seconds = models.PositiveIntegerField(
        "timestamp tolerance (seconds)",
        default=300,
        validators=[MinValueValidator(1), MaxValueValidator(86_400)],
        help_text="A signature older or newer than this is refused, against replays.",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(100_000)]
    )
    idempotency_path = models.CharField(
        "idempotency field",
        max_length=200,
        blank=True,
        validators=[
            RegexValidator(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", "Field names separated by dots.")
        ],
        help_text="A body field naming the event, e.g. id or data.object.id: a repeat within "
        "a day starts no second run. Empty: every post starts one.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Whom its runs are launched as, as an API token's are its user's.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["revoked_at", "-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.flow_id}:{self.label}"

    @property
    def signed(self) -> bool:
        return bool(self.secret_token)

    def new_token(self) -> str:
        """Give the trigger a new token (unsaved); the old one stops working once saved.
        Returns the token, which cannot be recovered later."""
        token = self.PREFIX + secrets.token_urlsafe(32)
        self.digest, self.token_prefix = _digest(token), token[: len(self.PREFIX) + 6]
        return token

    @classmethod
    def find(cls, token: str) -> WebhookTrigger | None:
        """The live trigger with this token; None for an unknown or revoked one alike."""
        live = cls.objects.select_related("flow", "created_by").filter(revoked_at__isnull=True)
        return live.filter(digest=_digest(token)).first()


class RunRecord(models.Model):
    """A run: what Redis held for it, kept after Redis lets it go. The one model of a run.

    Created by `flows.runs.launching.launch()` as soon as the builder or the API launches a
    run, and kept up to date by the archiver (flows/runs/archiver.py) as the engine notes
    changes (runs started elsewhere appear with the archiver's first batch). Both build the row
    from the engine's read of the run through `flows.runs.records.new_record()`; `snapshot` is
    the run in the engine's versioned form (`RunSnapshot.to_dict()`) as it was when the run
    last ended (or was launched: while it goes, only the listing fields are kept current), so
    the run page renders an archived run exactly as a live one. Who launched it is the
    username in the run's meta; the LAUNCH AuditEntry also keeps the user link.
    The `view_runrecord` permission is the one to see runs.
    """

    flow_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    definition = models.ForeignKey(
        FlowDefinition, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    definition_version = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16)
    current_step = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    error = models.TextField(blank=True)
    # A failed run's error_signature(error) (flows/error_signatures.py), '' for other runs:
    # what the failure inbox groups by, with the flow's name and the failed step.
    error_signature = models.CharField(max_length=32, blank=True)
    launched_by = models.CharField(max_length=150, blank=True)
    # What started the run (its meta's trigger): manual, api, schedule or webhook; '' for runs
    # launched before triggers were recorded, or by code driving the engine itself.
    trigger_kind = models.CharField(max_length=16, blank=True)
    patch_count = models.PositiveIntegerField(default=0)
    step_count = models.PositiveIntegerField(default=0)
    completed_count = models.PositiveIntegerField(default=0)
    # JSON text rather than a JSONField: PostgreSQL's jsonb would reorder the keys of a run's
    # input and outputs, and refuse a NUL character in its logs; text keeps them as they ran.
    snapshot = models.TextField(
        blank=True, help_text="The run as RunSnapshot.to_dict() (versioned), in JSON."
    )
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-flow_id"]
        indexes = [
            models.Index(fields=["-created_at", "-flow_id"], name="run_newest"),
            models.Index(fields=["name", "-created_at", "-flow_id"], name="run_newest_by_flow"),
            models.Index(fields=["status", "-created_at", "-flow_id"], name="run_newest_by_status"),
            models.Index(
                fields=["trigger_kind", "-created_at", "-flow_id"], name="run_newest_by_trigger"
            ),
            models.Index(
                fields=["definition", "-created_at", "-flow_id"], name="run_newest_by_definition"
            ),
            models.Index(
                fields=["status", "name", "current_step", "error_signature", "finished_at"],
                name="run_failure_groups",
            ),
            # The dashboard: its charts sample durations from this index alone
            # (flows/runs/chart_queries.py; they count runs from RunTally); its latest failures.
            models.Index(
                fields=["name", "status", "created_at", "started_at", "finished_at"],
                name="run_by_flow_status",
            ),
            models.Index(fields=["status", "-finished_at"], name="run_latest_by_status"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.flow_id}"

    def get_absolute_url(self) -> str:
        return reverse("flows:run_detail", args=[self.flow_id])


class RunTally(models.Model):
    """How many runs of a flow were created in an hour (UTC) and now have a status: the
    dashboard's charts read these rather than count a week's runs (chart_queries.py).

    Kept by the database itself, by triggers on RunRecord's table (migration 0018), in the
    transaction of every insert, update and delete of a run's row, whoever writes it: the
    archiver, a launch, a test, a bulk load. Never written here."""

    hour = models.DateTimeField()
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=16)
    runs = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "name", "status"], name="run_tally_cell")
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.name} {self.status}: {self.runs}"


class AuditEntry(models.Model):
    """Who did what to a run or a definition, and when; also who was locked out of logging in."""

    class Action(models.TextChoices):
        LAUNCH = "launch", "launched"
        RETRY = "retry", "retried a step"
        FIX_AND_RESUME = "fix_and_resume", "fixed a step and resumed"
        CANCEL = "cancel", "cancelled"
        DEFINITION_CHANGE = "definition_change", "changed the definition"
        LOGIN_LOCKOUT = "login_lockout", "was locked out after failed logins"
        SECRET_SET = "secret_set", "set a secret"
        SECRET_DELETE = "secret_delete", "deleted a secret"
        SCHEDULE_CREATE = "schedule_create", "added a schedule"
        SCHEDULE_CHANGE = "schedule_change", "changed a schedule"
        SCHEDULE_DELETE = "schedule_delete", "deleted a schedule"
        WEBHOOK_CREATE = "webhook_create", "made a webhook"
        WEBHOOK_ROTATE = "webhook_rotate", "rotated a webhook's token"
        WEBHOOK_REVOKE = "webhook_revoke", "revoked a webhook"
        DISMISS_FAILURES = "dismiss_failures", "dismissed a group of failures"

    flow_id = models.CharField(max_length=64, blank=True, help_text="The run, if any.")
    definition = models.ForeignKey(
        FlowDefinition, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, help_text="Kept if the user goes.")
    action = models.CharField(max_length=32, choices=Action.choices)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["flow_id", "-at"], name="audit_by_run")]

    def __str__(self) -> str:
        return f"{self.username} {self.get_action_display()} {self.flow_id}".strip()

    @classmethod
    def record(cls, *args: Any, **kwargs: Any) -> AuditEntry:
        """entry(), saved."""
        entry = cls.entry(*args, **kwargs)
        entry.save()
        return entry

    @classmethod
    def entry(
        cls,
        action: AuditEntry.Action,
        user: AbstractBaseUser | None,
        *,
        flow_id: str = "",
        definition: FlowDefinition | None = None,
        **details: Any,
    ) -> AuditEntry:
        """An unsaved entry, for bulk_create."""
        return cls(
            action=action,
            user=user,
            username=user.get_username() if user else "",
            flow_id=flow_id,
            definition=definition,
            details=details,
        )


class FailureDismissal(models.Model):
    """A failure inbox group an admin dismissed: hidden while its latest failure is no newer
    than `dismissed_at`, so a new failure with the same signature brings it back."""

    name = models.CharField(max_length=NAME_MAX_LENGTH)
    step = models.CharField(max_length=NAME_MAX_LENGTH)
    error_signature = models.CharField(max_length=32)
    dismissed_at = models.DateTimeField()
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name", "step", "error_signature"], name="one_dismissal_per_group"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name}.{self.step} {self.error_signature}"


class Secret(models.Model):
    """A named secret scripts read with secret("NAME"). Only its encrypted value is stored (here,
    and mirrored into Redis for the runners); no page shows a value again once it is saved."""

    name = models.CharField(max_length=64, unique=True, validators=[secret_name_validator])
    token = models.TextField(help_text="The value, encrypted under FLOWS_SECRETS_KEY.")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Schedule(models.Model):
    """Launches its flow at each fire time of a cron expression in a time zone, with a fixed
    input, as the user who last saved it (flows/schedules/scheduler.py). `last_fire_at` is the
    latest fire time launched (UTC): what a catch-up after downtime counts from."""

    flow = models.ForeignKey(FlowDefinition, on_delete=models.CASCADE, related_name="schedules")
    name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    expression = models.CharField(
        "cron expression",
        max_length=200,
        validators=[cron_validator],
        help_text="minute hour day-of-month month day-of-week, e.g. 30 2 * * 1-5, or @daily, "
        "@hourly, @weekly, @monthly, @yearly.",
    )
    timezone = models.CharField(
        "time zone", max_length=64, default="UTC", validators=[time_zone_validator]
    )
    input = models.TextField("input (JSON)", default="{}")
    enabled = models.BooleanField(default=True)
    catch_up = models.BooleanField(
        "catch up",
        default=False,
        help_text="After downtime, launch the latest missed fire time once (else skip it).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_fire_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """Its name, or its expression and zone when it has none."""
        return self.name or f"{self.expression} ({self.timezone})"


class ScheduledRun(models.Model):
    """A run a schedule started, and the fire time it started it for."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="runs")
    run = models.ForeignKey(RunRecord, on_delete=models.CASCADE, related_name="+")
    fire_at = models.DateTimeField()

    class Meta:
        ordering = ["-fire_at"]
        indexes = [models.Index(fields=["schedule", "-fire_at"], name="scheduled_run_latest")]

    def __str__(self) -> str:
        return f"{self.schedule} at {self.fire_at:%Y-%m-%d %H:%M} UTC"


class AlertDestination(models.Model):
    """Where failed runs are told of: addresses to mail, or a URL to post JSON to (with a
    `text` field, so a Slack or Mattermost incoming webhook shows it as it is). For one flow,
    or for every flow when `flow` is empty."""

    class Kind(models.TextChoices):
        EMAIL = "email", "email"
        WEBHOOK = "webhook", "webhook (JSON)"

    flow = models.ForeignKey(
        FlowDefinition,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_destinations",
        help_text="Empty: failures of every flow.",
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.EMAIL)
    target = models.CharField(
        max_length=1000, help_text="Email addresses (comma-separated), or the webhook's URL."
    )
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.target}"

    def clean(self) -> None:
        problem = alert_target_problem(self.kind, self.target)
        if problem:
            raise ValidationError({"target": problem})


class FailureAlert(models.Model):
    """One message to a destination: a failure's alert, or the digest of the failures alike
    (same flow, step and error signature) that came within the throttle window after it.
    Sent by the alert sender (flows/alerts/sending.py), retried with backoff until sent or
    given up."""

    class Kind(models.TextChoices):
        ALERT = "alert", "alert"
        DIGEST = "digest", "digest"

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"

    destination = models.ForeignKey(
        AlertDestination, on_delete=models.CASCADE, related_name="alerts"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    step = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    error_signature = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    flow_id = models.CharField(max_length=64, help_text="The failed run (a digest's latest).")
    count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField(help_text="When it is (next) due to be sent.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="alert_due"),
            models.Index(
                fields=["destination", "name", "step", "error_signature", "kind", "-created_at"],
                name="alert_throttle",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.name}/{self.step} to {self.destination}"


class AlertedFailure(models.Model):
    """A failure (a run, as of when it failed) already turned into alerts: an archive batch
    taken again after a crash, or a failed run archived again unchanged, alerts nobody twice."""

    flow_id = models.CharField(max_length=64)
    failed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["flow_id", "failed_at"], name="alerted_once")
        ]

    def __str__(self) -> str:
        return f"{self.flow_id} failed at {self.failed_at:%Y-%m-%d %H:%M:%S}"
