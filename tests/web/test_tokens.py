from __future__ import annotations

from django.test import Client

from flows.models import ApiToken


def test_a_token_created_in_the_ui_is_shown_once_and_works(operator: Client):
    response = operator.post("/account/tokens/", {"name": "laptop"})

    key = response.context["new_key"]
    assert key.encode() in response.content
    assert ApiToken.authenticate(key).user.username == "operator"
    assert key.encode() not in operator.get("/account/tokens/").content


def test_revoked_tokens_stop_working(operator: Client):
    key = operator.post("/account/tokens/", {"name": "laptop"}).context["new_key"]
    token = ApiToken.objects.get()

    operator.post(f"/account/tokens/{token.pk}/revoke/")

    assert ApiToken.authenticate(key) is None


def test_users_cannot_revoke_each_others_tokens(operator: Client, viewer: Client):
    operator.post("/account/tokens/", {"name": "laptop"})
    token = ApiToken.objects.get()

    response = viewer.post(f"/account/tokens/{token.pk}/revoke/")

    assert response.status_code == 404
    assert ApiToken.objects.exists()
