"""POST /hooks/<token>: token-bound (no login, no CSRF), signed when the trigger says so, rate
limited per trigger, idempotent on a body field; against real Redis and the test database."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from django.contrib.auth.models import User
from django.test import Client

from flows import engine_client
from flows.models import FlowDefinition, RunRecord, WebhookTrigger
from flows.webhooks import rate_limit, triggers
from flows.webhooks.receiving import MAX_BODY_BYTES


def _post(client: Client, token: str, body: str | bytes = '{"order": 7}', **headers: str):
    return client.post(f"/hooks/{token}", body, content_type="application/json", headers=headers)


def _signature(secret: str, body: bytes, timestamp: int) -> str:
    """As the docs tell a sender to sign, written out here rather than taken from the site."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def test_a_post_to_the_token_launches_a_run_as_the_webhooks_maker(client: Client, make_webhook):
    issued = make_webhook()

    response = _post(client, issued.token)

    assert response.status_code == 202
    run = RunRecord.objects.get()
    assert response.json() == {
        "flow_id": run.flow_id,
        "url": f"http://testserver/runs/{run.flow_id}/",
    }
    state = engine_client.read_run(run.flow_id).state
    assert state.input == {"order": 7}
    assert state.meta["trigger"] == {
        "kind": "webhook",
        "webhook": issued.trigger.pk,
        "name": "shop",
    }
    assert (run.launched_by, run.trigger_kind) == ("maker", "webhook")


def test_unknown_and_revoked_tokens_answer_the_same_404(client: Client, make_webhook):
    issued = make_webhook()
    triggers.revoke(issued.trigger, issued.trigger.created_by)

    unknown, revoked = _post(client, "fwh_" + "x" * 43), _post(client, issued.token)

    assert unknown.status_code == revoked.status_code == 404
    assert unknown.json() == revoked.json()
    assert not RunRecord.objects.exists()


def test_rotating_retires_the_old_token_for_the_new_one(client: Client, make_webhook):
    issued = make_webhook()

    rotated = triggers.rotate(issued.trigger, issued.trigger.created_by)

    assert _post(client, issued.token).status_code == 404
    assert _post(client, rotated.token).status_code == 202


