from __future__ import annotations

from django.urls import path

from flows.alerts import alert_views
from flows.api import endpoints, token_views
from flows.definitions import flow_views, step_views
from flows.failures import failure_views
from flows.health import metrics, probes, runner_views
from flows.runs import action_views, run_views
from flows.schedules import schedule_views
from flows.secrets import secret_views
from flows.webhooks import receiving, trigger_views

app_name = "flows"

step = "flows/<slug:name>/steps/<int:step_id>/"
webhook = "flows/<slug:name>/webhooks/<int:webhook_id>/"
schedule = "flows/<slug:name>/schedules/<int:schedule_id>/"

urlpatterns = [
    path("", run_views.dashboard, name="dashboard"),
    path("flows/", flow_views.flow_list, name="flow_list"),
    path("flows/new/", flow_views.flow_new, name="flow_new"),
    path("flows/import/", flow_views.flow_import, name="flow_import"),
    path("flows/<slug:name>/", flow_views.flow_detail, name="flow_detail"),
    path("flows/<slug:name>/graph/", flow_views.flow_graph, name="flow_graph"),
    path("flows/<slug:name>/save/", flow_views.flow_save, name="flow_save"),
    path("flows/<slug:name>/duplicate/", flow_views.flow_duplicate, name="flow_duplicate"),
    path("flows/<slug:name>/delete/", flow_views.flow_delete, name="flow_delete"),
    path("flows/<slug:name>/export.json", flow_views.flow_export_json, name="flow_export_json"),
    path("flows/<slug:name>/export.py", flow_views.flow_export_python, name="flow_export_python"),
    path("flows/<slug:name>/launch/", run_views.launch, name="launch"),
    path("flows/<slug:name>/steps/new/", step_views.step_new, name="step_new"),
    path("flows/<slug:name>/steps/check/", step_views.step_check, name="step_check"),
    path("flows/<slug:name>/steps/test/", step_views.step_test, name="step_test"),
    path("flows/<slug:name>/steps/reorder/", step_views.step_reorder, name="step_reorder"),
    path(step, step_views.step_row, name="step_row"),
    path(step + "edit/", step_views.step_edit, name="step_edit"),
    path(step + "delete/", step_views.step_delete, name="step_delete"),
    path(step + "move/", step_views.step_move, name="step_move"),
    path(step + "check/", step_views.step_check, name="step_check"),
    path(step + "test/", step_views.step_test, name="step_test"),
    path("flows/<slug:name>/webhooks/new/", trigger_views.webhook_new, name="webhook_new"),
    path(webhook + "rotate/", trigger_views.webhook_rotate, name="webhook_rotate"),
    path(webhook + "revoke/", trigger_views.webhook_revoke, name="webhook_revoke"),
    path("flows/<slug:name>/schedules/new/", schedule_views.schedule_new, name="schedule_new"),
    path(
        "flows/<slug:name>/schedules/check/", schedule_views.schedule_check, name="schedule_check"
    ),
    path(schedule, schedule_views.schedule_row_view, name="schedule_row"),
    path(schedule + "edit/", schedule_views.schedule_edit, name="schedule_edit"),
    path(schedule + "toggle/", schedule_views.schedule_toggle, name="schedule_toggle"),
    path(schedule + "delete/", schedule_views.schedule_delete, name="schedule_delete"),
    path(schedule + "check/", schedule_views.schedule_check, name="schedule_check"),
    path("runs/", run_views.run_list, name="run_list"),
    path("runs/retry/", action_views.runs_retry, name="runs_retry"),
    path("runs/<str:flow_id>/", run_views.run_detail, name="run_detail"),
    path("runs/<str:flow_id>/cancel/", action_views.run_cancel, name="run_cancel"),
    path(
        "runs/<str:flow_id>/steps/<str:step_id>/retry/", action_views.step_retry, name="step_retry"
    ),
    path("runs/<str:flow_id>/steps/<str:step_id>/fix/", action_views.step_fix, name="step_fix"),
    path("runners/", runner_views.runner_list, name="runner_list"),
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("failures/", failure_views.failure_inbox, name="failure_inbox"),
    path("failures/retry/", failure_views.failure_retry_all, name="failure_retry_all"),
    path("failures/fix/", failure_views.failure_fix, name="failure_fix"),
    path("failures/dismiss/", failure_views.failure_dismiss, name="failure_dismiss"),
    path("metrics", metrics.metrics, name="metrics"),
    path("alerts/", alert_views.alert_list, name="alert_list"),
    path("alerts/add/", alert_views.destination_add, name="alert_destination_add"),
    path(
        "alerts/<int:pk>/toggle/",
        alert_views.destination_toggle,
        name="alert_destination_toggle",
    ),
    path(
        "alerts/<int:pk>/delete/",
        alert_views.destination_delete,
        name="alert_destination_delete",
    ),
    path("secrets/", secret_views.secret_list, name="secret_list"),
    path("secrets/save/", secret_views.secret_save, name="secret_save"),
    path("secrets/<str:name>/delete/", secret_views.secret_delete, name="secret_delete"),
    path("account/tokens/", token_views.token_list, name="token_list"),
    path("account/tokens/<int:token_id>/revoke/", token_views.token_revoke, name="token_revoke"),
    path("api/flows/<slug:name>/runs", endpoints.launch_run, name="api_launch_run"),
    path("api/runs/<str:flow_id>", endpoints.run_state, name="api_run_state"),
    path("hooks/<str:token>", receiving.receive, name="webhook_receive"),
]
