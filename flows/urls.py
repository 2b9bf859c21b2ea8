from __future__ import annotations

from django.urls import path

from flows import api
from flows.views import actions, flows, runs, secrets, steps, tokens

app_name = "flows"

step = "flows/<slug:name>/steps/<int:step_id>/"

urlpatterns = [
    path("", runs.dashboard, name="dashboard"),
    path("flows/", flows.flow_list, name="flow_list"),
    path("flows/new/", flows.flow_new, name="flow_new"),
    path("flows/import/", flows.flow_import, name="flow_import"),
    path("flows/<slug:name>/", flows.flow_detail, name="flow_detail"),
    path("flows/<slug:name>/save/", flows.flow_save, name="flow_save"),
    path("flows/<slug:name>/duplicate/", flows.flow_duplicate, name="flow_duplicate"),
    path("flows/<slug:name>/delete/", flows.flow_delete, name="flow_delete"),
    path("flows/<slug:name>/export.json", flows.flow_export_json, name="flow_export_json"),
    path("flows/<slug:name>/export.py", flows.flow_export_python, name="flow_export_python"),
    path("flows/<slug:name>/launch/", runs.launch, name="launch"),
    path("flows/<slug:name>/steps/new/", steps.step_new, name="step_new"),
    path("flows/<slug:name>/steps/check/", steps.step_check, name="step_check"),
    path("flows/<slug:name>/steps/test/", steps.step_test, name="step_test"),
    path("flows/<slug:name>/steps/reorder/", steps.step_reorder, name="step_reorder"),
    path(step, steps.step_row, name="step_row"),
    path(step + "edit/", steps.step_edit, name="step_edit"),
    path(step + "delete/", steps.step_delete, name="step_delete"),
    path(step + "move/", steps.step_move, name="step_move"),
    path(step + "check/", steps.step_check, name="step_check"),
    path(step + "test/", steps.step_test, name="step_test"),
    path("runs/", runs.run_list, name="run_list"),
    path("runs/retry/", actions.runs_retry, name="runs_retry"),
    path("runs/<str:flow_id>/", runs.run_detail, name="run_detail"),
    path("runs/<str:flow_id>/cancel/", actions.run_cancel, name="run_cancel"),
    path("runs/<str:flow_id>/steps/<str:step_id>/retry/", actions.step_retry, name="step_retry"),
    path("runs/<str:flow_id>/steps/<str:step_id>/fix/", actions.step_fix, name="step_fix"),
    path("secrets/", secrets.secret_list, name="secret_list"),
    path("secrets/save/", secrets.secret_save, name="secret_save"),
    path("secrets/<str:name>/delete/", secrets.secret_delete, name="secret_delete"),
    path("account/tokens/", tokens.token_list, name="token_list"),
    path("account/tokens/<int:token_id>/revoke/", tokens.token_revoke, name="token_revoke"),
    path("api/flows/<slug:name>/runs", api.launch_run, name="api_launch_run"),
    path("api/runs/<str:flow_id>", api.run_state, name="api_run_state"),
]
