from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from flows.definitions.examples import checkout
from flows.models import ApiToken, FlowDefinition


def _bootstrap() -> str:
    out = StringIO()
    call_command("bootstrap", stdout=out)
    return out.getvalue()


def test_bootstrap_creates_the_admin_examples_and_prints_the_password_once(
    db: None, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)

    first = _bootstrap()
    second = _bootstrap()

    password = first.split("password:")[1].split()[0]
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    assert admin.groups.filter(name="Admin").exists()
    names = list(FlowDefinition.objects.values_list("name", flat=True))
    assert names == ["checkout", "stripe_payment_request"]
    # The branching example keeps its graph in the builder.
    assert FlowDefinition.objects.get(name="checkout").to_flow() == checkout()
    assert second == ""


def test_bootstrap_takes_the_account_from_the_environment(
    db: None, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "boss")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long pass phrase")

    output = _bootstrap()

    assert User.objects.get(username="boss").check_password("a long pass phrase")
    assert "a long pass phrase" not in output


def test_create_api_token_prints_a_working_token(db: None):
    User.objects.create_user("ci")
    out = StringIO()

    call_command("create_api_token", "ci", "--name", "pipeline", stdout=out)

    token = ApiToken.authenticate(out.getvalue().strip())
    assert token is not None and token.name == "pipeline"


def test_create_api_token_names_an_unknown_user(db: None):
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        call_command("create_api_token", "ghost")
