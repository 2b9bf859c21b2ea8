"""Admins manage users in the Django admin, but grant nothing they do not hold themselves: every
escalation is tried here as a real admin POST, and the server must refuse it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

NEW_PASSWORD = "a brand new passphrase 7"


def _change(client: Client, user: User, **changes: object):
    """POST the admin's change form for `user` as it stands, with `changes` applied."""
    user.refresh_from_db()
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "groups": [group.pk for group in user.groups.all()],
        "user_permissions": [permission.pk for permission in user.user_permissions.all()],
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        **changes,
    }
    return client.post(f"/admin/auth/user/{user.pk}/change/", data)


def _set_password(client: Client, user: User):
    data = {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    return client.post(f"/admin/auth/user/{user.pk}/password/", data)


@pytest.fixture
def admin_user(make_user: Callable[[str], User]) -> User:
    return make_user("Admin")


@pytest.fixture
def admin_client(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def _permission(name: str) -> Permission:
    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def test_an_admin_cannot_make_itself_superuser(admin_client: Client, admin_user: User):
    _change(admin_client, admin_user, is_superuser="on", is_staff="on")

    admin_user.refresh_from_db()
    assert not admin_user.is_superuser


def test_an_admin_cannot_grant_itself_a_permission_it_lacks(admin_client: Client, admin_user: User):
    audit_delete = _permission("flows.delete_auditentry")

    response = _change(admin_client, admin_user, user_permissions=[audit_delete.pk])

    assert response.status_code == 200  # the form again, with the refused choice named
    assert not admin_user.user_permissions.filter(pk=audit_delete.pk).exists()
    assert not User.objects.get(pk=admin_user.pk).has_perm("flows.delete_auditentry")


def test_an_admin_cannot_join_a_group_above_its_own(admin_client: Client, admin_user: User):
    auditors = Group.objects.create(name="Auditors")
    auditors.permissions.add(_permission("flows.delete_auditentry"))
    admin_group = Group.objects.get(name="Admin")

    _change(admin_client, admin_user, groups=[admin_group.pk, auditors.pk])

    assert list(admin_user.groups.values_list("name", flat=True)) == ["Admin"]


def test_an_admin_cannot_change_another_admins_password_or_account(
    admin_client: Client, make_user: Callable[[str], User]
):
    other = User.objects.create_user(username="other-admin", password="their own 12")
    other.groups.add(Group.objects.get(name="Admin"))

    password_answer = _set_password(admin_client, other)
    change_answer = _change(admin_client, other, is_active="")

    other.refresh_from_db()
    assert (password_answer.status_code, change_answer.status_code) == (403, 403)
    assert other.check_password("their own 12") and other.is_active


def test_an_admin_cannot_change_or_delete_a_superuser(admin_client: Client, db: None):
    root = User.objects.create_superuser(username="root", password="root password 12")

    password_answer = _set_password(admin_client, root)
    delete_answer = admin_client.post(f"/admin/auth/user/{root.pk}/delete/", {"post": "yes"})
    bulk_delete_answer = admin_client.post(
        "/admin/auth/user/",
        {"action": "delete_selected", "_selected_action": [root.pk], "post": "yes"},
    )

    root.refresh_from_db()
    assert (password_answer.status_code, delete_answer.status_code) == (403, 403)
    assert bulk_delete_answer.status_code == 403
    assert root.check_password("root password 12")


def test_an_admin_cannot_take_over_a_user_who_holds_more_than_it_does(
    admin_client: Client, make_user: Callable[[str], User]
):
    auditor = make_user("Viewer")
    auditor.user_permissions.add(_permission("flows.delete_auditentry"))

    assert _set_password(admin_client, auditor).status_code == 403
    auditor.refresh_from_db()
    assert not auditor.check_password(NEW_PASSWORD)


def test_an_admin_still_manages_users_below_it(
    admin_client: Client, make_user: Callable[[str], User]
):
    operator = make_user("Operator")
    admin_group = Group.objects.get(name="Admin")
    retry = _permission("flows.retry_step")

    password_answer = _set_password(admin_client, operator)
    change_answer = _change(
        admin_client, operator, groups=[admin_group.pk], user_permissions=[retry.pk]
    )

    operator.refresh_from_db()
    assert (password_answer.status_code, change_answer.status_code) == (302, 302)
    assert operator.check_password(NEW_PASSWORD)
    assert list(operator.groups.values_list("name", flat=True)) == ["Admin"]
    assert operator.is_staff and list(operator.user_permissions.all()) == [retry]


def test_a_superuser_may_still_grant_anything(make_user: Callable[[str], User]):
    root = User.objects.create_superuser(username="root", password="root password 12")
    client = Client()
    client.force_login(root)
    admin_user = make_user("Admin")

    assert _change(client, admin_user, is_superuser="on", is_staff="on").status_code == 302
    assert _set_password(client, admin_user).status_code == 302

    admin_user.refresh_from_db()
    assert admin_user.is_superuser and admin_user.check_password(NEW_PASSWORD)
