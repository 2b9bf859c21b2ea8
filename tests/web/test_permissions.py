"""Each role may do exactly what it should; the server refuses the rest (403)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from flows.roles import ROLE_PERMISSIONS


def _actions(flow, step) -> dict[str, tuple[str, str, dict]]:
    base = f"/flows/{flow.name}"
    script = {"name": "s", "script": "1", "timeout": "1", "retries": "0"}
    return {
        "view list": ("get", "/flows/", {}),
        "view flow": ("get", f"{base}/", {}),
        "export": ("get", f"{base}/export.json", {}),
        "create flow": ("post", "/flows/new/", {"name": "fresh"}),
        "edit flow": ("post", f"{base}/save/", {"name": flow.name, "description": "x"}),
        "add step": ("post", f"{base}/steps/new/", script),
        "move step": ("post", f"{base}/steps/{step.pk}/move/", {"direction": "down"}),
        "test step": ("post", f"{base}/steps/test/", script),
        "launch": ("post", f"{base}/launch/", {"input": "{}"}),
        "delete flow": ("post", f"{base}/delete/", {}),
    }


ALLOWED = {
    "Viewer": {"view list", "view flow", "export"},
    "Operator": {
        "view list",
        "view flow",
        "export",
        "create flow",
        "edit flow",
        "add step",
        "move step",
        "test step",
        "launch",
    },
}
ALLOWED["Admin"] = ALLOWED["Operator"] | {"delete flow"}


@pytest.mark.parametrize("role", ["Viewer", "Operator", "Admin"])
def test_each_role_may_do_only_its_own_actions(role: str, make_user, stripe):
    client = Client()
    client.force_login(make_user(role))
    step = stripe.steps.first()

    outcomes = {}
    for action, (method, path, data) in _actions(stripe, step).items():
        outcomes[action] = getattr(client, method)(path, data).status_code != 403

    assert {action for action, allowed in outcomes.items() if allowed} == ALLOWED[role]


def test_groups_hold_exactly_the_role_permissions(db: None):
    for role, names in ROLE_PERMISSIONS.items():
        granted = Permission.objects.filter(group__name=role)
        assert {f"{p.content_type.app_label}.{p.codename}" for p in granted} == set(names)
        assert Group.objects.filter(name=role).exists()


def test_viewer_sees_no_editing_controls(viewer: Client, stripe):
    response = viewer.get(f"/flows/{stripe.name}/")

    assert b"Add step" not in response.content
    assert b'id="flow-form"' not in response.content
    assert b">Launch<" not in response.content


def test_post_without_csrf_token_is_refused(make_user, stripe):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("Operator"))

    response = client.post("/flows/new/", {"name": "sneaky"})

    assert response.status_code == 403


def test_pages_carry_the_csrf_token_for_htmx(operator: Client, stripe):
    response = operator.get("/")

    assert b'hx-headers=\'{"X-CSRFToken": "' in response.content


def test_admins_get_staff_status_to_manage_users_and_operators_do_not(make_user):
    admin, operator = make_user("Admin"), make_user("Operator")
    client = Client()

    client.force_login(admin)
    admin_users_page = client.get("/admin/auth/user/")
    client.force_login(operator)
    operator_users_page = client.get("/admin/auth/user/")

    assert admin_users_page.status_code == 200
    assert operator_users_page.status_code == 302
    admin.groups.clear()
    admin.refresh_from_db()
    assert not admin.is_staff


def test_an_expired_session_sends_htmx_requests_to_the_login_page(client: Client, stripe):
    response = client.post(
        f"/flows/{stripe.name}/steps/check/",
        {"script": "1"},
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver/flows/{stripe.name}/"},
    )

    assert response["HX-Redirect"] == f"/accounts/login/?next=/flows/{stripe.name}/"
