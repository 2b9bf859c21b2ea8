"""The flow page's Webhooks section: everyone who sees the flow sees its triggers (never a token
or a secret: neither is kept); whoever may change the flow makes, rotates and revokes them. A
token, and a secret, are shown once, in the answer that makes them, so that answer is rendered,
not redirected."""

from __future__ import annotations

import json
import shlex
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from flows.models import FlowDefinition, WebhookTrigger
from flows.view_helpers import HtmxHttpRequest, get_flow, requires
from flows.webhooks import triggers


class WebhookForm(forms.ModelForm):
    signed = forms.BooleanField(
        label="Require a signature",
        required=False,
        help_text="Refuse requests without a valid HMAC-SHA256 signature of their body.",
    )
    secret = forms.CharField(
        label="Signing secret",
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text="The sender's own secret, e.g. Stripe's whsec_…: typing one requires "
        "signatures. Empty: one is made for you. Shown once, never again.",
    )

    class Meta:
        model = WebhookTrigger
        fields = [
            "label",
            "input_mode",
            "idempotency_path",
            "rate_limit_per_minute",
            "signature_header",
            "tolerance_seconds",
        ]
        widgets = {"input_mode": forms.RadioSelect}


@require_http_methods(["GET", "POST"])
@requires("flows.change_flowdefinition")
def webhook_new(request: HtmxHttpRequest, name: str) -> HttpResponse:
    flow = get_flow(name)
    form = WebhookForm(request.POST or None, instance=WebhookTrigger(flow=flow))
    if request.method == "POST" and form.is_valid():
        secret = form.cleaned_data["secret"]
        signed = form.cleaned_data["signed"] or bool(secret)
        issued = triggers.create(form.instance, request.user, signed=signed, secret=secret)
        return _issued(request, issued)
    return _render(request, flow, "flows/_webhook_form.html", {"form": form})


@require_POST
@requires("flows.change_flowdefinition")
def webhook_rotate(request: HtmxHttpRequest, name: str, webhook_id: int) -> HttpResponse:
    return _issued(request, triggers.rotate(_live_trigger(name, webhook_id), request.user))


@require_POST
@requires("flows.change_flowdefinition")
def webhook_revoke(request: HtmxHttpRequest, name: str, webhook_id: int) -> HttpResponse:
    trigger = _live_trigger(name, webhook_id)
    triggers.revoke(trigger, request.user)
    if request.htmx:
        return render(request, "flows/_webhook_list.html", {"flow": trigger.flow})
    messages.success(request, f"Webhook {trigger.label} revoked: its URL answers 404 now.")
    return redirect(trigger.flow.get_absolute_url() + "#webhooks")


def _live_trigger(name: str, webhook_id: int) -> WebhookTrigger:
    """A revoked trigger stays revoked: it can be neither rotated nor revoked again."""
    live = WebhookTrigger.objects.select_related("flow").filter(revoked_at__isnull=True)
    return get_object_or_404(live, pk=webhook_id, flow__name=name)


def _issued(request: HtmxHttpRequest, issued: triggers.Issued) -> HttpResponse:
    url = request.build_absolute_uri(reverse("flows:webhook_receive", args=[issued.token]))
    context = {"issued": issued, "url": url, "curl": curl_example(url, issued)}
    return _render(request, issued.trigger.flow, "flows/_webhook_issued.html", context)


def _render(
    request: HtmxHttpRequest, flow: FlowDefinition, part: str, context: dict[str, Any]
) -> HttpResponse:
    """The part as a fragment for htmx, or on a page of its own without JavaScript."""
    context = {"flow": flow, "part": part, **context}
    return render(request, part if request.htmx else "flows/webhook_page.html", context)


def curl_example(url: str, issued: triggers.Issued) -> str:
    """A shell command that posts to the webhook as its sender would, signed when it must be
    (with the secret just made, else from $WEBHOOK_SECRET)."""
    trigger = issued.trigger
    body = shlex.quote(json.dumps(_example_body(trigger.idempotency_path)))
    post = f"curl -X POST {shlex.quote(url)} -H 'Content-Type: application/json'"
    if not trigger.signed:
        return f"{post} -d {body}"
    secret = shlex.quote(issued.secret) if issued.secret else '"$WEBHOOK_SECRET"'
    sign = f"openssl dgst -sha256 -hmac {secret} | sed 's/^.*= //'"
    return "\n".join(
        [
            f"BODY={body}",
            "T=$(date +%s)",
            f"""SIG=$(printf '%s.%s' "$T" "$BODY" | {sign})""",
            f'{post} -H "{trigger.signature_header}: t=$T,v1=$SIG" -d "$BODY"',
        ]
    )


def _example_body(idempotency_path: str) -> dict[str, Any]:
    """A body with a value at the idempotency field, if the trigger has one."""
    body: Any = "evt_1"
    for name in reversed(idempotency_path.split(".") if idempotency_path else ["event"]):
        body = {name: body}
    return body