def test_in_envelope_mode_the_input_holds_the_body_and_headers_but_no_credentials(
    client: Client, make_webhook
):
    issued = make_webhook(input_mode=WebhookTrigger.InputMode.ENVELOPE)

    response = _post(
        client,
        issued.token,
        "[1, 2]",
        **{"X-Event": "paid", "Authorization": "Bearer no", "Cookie": "a=b"},
    )

    assert response.status_code == 202
    sent = engine_client.read_run(response.json()["flow_id"]).state.input
    assert sent["body"] == [1, 2]
    assert sent["headers"]["x-event"] == "paid"
    assert sent["headers"]["content-type"] == "application/json"
    assert not {"authorization", "cookie", "x-flowsite-signature"} & set(sent["headers"])


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("[1, 2]", "the body must be a JSON object, not list"),
        ("{'order': 7}", "the body is not valid JSON: line 1, column 2: "),
        ("", "the body is not valid JSON: line 1, column 1: Expecting value"),
        ('{"n": NaN}', "the body is not valid JSON: NaN is not a number"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400(client: Client, make_webhook, body, error):
    response = _post(client, make_webhook().token, body)

    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert not RunRecord.objects.exists()


def test_a_body_over_one_mebibyte_is_a_413(client: Client, make_webhook):
    issued = make_webhook()
    padding = MAX_BODY_BYTES - len('{"a": ""}')

    at_the_cap = _post(client, issued.token, '{"a": "' + "x" * padding + '"}')
    over = _post(client, issued.token, '{"a": "' + "x" * (padding + 1) + '"}')

    assert at_the_cap.status_code == 202
    assert over.status_code == 413
    assert over.json() == {"error": "the body is over the 1,048,576 bytes a webhook takes"}


def test_a_signed_webhook_takes_a_valid_signature(client: Client, make_webhook):
    issued = make_webhook(signed=True)
    body = b'{"order": 7}'

    response = _post(
        client,
        issued.token,
        body,
        **{"X-Flowsite-Signature": _signature(issued.secret, body, int(time.time()))},
    )

    assert issued.secret.startswith("whsec_")
    assert response.status_code == 202


def test_a_signed_webhook_refuses_a_missing_wrong_or_stale_signature_with_401(
    client: Client, make_webhook
):
    issued = make_webhook(signed=True, tolerance_seconds=300)
    body, now = b'{"order": 7}', int(time.time())
    header = "X-Flowsite-Signature"

    missing = _post(client, issued.token, body)
    wrong_secret = _post(
        client, issued.token, body, **{header: _signature("whsec_other", body, now)}
    )
    other_body = _post(
        client, issued.token, b'{"order": 8}', **{header: _signature(issued.secret, body, now)}
    )
    replayed = _post(
        client, issued.token, body, **{header: _signature(issued.secret, body, now - 301)}
    )
    garbled = _post(client, issued.token, body, **{header: "v1=abc"})

    assert [r.status_code for r in (missing, wrong_secret, other_body, replayed, garbled)] == [
        401
    ] * 5
    assert missing.json()["error"] == "the request is not signed (header X-Flowsite-Signature)"
    assert wrong_secret.json()["error"].startswith("the signature does not match the body")
    assert replayed.json()["error"].startswith("the signature's timestamp is more than 300 seconds")
    assert not RunRecord.objects.exists()


def test_a_signed_event_replayed_within_the_tolerance_starts_no_second_run(
    client: Client, make_webhook
):
    issued = make_webhook(signed=True, idempotency_path="id")
    body = b'{"id": "evt_1", "order": 7}'
    signed = {"X-Flowsite-Signature": _signature(issued.secret, body, int(time.time()) - 60)}

    first = _post(client, issued.token, body, **signed)
    replayed = _post(client, issued.token, body, **signed)  # captured and sent again

    assert (first.status_code, replayed.status_code) == (202, 200)
    assert replayed.json()["flow_id"] == first.json()["flow_id"]
    assert RunRecord.objects.count() == 1


def test_the_signature_header_is_the_triggers_own(client: Client, make_webhook):
    issued = make_webhook(signed=True, signature_header="Stripe-Signature")
    body = b"{}"

    response = _post(
        client,
        issued.token,
        body,
        **{"Stripe-Signature": _signature(issued.secret, body, int(time.time()))},
    )

    assert response.status_code == 202


def _away_from_a_minute_edge() -> None:
    """Wait out the last seconds of a rate-limit window, so that a test's requests share one."""
    into_window = time.time() % rate_limit.WINDOW_SECONDS
    if into_window > rate_limit.WINDOW_SECONDS - 3:
        time.sleep(rate_limit.WINDOW_SECONDS - into_window)


def test_past_its_rate_limit_a_webhook_answers_429_with_retry_after(client: Client, make_webhook):
    limited, other = make_webhook(rate_limit_per_minute=2), make_webhook(label="other")
    _away_from_a_minute_edge()

    answers = [_post(client, limited.token) for _ in range(3)]

    assert [a.status_code for a in answers] == [202, 202, 429]
    assert 1 <= int(answers[2]["Retry-After"]) <= 60
    assert answers[2].json() == {"error": "this webhook takes at most 2 requests a minute"}
    assert _post(client, other.token).status_code == 202  # each trigger counts its own
    assert RunRecord.objects.count() == 3


def test_the_rate_limit_counts_per_minute_window(make_webhook):
    trigger_id = make_webhook().trigger.pk

    in_one_window = [rate_limit.seconds_until_allowed(trigger_id, 2, 600.0 + s) for s in (0, 1, 2)]
    at_its_end = rate_limit.seconds_until_allowed(trigger_id, 2, 659.5)
    next_window = rate_limit.seconds_until_allowed(trigger_id, 2, 660.0)

    assert in_one_window == [0, 0, 58]
    assert at_its_end == 1
    assert next_window == 0


def test_an_idempotency_field_starts_one_run_per_event(client: Client, make_webhook):
    issued = make_webhook(idempotency_path="data.object.id")

    def event(object_id: str, attempt: int) -> str:
        return json.dumps({"data": {"object": {"id": object_id}}, "attempt": attempt})

    first = _post(client, issued.token, event("evt_1", 1))
    again = _post(client, issued.token, event("evt_1", 2))
    other = _post(client, issued.token, event("evt_2", 1))
    without = _post(client, issued.token, '{"data": {}}')

    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 202)
    assert again.json() == first.json()
    assert other.json()["flow_id"] != first.json()["flow_id"]
    assert RunRecord.objects.count() == 2
    assert without.status_code == 400
    assert without.json()["error"] == (
        "the body has no string or integer at data.object.id, which names the event"
    )


def test_a_webhook_whose_maker_may_no_longer_launch_is_refused(client: Client, make_webhook):
    issued = make_webhook()
    User.objects.filter(pk=issued.trigger.created_by_id).update(is_active=False)

    response = _post(client, issued.token)

    assert response.status_code == 403
    assert not RunRecord.objects.exists()


def test_webhooks_need_no_csrf_token_but_every_other_post_still_does(
    make_webhook, make_user, stripe
):
    issued = make_webhook()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(make_user("Admin"))

    hook = browser.post(f"/hooks/{issued.token}", "{}", content_type="application/json")
    form = browser.post(f"/flows/{stripe.name}/webhooks/new/", {"label": "x"})
    launch = browser.post(f"/flows/{stripe.name}/launch/", {"input": "{}"})

    assert hook.status_code == 202
    assert form.status_code == launch.status_code == 403
    assert WebhookTrigger.objects.count() == 1


