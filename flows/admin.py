from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied

from flows import actions as run_actions
from flows.engine.statuses import FlowStatus
from flows.models import ApiToken, AuditEntry, FlowDefinition, RunRecord, StepDefinition


class StepInline(admin.StackedInline):
    model = StepDefinition
    extra = 0
    fields = ["position", "name", "script", "timeout", "retries"]


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


RAW_STATE = ["state", "steps"]


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
    list_display = ["at", "username", "action", "flow_id", "definition"]
    list_filter = ["action", "at"]
    search_fields = ["flow_id", "username"]
    readonly_fields = ["at", "user", "username", "action", "flow_id", "definition", "details"]

    def has_add_permission(self, request) -> bool:
        return False
