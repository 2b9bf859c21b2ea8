"""Accounts: log in, log out and change one's own password. There is no password reset by email:
Flowsite sends no mail, and an admin sets a new password instead."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client


@pytest.mark.parametrize(
    "path", ["/accounts/password_reset/", "/accounts/password_reset/done/", "/accounts/reset/MQ/x/"]
)
def test_there_is_no_password_reset_by_email(client: Client, path: str, db: None):
    assert client.get(path).status_code == 404
    assert client.post(path, {"email": "someone@example.com"}).status_code == 404


def test_the_login_page_says_who_sets_a_forgotten_password(client: Client, db: None):
    page = client.get("/accounts/login/").content.decode()

    assert "Forgot your password? An admin can set a new one." in page


def test_a_user_can_still_change_their_own_password(make_user: Callable[[str], User]):
    viewer = make_user("Viewer")
    client = Client()
    client.force_login(viewer)
    new = "another good passphrase 9"

    answer = client.post(
        "/accounts/password_change/",
        {"old_password": "correct horse 12", "new_password1": new, "new_password2": new},
    )

    viewer.refresh_from_db()
    assert answer.status_code == 302 and viewer.check_password(new)
