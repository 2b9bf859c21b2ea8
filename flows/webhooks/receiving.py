"""`POST /hooks/<token>`: a webhook's request launches a run of its flow.

No login and no CSRF: the token in the URL is the credential, and no cookie is read. Answers,
as JSON: 202 `{"flow_id", "url"}`; 200 with the earlier run when the trigger's idempotency
field repeats; 404 unknown or revoked token (alike); 429 past the trigger's rate limit (with
Retry-After); 413 a body over MAX_BODY_BYTES; 401 a bad signature on a signed trigger; 400 a
body that is not JSON, or not what the trigger's input mode needs; 403 when whom the trigger
launches as may no longer launch runs. Checked in that order: each check costs more than the
one before it, and a flood is refused before its body is read.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from flows.definitions import strict_json
from flows.engine.concurrency import LimitReached
from flows.json_errors import json_error
from flows.models import WebhookTrigger
from flows.runs import launching
from flows.webhooks import rate_limit, triggers
from flows.webhooks.signatures import signature_problem

MAX_BODY_BYTES = 1024 * 1024
# Left out of an envelope's headers: credentials, whatever a proxy may have added.
PRIVATE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


@csrf_exempt
@require_POST
def receive(request: HttpRequest, token: str) -> HttpResponse:
    trigger = WebhookTrigger.find(token)
    if trigger is None:
        return json_error(404, "no webhook has this token")
    now = time.time()
    limit = trigger.rate_limit_per_minute
    wait = rate_limit.seconds_until_allowed(trigger.pk, limit, now)
    if wait:
        response = json_error(429, f"this webhook takes at most {limit} requests a minute")
        response["Retry-After"] = str(wait)
        return response
    try:
        body = _read_body(request)
    except RequestDataTooBig:
        return json_error(413, f"the body is over the {MAX_BODY_BYTES:,} bytes a webhook takes")
    if trigger.signed:
        signature = request.headers.get(trigger.signature_header)
        secret = triggers.secret_of(trigger)
        problem = signature_problem(signature, secret, body, trigger.tolerance_seconds, now)
        if problem:
            return json_error(401, f"{problem} (header {trigger.signature_header})")
    try:
        sent = strict_json.loads(body)
    except strict_json.JsonRejected as error:
        return json_error(400, f"the body is {error}")
    try:
        input = _run_input(trigger, sent, request.headers)
        key = _idempotency_key(trigger, sent)
    except ValueError as error:
        return json_error(400, str(error))
    return _launch(request, trigger, input, key)


def _read_body(request: HttpRequest) -> bytes:
    """The raw body; RequestDataTooBig past MAX_BODY_BYTES, from Content-Length before reading
    when it is sent."""
    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        announced = 0
    if announced > MAX_BODY_BYTES:
        raise RequestDataTooBig
    body = request.body  # itself raises RequestDataTooBig past DATA_UPLOAD_MAX_MEMORY_SIZE
    if len(body) > MAX_BODY_BYTES:
        raise RequestDataTooBig
    return body


def _run_input(trigger: WebhookTrigger, sent: Any, headers: Mapping[str, str]) -> dict[str, Any]:
    """The run's input: the body itself, or the body and the headers in an envelope. The
    signature header vouches for the body and is no use to a step, so it is left out too."""
    if trigger.input_mode == WebhookTrigger.InputMode.ENVELOPE:
        hidden = PRIVATE_HEADERS | {trigger.signature_header.lower()}
        kept = {name.lower(): value for name, value in headers.items()}
        return {"body": sent, "headers": {k: v for k, v in kept.items() if k not in hidden}}
    if not isinstance(sent, dict):
        raise ValueError(f"the body must be a JSON object, not {type(sent).__name__}")
    return sent


def _idempotency_key(trigger: WebhookTrigger, sent: Any) -> str | None:
    """The launch's idempotency key: the value at the trigger's field path, under the trigger's
    own name, so it never meets an API client's keys or another trigger's events."""
    path = trigger.idempotency_path
    if not path:
        return None
    value = sent
    for name in path.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise ValueError(f"the body has no string or integer at {path}, which names the event")
    return f"webhook:{trigger.pk}:{value}"


def _launch(
    request: HttpRequest, trigger: WebhookTrigger, input: dict[str, Any], key: str | None
) -> HttpResponse:
    """Launch as the trigger's maker, who answers for its runs as for their API tokens'."""
    user = trigger.created_by
    if not (user.is_active and user.has_perm("flows.launch_flow")):
        return json_error(403, f"{user}, who made this webhook, may no longer launch runs")
    started_by = {"kind": "webhook", "webhook": trigger.pk, "name": trigger.label}
    try:
        if key is None:
            run, started = launching.launch(trigger.flow, input, user, started_by), True
        else:
            run, started = launching.launch_once(trigger.flow, input, user, key, started_by)
    except LimitReached as refusal:
        return json_error(429, str(refusal))
    except ValueError as error:  # the flow cannot run, or the key is too long
        return json_error(400, str(error))
    answer = {"flow_id": run.flow_id, "url": request.build_absolute_uri(run.get_absolute_url())}
    return JsonResponse(answer, status=202 if started else 200)
