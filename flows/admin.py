from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.forms.models import BaseInlineFormSet

from flows.definitions.editing import find_misordered
from flows.engine.statuses import FlowStatus
from flows.models import ApiToken, AuditEntry, FlowDefinition, RunRecord, StepDefinition
from flows.runs import actions as run_actions
from flows.validators import sentence


class StepFormSet(BaseInlineFormSet):
    """Checks the flow as its steps would be saved, as the builder does: a definition that
    saves is one that runs, with every step below the steps it runs after."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = [form for form in self.forms if form.has_changed() or form.instance.pk]
        steps = [form.instance for form in kept if not self._should_delete_form(form)]
        steps.sort(key=lambda step: step.position)
        try:
            self.instance.to_flow(steps)
        except ValueError as error:
            raise ValidationError(sentence(error)) from None
        if problem := find_misordered(steps):
            raise ValidationError(sentence(problem) + ": give it a higher position.")


class StepInline(admin.StackedInline):
    model = StepDefinition
    formset = StepFormSet
    extra = 0
    fields = ["position", "name", "script", "after", "when", "timeout", "retries"]


@admin.register(FlowDefinition)
class FlowDefinitionAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "updated_at", "updated_by"]
    list_filter = ["updated_at", "created_by", "updated_by"]
    search_fields = ["name", "description", "steps__name"]
    readonly_fields = ["version", "created_at", "updated_at", "created_by", "updated_by"]
    inlines = [StepInline]

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if change:
            form.instance.record_change(request.user)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "created_at", "last_used_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "user__username"]
    readonly_fields = ["digest", "created_at", "last_used_at"]


RAW_STATE = ["snapshot"]


@admin.register(RunRecord)
class RunRecordAdmin(admin.ModelAdmin):
    list_display = ["flow_id", "name", "status", "definition_version", "launched_by", "created_at"]
    list_filter = ["status", "name", "created_at", "definition"]
    search_fields = ["flow_id", "name", "launched_by", "definition__name"]
    exclude = RAW_STATE
    readonly_fields = [
        field.name for field in RunRecord._meta.fields if field.name not in RAW_STATE
    ]
    actions = ["retry_failed"]

    @admin.action(description="Retry the failed step of the selected failed runs")
    def retry_failed(self, request, queryset) -> None:
        if not request.user.has_perm("flows.retry_step"):
            raise PermissionDenied
        flow_ids = queryset.filter(status=FlowStatus.FAILED).values_list("flow_id", flat=True)
        results = run_actions.retry_failed_runs(list(flow_ids), request.user)
        done = sum(result.done for result in results)
        self.message_user(request, f"Retried {done} of {queryset.count()} selected runs.")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "username", "action", "subject", "flow_id", "definition"]
    list_filter = ["action", "at"]
    search_fields = ["flow_id", "username"]
    readonly_fields = ["at", "user", "username", "action", "flow_id", "definition", "details"]

    @admin.display(description="of")
    def subject(self, entry: AuditEntry) -> str:
        """What the action was on besides a run or a definition, by the name it had then: a
        secret, a schedule or a webhook (which may be gone since)."""
        return str(entry.details.get("name") or entry.details.get("secret") or "")

    def has_add_permission(self, request) -> bool:
        return False


def _permissions_held(user: AbstractBaseUser) -> QuerySet[Permission]:
    """The user's permissions, its own and its groups', whether or not it is active."""
    return Permission.objects.filter(Q(user=user) | Q(group__user=user)).distinct()


def may_manage(editor: AbstractBaseUser, user: AbstractBaseUser) -> bool:
    """Whether `editor` may change, set the password of, or delete `user`.

    Superusers may manage anyone. Anyone else may manage themselves, and users who are neither
    superusers nor staff (the Admin role) and hold no permission the editor lacks: taking over
    such an account would grant the editor nothing it does not already have.
    """
    if editor.is_superuser or editor.pk == user.pk:
        return True
    if user.is_superuser or user.is_staff:
        return False
    return not _permissions_held(user).exclude(pk__in=_permissions_held(editor)).exists()


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class FlowsiteUserAdmin(UserAdmin):
    """Django's user admin, with no way for an admin to grant what it does not hold itself:
    superuser status, staff status (which follows the Admin group), permissions, or groups
    holding permissions beyond its own."""

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "is_staff"]
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if request.user.is_superuser or not change:
            return form
        # Choices are what the editor holds, plus what the user already has (which it may keep
        # or lose); the form refuses any other choice as invalid.
        held = _permissions_held(request.user)
        within_held = Group.objects.exclude(permissions__in=Permission.objects.exclude(pk__in=held))
        groups = Group.objects.filter(Q(pk__in=within_held) | Q(user=obj)).distinct()
        permissions = Permission.objects.filter(Q(pk__in=held) | Q(user=obj)).distinct()
        form.base_fields["groups"].queryset = groups
        form.base_fields["user_permissions"].queryset = permissions
        return form

    def has_change_permission(self, request, obj=None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_manage(request.user, obj))

    def has_delete_permission(self, request, obj=None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or may_manage(request.user, obj))

    def get_deleted_objects(self, objs, request):
        """The bulk delete action checks permissions per model only: refuse (with the admin's
        own "no permission" page) a selection that holds a user the editor may not manage."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if not all(may_manage(request.user, user) for user in objs):
            perms_needed.add("superusers, other admins and users who hold more than you")
        return deleted, counts, perms_needed, protected
