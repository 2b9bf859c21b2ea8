"""The Runs list renders each row once per state of its run (and per may-retry), and so must
never show a row as it was: every change of what the row shows is a new row."""

from __future__ import annotations

from django.test import Client

from flows.models import FlowDefinition, RunRecord


def test_the_runs_list_shows_a_runs_row_as_it_is_now_for_each_role(
    operator: Client, admin: Client, stripe: FlowDefinition
):
    operator.post(f"/flows/{stripe.name}/launch/", {"input": "{}"})
    record = RunRecord.objects.get()
    first = operator.get("/runs/").content.decode()
    assert 'data-status="created"' in first and "<small>0/3</small>" in first

    RunRecord.objects.filter(pk=record.pk).update(status="failed", completed_count=2)
    failed = operator.get("/runs/").content.decode()
    RunRecord.objects.filter(pk=record.pk).update(patch_count=1)
    patched = operator.get("/runs/").content.decode()
    for_admin = admin.get("/runs/").content.decode()

    assert 'data-status="failed"' in failed and "<small>2/3</small>" in failed
    assert " patched</small>" not in failed and " patched</small>" in patched
    assert f'aria-label="Select run {record.flow_id}"' not in patched  # operators may not retry
    assert f'aria-label="Select run {record.flow_id}"' in for_admin
