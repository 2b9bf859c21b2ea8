"""The failure inbox groups real failed runs, archived as the site archives them: by flow,
failed step and error signature, newest group first, and who may see and act on it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from flows.error_signatures import error_signature
from flows.failures.inbox import failure_groups
from flows.models import FailureDismissal, RunRecord
from tests.web.failure_runs import Archive, define_shop, fail_runs, key_data, the_group

pytestmark = pytest.mark.django_db(transaction=True)


def test_runs_that_failed_alike_make_one_group_newest_group_first(viewer: Client, archive: Archive):
    shop = define_shop()
    customers = fail_runs(shop, [{"n": 1}, {"n": 22}, {"n": 333}])
    declined = fail_runs(shop, [{"n": 4, "declined": True}])
    archive()

    groups = failure_groups()
    page = viewer.get("/failures/")

    assert [(group.key.flow, group.key.step, group.count) for group in groups] == [
        ("shop", "charge", 1),  # the declined card failed last
        ("shop", "charge", 3),
    ]
    newest, customer = groups
    assert newest.sample.flow_id == declined[0]
    assert (
        newest.message
        == "step charge failed: line <n>, column <n>: fail: card declined for order <n>"
    )
    assert customer.message == (
        "step charge failed: line <n>, column <n>: fail: No such customer: cus_<id>"
    )
    assert customer.sample.flow_id == customers[-1]
    assert customer.first_seen <= customer.last_seen == customer.sample.finished_at
    assert customer.sparkline.total == 3
    assert customer.key.signature == error_signature(customer.sample.error)
    assert page.status_code == 200
    assert page.content.count(b'class="failure-group"') == 2
    assert f'href="/runs/{customers[-1]}/"'.encode() in page.content
    assert b'aria-label="3 in the last 24 hours, at most 3 in one hour' in page.content


def test_completed_runs_and_runs_still_going_are_in_no_group(archive: Archive):
    shop = define_shop()
    fail_runs(shop, [{"n": 1}])
    archive()
    RunRecord.objects.update(status="running")  # as once it is retried

    assert failure_groups() == []


def test_anonymous_visitors_are_sent_to_log_in(client: Client, archive: Archive):
    fail_runs(define_shop(), [{"n": 1}])
    archive()
    data = key_data(the_group().key)

    for response in (
        client.get("/failures/"),
        client.post("/failures/retry/", data),
        client.post("/failures/dismiss/", data),
        client.get("/failures/fix/", data),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_viewers_and_operators_see_the_groups_but_may_not_act(
    role: str, request: pytest.FixtureRequest, archive: Archive
):
    user: Client = request.getfixturevalue(role)
    fail_runs(define_shop(), [{"n": 1}])
    archive()
    data = key_data(the_group().key)

    page = user.get("/failures/")

    assert page.status_code == 200
    assert b'class="failure-group"' in page.content
    assert b"Retry all" not in page.content
    assert b"Dismiss" not in page.content
    assert user.post("/failures/retry/", data).status_code == 403
    assert user.post("/failures/dismiss/", data).status_code == 403
    assert user.get("/failures/fix/", data).status_code == 403
    assert user.post("/failures/fix/", data).status_code == 403
    assert failure_groups()[0].count == 1


def test_admins_see_the_actions_which_need_a_post(admin: Client, archive: Archive):
    fail_runs(define_shop(), [{"n": 1}])
    archive()
    group = the_group()

    page = admin.get("/failures/")

    assert b"Retry all 1" in page.content
    assert b"hx-post" in page.content and b"comment" not in page.content
    assert b"Dismiss" in page.content
    assert group.key.fix_url.encode().replace(b"&", b"&amp;") in page.content
    assert admin.get("/failures/retry/", key_data(group.key)).status_code == 405
    assert admin.get("/failures/dismiss/", key_data(group.key)).status_code == 405


def test_an_action_on_a_group_that_is_not_there_is_a_404(admin: Client):
    assert admin.post("/failures/retry/", {"flow": "shop"}).status_code == 404
    missing = {"flow": "shop", "step": "charge", "signature": "0" * 32}
    assert admin.get("/failures/fix/", missing).status_code == 404


def test_a_group_action_without_the_csrf_token_is_refused(make_user, archive: Archive):
    fail_runs(define_shop(), [{"n": 1}])
    archive()
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("Admin"))

    response = client.post("/failures/dismiss/", key_data(the_group().key))

    assert response.status_code == 403
    assert not FailureDismissal.objects.exists()


def test_the_inbox_reads_the_same_few_queries_however_many_groups(archive: Archive):
    shop = define_shop()
    fail_runs(shop, [{"n": 1}])
    archive()
    with CaptureQueriesContext(connection) as one_group:
        assert len(failure_groups()) == 1
    fail_runs(shop, [{"n": 2, "declined": True}, {"m": 3}])  # two more causes
    archive()

    with CaptureQueriesContext(connection) as three_groups:
        assert len(failure_groups()) == 3

    # The groups, the dismissals, the samples and the last day's failure times.
    assert len(one_group) == len(three_groups) == 4
