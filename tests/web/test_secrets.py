"""The Secrets page and command: admins set, replace and delete; nobody ever reads a value back."""

from __future__ import annotations

import io

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client

from flows.definitions import editing
from flows.engine import new_flow, new_step
from flows.engine.connections import blocking_client
from flows.engine.keys import Keys
from flows.models import AuditEntry, Secret
from flows.secrets.mirror import SecretsMirror
from tests.web.step_form import post_test_run

VALUE = "sk_live_51HcQpLk"


def _redis_copy() -> dict[str, str]:
    with blocking_client(settings.REDIS_URL, decode_responses=True) as client:
        return client.hgetall(Keys(settings.FLOWS_KEY_PREFIX).secrets)


def _save(client: Client, name: str, value: str = VALUE):
    return client.post("/secrets/save/", {"name": name, "value": value})


def test_an_admin_sets_a_secret_stored_encrypted_in_the_database_and_redis(admin: Client):
    response = _save(admin, "STRIPE_KEY")

    assert response.status_code == 302
    secret = Secret.objects.get()
    assert (secret.name, secret.changed_by.username) == ("STRIPE_KEY", "admin")
    assert VALUE not in secret.token
    assert _redis_copy() == {"STRIPE_KEY": secret.token}
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SECRET_SET)
    assert entry.details == {"secret": "STRIPE_KEY"}


def test_no_page_shows_the_value_again(admin: Client):
    _save(admin, "STRIPE_KEY")

    page = admin.get("/secrets/", follow=True)
    refused = _save(admin, "bad name", "another-value-9137")

    assert b"STRIPE_KEY" in page.content
    assert VALUE.encode() not in page.content
    assert refused.status_code == 400
    assert b"another-value-9137" not in refused.content
    assert b"enter it again" in refused.content


def test_replacing_keeps_one_secret_with_the_new_value(admin: Client):
    _save(admin, "STRIPE_KEY")
    old_token = Secret.objects.get().token

    _save(admin, "STRIPE_KEY", "sk_live_rotated")

    assert Secret.objects.get().token != old_token
    assert list(_redis_copy()) == ["STRIPE_KEY"]


def test_deleting_removes_it_everywhere_and_is_audited(admin: Client):
    _save(admin, "STRIPE_KEY")

    response = admin.post("/secrets/STRIPE_KEY/delete/")

    assert response.status_code == 302
    assert not Secret.objects.exists()
    assert _redis_copy() == {}
    assert AuditEntry.objects.filter(action=AuditEntry.Action.SECRET_DELETE).exists()


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_viewers_and_operators_see_names_but_cannot_change_them(
    role: str, request: pytest.FixtureRequest, admin: Client
):
    _save(admin, "STRIPE_KEY")
    client: Client = request.getfixturevalue(role)

    page = client.get("/secrets/")

    assert page.status_code == 200
    assert b"STRIPE_KEY" in page.content
    assert b"Save secret" not in page.content
    assert _save(client, "OTHER").status_code == 403
    assert client.post("/secrets/STRIPE_KEY/delete/").status_code == 403
    assert list(Secret.objects.values_list("name", flat=True)) == ["STRIPE_KEY"]


def test_the_page_says_which_flows_read_each_secret(admin: Client):
    step = new_step("charge").script('secret("STRIPE_KEY")').build()
    editing.create_from_flow(new_flow("payments").add_step(step).build(), description="")
    _save(admin, "STRIPE_KEY")

    page = admin.get("/secrets/").content.decode()

    assert 'href="/flows/payments/"' in page


def test_anonymous_visitors_are_sent_to_log_in(client: Client, db: None):
    assert client.get("/secrets/").status_code == 302
    assert _save(client, "X").status_code == 302
    assert not Secret.objects.exists()


def test_the_command_reads_the_value_from_standard_input(db: None, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(VALUE + "\n"))
    output = io.StringIO()

    call_command("set_secret", "STRIPE_KEY", stdout=output)

    assert output.getvalue().strip() == "Secret STRIPE_KEY saved."
    assert VALUE not in Secret.objects.get(name="STRIPE_KEY").token
    assert "STRIPE_KEY" in _redis_copy()


def test_the_command_refuses_a_bad_name(db: None, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(VALUE))

    with pytest.raises(CommandError, match="capital letters"):
        call_command("set_secret", "lower")


HTMX = {"HX-Request": "true"}


def test_the_script_check_flags_a_secret_that_is_not_set(operator: Client, stripe):
    response = operator.post(
        f"/flows/{stripe.name}/steps/check/", {"script": 'secret("NOPE")'}, headers=HTMX
    )

    assert b"Secret NOPE is not set" in response.content


def test_a_test_run_gets_the_secret_and_shows_it_redacted(operator: Client, admin: Client, stripe):
    _save(admin, "API_KEY")
    script = 'log("key " + secret("API_KEY"))\n{"key": secret("API_KEY")}\n'

    response = post_test_run(operator, stripe.name, script)

    content = response.content.decode()
    assert "status-completed" in content
    assert "key [secret:API_KEY]" in content
    assert VALUE not in content


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("short_lived_connections")
def test_the_web_process_writes_the_redis_copy_again_when_redis_lost_it(admin: Client):
    # Transactional: the service reads the database from a thread of its own, as it does in
    # the web process, which must see what this test saved.
    _save(admin, "STRIPE_KEY")
    with blocking_client(settings.REDIS_URL) as client:
        client.delete(Keys(settings.FLOWS_KEY_PREFIX).secrets)  # as a Redis flushed or restarted

    async_to_sync(SecretsMirror().start)()

    assert _redis_copy() == {"STRIPE_KEY": Secret.objects.get().token}
