"""Failed logins are throttled per account and per address: past the limit even the right password
is refused for a while, the login page says why, and the lockout lands in the audit trail."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections
from django.test import AsyncClient, Client

from flows.models import AuditEntry

PASSWORD = "correct horse 12"  # make_user's


def _log_in(client: Client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_thirty_wrong_passwords_lock_the_account_even_against_the_right_one(
    make_user: Callable[[str], User],
):
    operator = make_user("Operator")
    client = Client()

    for attempt in range(30):
        _log_in(client, operator.username, f"wrong {attempt}")
    answer = _log_in(client, operator.username, PASSWORD)

    assert answer.status_code == 429
    assert not _logged_in(client)
    assert "Too many failed logins" in answer.content.decode()
    assert 'name="password"' in answer.content.decode()  # still the login page
    # Tries refused during the lockout neither extend it nor grow the stored attempt.
    assert AccessAttempt.objects.get().failures_since_start == settings.AXES_FAILURE_LIMIT


def test_failed_logins_from_many_addresses_lock_the_account(make_user: Callable[[str], User]):
    operator = make_user("Operator")
    client = Client()

    for attempt in range(settings.AXES_FAILURE_LIMIT):
        _log_in(client, operator.username, "wrong", address=f"10.0.0.{attempt}")
    answer = _log_in(client, operator.username, PASSWORD, address="10.0.1.1")

    assert answer.status_code == 429 and not _logged_in(client)


def test_failed_logins_for_many_accounts_lock_the_address(make_user: Callable[[str], User]):
    viewer = make_user("Viewer")
    client = Client()

    for attempt in range(settings.AXES_FAILURE_LIMIT):
        _log_in(client, f"guess{attempt}", "wrong", address="10.0.0.9")
    from_that_address = _log_in(client, viewer.username, PASSWORD, address="10.0.0.9")
    from_another = _log_in(Client(), viewer.username, PASSWORD, address="10.0.0.10")

    assert from_that_address.status_code == 429
    assert from_another.status_code == 302


def test_failures_under_the_limit_do_not_stop_the_right_password(
    make_user: Callable[[str], User],
):
    viewer = make_user("Viewer")
    client = Client()

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _log_in(client, viewer.username, "wrong")

    assert _log_in(client, viewer.username, PASSWORD).status_code == 302
    assert _logged_in(client)


def test_a_lockout_is_audited_once_with_the_account_and_address(
    make_user: Callable[[str], User],
):
    operator = make_user("Operator")
    client = Client()

    for _ in range(30):
        _log_in(client, operator.username, "wrong", address="10.0.0.7")

    entry = AuditEntry.objects.get(action=AuditEntry.Action.LOGIN_LOCKOUT)
    assert (entry.user, entry.username) == (operator, operator.username)
    assert entry.details["ip_address"] == "10.0.0.7"
    assert str(entry) == "operator was locked out after failed logins"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("short_lived_connections")
async def test_the_lockout_page_is_the_same_through_asgi(make_user: Callable[[str], User]):
    """The site runs under ASGI, where axes' middleware takes another path to the lockout page.
    (Its requests and ORM calls run in another thread: no test transaction can cover them.)"""
    operator = await sync_to_async(make_user)("Operator")
    client = AsyncClient()
    form = {"username": operator.username, "password": "wrong"}

    try:
        for _ in range(settings.AXES_FAILURE_LIMIT):
            await client.post("/accounts/login/", form)
        answer = await client.post("/accounts/login/", {**form, "password": PASSWORD})
    finally:
        # That thread's connection: the test client closes none, and an open one keeps the
        # test database from being dropped at the end of the run.
        await sync_to_async(connections.close_all)()

    assert answer.status_code == 429
    assert "Too many failed logins" in answer.content.decode()
