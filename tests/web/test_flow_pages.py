from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils.timezone import now

from flows.definitions import editing
from flows.engine.builder import Flow
from flows.models import FlowDefinition, RunRecord
from flows.runs import launching

HTMX = {"HX-Request": "true"}


@pytest.mark.parametrize("path", ["/", "/flows/new/", "/runs/", "/account/tokens/"])
def test_pages_send_anonymous_visitors_to_the_login_page(client: Client, db: None, path: str):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_page_is_styled_and_logs_in(client: Client, make_user):
    make_user("Operator")

    page = client.get("/accounts/login/")
    response = client.post(
        "/accounts/login/", {"username": "operator", "password": "correct horse 12"}
    )

    assert b'<label for="id_username">' in page.content
    assert b"pico.min.css" in page.content
    assert response.status_code == 302
    assert client.get("/flows/").status_code == 200


def test_flow_list_shows_step_count_last_run_status_and_launch(operator: Client, stripe):
    RunRecord.objects.create(
        flow_id="gone", name=stripe.name, definition=stripe, status="completed", created_at=now()
    )

    response = operator.get("/flows/")

    assert response.status_code == 200
    row = response.context["page"][0]
    assert (row.name, row.step_count, row.last_run_id) == ("stripe_payment_request", 3, "gone")
    assert b'aria-label="Launch stripe_payment_request"' in response.content


def test_flow_search_answers_htmx_with_the_table_only(operator: Client, stripe):
    editing.create_from_flow(Flow("other", stripe.to_flow().steps))

    response = operator.get("/flows/?q=strip", headers=HTMX)

    assert response.content.lstrip().startswith(b'<div id="flow-table">')
    assert b"<html" not in response.content
    assert b"stripe_payment_request" in response.content
    assert b">other<" not in response.content


def test_new_flow_plain_post_redirects_to_its_editor(operator: Client):
    response = operator.post("/flows/new/", {"name": "payments", "description": "Pay"})

    assert response.status_code == 302
    assert response["Location"] == "/flows/payments/"
    flow = FlowDefinition.objects.get(name="payments")
    assert flow.created_by.username == "operator"


def test_new_flow_with_htmx_redirects_the_browser(operator: Client):
    response = operator.post("/flows/new/", {"name": "payments"}, headers=HTMX)

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/flows/payments/"


def test_bad_flow_name_is_explained_inline_and_keeps_the_text(operator: Client):
    response = operator.post(
        "/flows/new/", {"name": "pay ments!", "description": "kept"}, headers=HTMX
    )

    assert response.status_code == 200
    assert b'<form id="flow-form"' in response.content
    assert b"letters, numbers, underscores or hyphens" in response.content
    assert b'value="pay ments!"' in response.content
    assert b"kept</textarea>" in response.content
    assert not FlowDefinition.objects.exists()


def test_duplicate_flow_name_is_refused(operator: Client, stripe):
    response = operator.post("/flows/new/", {"name": "stripe_payment_request"})

    assert response.status_code == 200
    assert b"already exists" in response.content


def test_saving_the_flow_form_counts_a_new_version(operator: Client, stripe):
    response = operator.post(
        f"/flows/{stripe.name}/save/",
        {"name": stripe.name, "description": "changed"},
        headers=HTMX,
    )

    stripe.refresh_from_db()
    assert stripe.version == 2
    assert stripe.updated_by.username == "operator"
    assert b"Saved." in response.content
    assert b'id="flow-version" class="badge version" hx-swap-oob="true"' in response.content


def test_renaming_a_flow_moves_the_browser_to_its_new_address(operator: Client, stripe):
    response = operator.post(
        f"/flows/{stripe.name}/save/", {"name": "stripe2", "description": ""}, headers=HTMX
    )

    assert response["HX-Redirect"] == "/flows/stripe2/"


def test_editor_lists_steps_in_order_with_controls(operator: Client, stripe):
    response = operator.get(f"/flows/{stripe.name}/")

    content = response.content.decode()
    positions = [
        content.index(f">{name}</strong>")
        for name in ("stripe_config", "stripe_config_confirm", "create_product")
    ]
    assert positions == sorted(positions)
    assert "Add step" in content
    assert 'aria-label="Move create_product up"' in content


def test_user_text_is_escaped(operator: Client, stripe):
    stripe.description = "<script>alert(1)</script>"
    stripe.save()

    response = operator.get("/flows/")

    assert b"<script>alert(1)</script>" not in response.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in response.content


def test_duplicate_copies_the_steps(operator: Client, stripe):
    response = operator.post(f"/flows/{stripe.name}/duplicate/")

    copy = FlowDefinition.objects.get(name="stripe_payment_request_copy")
    assert response["Location"] == "/flows/stripe_payment_request_copy/"
    assert [s.name for s in copy.steps.all()] == [s.name for s in stripe.steps.all()]


def test_delete_flow_is_refused_while_a_run_is_active(admin: Client, stripe):
    launching.launch(stripe, {}, User.objects.get(username="admin"))

    response = admin.post(f"/flows/{stripe.name}/delete/", follow=True)

    assert FlowDefinition.objects.filter(pk=stripe.pk).exists()
    assert b"has 1 active run(s)" in response.content


def test_delete_flow_asks_for_confirmation_then_deletes(admin: Client, stripe):
    confirm = admin.get(f"/flows/{stripe.name}/delete/")
    response = admin.post(f"/flows/{stripe.name}/delete/")

    assert b"Delete flow stripe_payment_request?" in confirm.content
    assert response["Location"] == "/flows/"
    assert not FlowDefinition.objects.exists()


def test_a_description_over_the_cap_is_refused_inline(operator: Client, stripe):
    response = operator.post(
        f"/flows/{stripe.name}/save/", {"name": stripe.name, "description": "d" * 10_001}
    )

    assert b"Ensure this value has at most 10000 characters (it has 10001)." in response.content
    stripe.refresh_from_db()
    assert stripe.description == "example"
