from __future__ import annotations

from django.contrib import admin

from flows.models import ApiToken, FlowDefinition, FlowRun, StepDefinition


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


@admin.register(FlowRun)
class FlowRunAdmin(admin.ModelAdmin):
    list_display = ["flow_id", "definition", "version", "launched_by", "launched_at"]
    list_filter = ["launched_at", "definition"]
    search_fields = ["flow_id", "definition__name"]
    readonly_fields = ["flow_id", "definition", "version", "launched_by", "launched_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "created_at", "last_used_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "user__username"]
    readonly_fields = ["digest", "created_at", "last_used_at"]