def test_only_post_is_allowed(client: Client, make_webhook):
    assert client.get(f"/hooks/{make_webhook().token}").status_code == 405


# The flow page's section.


def _create(client: Client, flow: FlowDefinition, **fields: str):
    form = {"label": "shop", "input_mode": "body", "rate_limit_per_minute": "60"}
    form |= {"signature_header": "X-Flowsite-Signature", "tolerance_seconds": "300", **fields}
    return client.post(f"/flows/{flow.name}/webhooks/new/", form, headers={"HX-Request": "true"})


def test_an_operator_makes_a_webhook_and_sees_its_token_and_secret_once(
    operator: Client, client: Client, stripe
):
    made = _create(operator, stripe, signed="on", idempotency_path="id")

    trigger = WebhookTrigger.objects.get()
    url, secret = made.context["url"], made.context["issued"].secret
    token = url.rsplit("/", 1)[1]
    page = made.content.decode()
    assert url in page and secret in page
    assert "X-Flowsite-Signature: t=$T,v1=$SIG" in page
    assert 'id="webhook-list" hx-swap-oob="true"' in page
    assert (trigger.label, trigger.signed, trigger.created_by.username) == (
        "shop",
        True,
        "operator",
    )
    assert secret not in trigger.secret_token
    later = operator.get(f"/flows/{stripe.name}/").content.decode()
    assert "shop" in later and trigger.token_prefix in later
    assert token not in later and secret not in later
    assert _post(client, token, "{}").status_code == 401  # signed, as asked


def test_the_curl_command_shown_signs_as_the_webhook_checks(operator: Client, client, stripe):
    import subprocess

    made = _create(operator, stripe, signed="on")
    token = made.context["url"].rsplit("/", 1)[1]
    curl = made.context["curl"]
    signing = curl.rsplit("\n", 1)[0] + '\nprintf "%s\\n%s" "$BODY" "t=$T,v1=$SIG"'

    body, header = subprocess.run(
        ["bash", "-c", signing], capture_output=True, text=True, check=True
    ).stdout.split("\n")

    assert _post(client, token, body, **{"X-Flowsite-Signature": header}).status_code == 202


def test_form_errors_show_at_their_fields_and_make_nothing(operator: Client, stripe):
    response = _create(
        operator, stripe, label="", rate_limit_per_minute="0", idempotency_path="data..id"
    )

    page = response.content.decode()
    assert 'id="id_label_error"' in page
    assert 'id="id_rate_limit_per_minute_error"' in page
    assert 'id="id_idempotency_path_error"' in page
    assert not WebhookTrigger.objects.exists()


def test_rotating_from_the_page_shows_a_new_token_and_retires_the_old(
    operator: Client, client: Client, make_webhook, stripe
):
    issued = make_webhook()

    rotated = operator.post(
        f"/flows/{stripe.name}/webhooks/{issued.trigger.pk}/rotate/", headers={"HX-Request": "true"}
    )

    new_token = rotated.context["url"].rsplit("/", 1)[1]
    assert new_token != issued.token
    assert _post(client, issued.token).status_code == 404
    assert _post(client, new_token).status_code == 202


def test_revoking_without_javascript_redirects_to_the_flow_page(
    operator: Client, client: Client, make_webhook, stripe
):
    issued = make_webhook()

    response = operator.post(f"/flows/{stripe.name}/webhooks/{issued.trigger.pk}/revoke/")

    assert response.status_code == 302
    assert response["Location"] == f"/flows/{stripe.name}/#webhooks"
    assert _post(client, issued.token).status_code == 404
    again = operator.post(f"/flows/{stripe.name}/webhooks/{issued.trigger.pk}/rotate/")
    assert again.status_code == 404  # a revoked webhook stays revoked


def test_a_viewer_sees_the_webhooks_but_cannot_make_rotate_or_revoke_them(
    viewer: Client, make_webhook, stripe
):
    issued = make_webhook()
    base = f"/flows/{stripe.name}/webhooks/"

    page = viewer.get(f"/flows/{stripe.name}/").content.decode()

    assert "shop" in page and issued.trigger.token_prefix in page
    assert issued.token not in page
    assert base not in page  # no link to make one, no form to rotate or revoke one
    assert viewer.get(base + "new/").status_code == 403
    assert viewer.post(base + "new/", {"label": "x"}).status_code == 403
    assert viewer.post(f"{base}{issued.trigger.pk}/rotate/").status_code == 403
    assert viewer.post(f"{base}{issued.trigger.pk}/revoke/").status_code == 403
    assert WebhookTrigger.objects.get().revoked_at is None
