"""Actions on a whole failure group, on real failed runs: each run goes through its own audited
action, and the report says how many were done and why the others were skipped."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from flows.engine.statuses import FlowStatus
from flows.failures.group_actions import GONE, OTHER_STEP
from flows.failures.inbox import failure_groups
from flows.models import AuditEntry, FailureDismissal, RunRecord, StepDefinition
from flows.runs import actions
from flows.runs.records import load_run
from tests.web.background import until_all_ended
from tests.web.failure_runs import FIXED, Archive, define_shop, fail_runs, key_data, the_group

pytestmark = pytest.mark.django_db(transaction=True)

PENDING = "step charge is pending and the run is running"
Action = AuditEntry.Action


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _gone_from_redis(flow_id: str) -> str:
    """A copy of an archived failed run whose id Redis never held: a run retention let go."""
    record = RunRecord.objects.get(flow_id=flow_id)
    record.pk, record.flow_id = None, "f" * 32
    record.finished_at = record.finished_at.replace(year=2020)  # the group's oldest
    record.save()
    return record.flow_id


def _retried_meanwhile(flow_id: str) -> None:
    """Someone retried the run on its own page since the archive last saw it fail."""
    assert actions.retry(flow_id, "charge", User.objects.get(username="launcher")).done


def test_retry_all_retries_each_failed_run_and_says_what_it_skipped(
    admin: Client, archive: Archive
):
    shop = define_shop()
    first, second, third = fail_runs(shop, [{"n": 1}, {"n": 2}, {"n": 3}])
    archive()
    _gone_from_redis(first)
    _retried_meanwhile(second)

    response = admin.post("/failures/retry/", key_data(the_group().key), follow=True)

    assert _messages(response) == [f"2 retried, 2 skipped because {PENDING} (1); {GONE} (1)"]
    assert response.redirect_chain == [("/failures/", 302)]
    retried = AuditEntry.objects.filter(action=Action.RETRY, username="admin")
    assert sorted(retried.values_list("flow_id", flat=True)) == sorted([first, third])
    # The script is unchanged, so the retried runs fail again, the same way.
    assert until_all_ended([first, second, third]) == [FlowStatus.FAILED] * 3
    archive()
    assert the_group().count == 4


def test_fix_and_resume_all_tests_on_the_sample_and_resumes_the_runs_it_fits(
    admin: Client, archive: Archive
):
    shop = define_shop()
    StepDefinition.objects.filter(flow=shop, name="charge").update(timeout=6)
    [older_version] = fail_runs(shop, [{"n": 9}])
    StepDefinition.objects.filter(flow=shop, name="charge").update(timeout=5)
    first, second, newest = fail_runs(shop, [{"n": 1}, {"n": 2}, {"n": 3}])
    archive()
    gone = _gone_from_redis(first)
    _retried_meanwhile(second)
    group = the_group()
    url = group.key.fix_url
    form = {"script": FIXED, "timeout": "5", "retries": "0"}

    page = admin.get(url)
    tested = admin.post(url, {**form, "action": "test"}, headers={"HX-Request": "true"})
    resumed = admin.post(url, {**form, "action": "resume", "save_to_definition": "on"})
    report = admin.get("/failures/")

    assert group.count == 5
    assert group.sample.flow_id == newest
    assert b"&quot;n&quot;: 3" in page.content  # the sample's input
    assert b"Resume all 5 runs with this step" in page.content
    assert tested.content.startswith(b'<div id="test-result-fix"')
    assert b"&quot;charged cart 3&quot;" in tested.content
    assert resumed["Location"] == "/failures/"
    assert _messages(report) == [
        "Saved to flow shop (version 2).",
        f"2 resumed, 3 skipped because {PENDING} (1); {OTHER_STEP} (1); {GONE} (1)",
    ]
    assert until_all_ended([first, newest, older_version]) == [
        FlowStatus.COMPLETED,
        FlowStatus.COMPLETED,
        FlowStatus.FAILED,
    ]
    assert load_run(newest).state.definition.step("charge").script == FIXED
    fixes = AuditEntry.objects.filter(action=Action.FIX_AND_RESUME)
    assert sorted(fixes.values_list("flow_id", flat=True)) == sorted([first, newest])
    assert all(f"+{FIXED}" in entry.details["diff"] for entry in fixes)
    assert StepDefinition.objects.get(flow=shop, name="charge").script == FIXED
    assert gone not in fixes.values_list("flow_id", flat=True)


def test_a_dismissed_group_stays_hidden_until_it_fails_again(admin: Client, archive: Archive):
    shop = define_shop()
    fail_runs(shop, [{"n": 1}, {"n": 2}])
    fail_runs(shop, [{"n": 3, "declined": True}])
    archive()
    key = the_group().key

    dismissed = admin.post("/failures/dismiss/", key_data(key), follow=True)

    assert _messages(dismissed) == [
        "Dismissed shop at charge: it comes back if it fails like this again."
    ]
    assert b"No such customer" not in dismissed.content
    assert b"card declined" in dismissed.content  # another group of the same step stays
    assert [group.count for group in failure_groups()] == [1]
    entry = AuditEntry.objects.get(action=Action.DISMISS_FAILURES)
    assert (entry.username, entry.details) == (
        "admin",
        {"flow": "shop", "step": "charge", "signature": key.signature, "runs": 2},
    )
    assert FailureDismissal.objects.get().dismissed_by.username == "admin"

    fail_runs(shop, [{"n": 4}])
    archive()

    assert the_group().count == 3
    assert b"No such customer" in admin.get("/failures/").content
