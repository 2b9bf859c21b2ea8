"""JSON API: launch a run, read a run. Authenticated by per-user API token, never by session.

Errors are JSON too, `{"error": "..."}`: 401 bad or missing token (with the WWW-Authenticate
challenge of RFC 6750), 403 missing permission, 404 unknown flow or run, 400 bad input,
405 wrong method, 413 a body over the request cap (DATA_UPLOAD_MAX_MEMORY_SIZE), 503 Redis
unreachable (flows/middleware.py). A run Redis no longer holds is read from the archive.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from flows.definitions import strict_json
from flows.engine.concurrency import LimitReached
from flows.engine.state import FlowState, StepState
from flows.json_errors import json_error
from flows.models import ApiToken, FlowDefinition
from flows.runs import launching
from flows.runs.records import load_run

ApiView = Callable[..., HttpResponse]

API = {"kind": "api"}
# Runs one batch call may launch: past this, a client should split its batch.
MAX_BATCH_INPUTS = 1000
BAD_TOKEN = "missing or invalid API token: send the header 'Authorization: Bearer <token>'"


def _unauthorized(token_sent: bool) -> JsonResponse:
    response = json_error(401, BAD_TOKEN)
    # RFC 6750: name the scheme, and say when a token was sent but is not valid.
    challenge = 'Bearer realm="Flowsite"'
    response["WWW-Authenticate"] = challenge + (', error="invalid_token"' if token_sent else "")
    return response


def api_view(method: str, permission: str) -> Callable[[ApiView], ApiView]:
    """Check method, bearer token and permission before the view runs; CSRF does not apply
    because no cookie authenticates these requests."""

    def decorate(view: ApiView) -> ApiView:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method != method:
                response = json_error(405, f"use {method}")
                response["Allow"] = method
                return response
            scheme, _, key = request.headers.get("Authorization", "").partition(" ")
            bearer = scheme.lower() == "bearer" and bool(key.strip())
            token = ApiToken.authenticate(key.strip()) if bearer else None
            if token is None:
                return _unauthorized(token_sent=bearer)
            request.user = token.user
            if not token.user.has_perm(permission):
                return json_error(403, f"your account lacks the permission {permission}")
            try:
                return view(request, *args, **kwargs)
            except RequestDataTooBig:  # raised when the view reads request.body
                limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
                return json_error(413, f"the body is over the {limit:,} bytes a request may have")

        return wrapper

    return decorate


@api_view("POST", "flows.launch_flow")
def launch_run(request: HttpRequest, name: str) -> HttpResponse:
    """One run for a JSON object body; a run per input for `{"inputs": [{...}, ...]}` (a body
    whose only key is "inputs": a single run's input with that one key is sent as a batch of
    one). An `Idempotency-Key` header makes a single launch idempotent: the same key for the
    same flow within FLOWS_IDEMPOTENCY_SECONDS answers 200 with the run it started."""
    definition = FlowDefinition.objects.filter(name=name).first()
    if definition is None:
        return json_error(404, f"no flow named {name!r}")
    try:
        body = strict_json.loads(request.body or b"{}")
    except strict_json.JsonRejected as error:
        return json_error(400, f"the body is {error}")
    if not isinstance(body, dict):
        return json_error(400, f"the input must be a JSON object, not {type(body).__name__}")
    key = request.headers.get("Idempotency-Key")
    if set(body) == {"inputs"}:
        if key is not None:
            return json_error(400, "an Idempotency-Key names one run: not for a batch of inputs")
        return _launch_batch(request, definition, body)
    try:
        if key is None:
            run, started = launching.launch(definition, body, request.user, API), True
        else:
            run, started = launching.launch_once(definition, body, request.user, key, API)
    except LimitReached as refusal:
        return json_error(429, str(refusal))
    except ValueError as error:
        return json_error(400, str(error))
    # A launch answered by an earlier one with the same key: 200 and that run, as it was.
    return JsonResponse(_launched_json(request, run.flow_id), status=202 if started else 200)


def _launch_batch(
    request: HttpRequest, definition: FlowDefinition, body: dict[str, Any]
) -> HttpResponse:
    inputs = body["inputs"]
    if not isinstance(inputs, list) or not all(isinstance(one, dict) for one in inputs):
        return json_error(400, "'inputs' must be a list of JSON objects, one per run")
    if not 1 <= len(inputs) <= MAX_BATCH_INPUTS:
        return json_error(
            400, f"'inputs' must hold 1 to {MAX_BATCH_INPUTS} inputs per call, not {len(inputs)}"
        )
    try:
        flow_ids = launching.launch_many(definition, inputs, request.user, API)
    except LimitReached as refusal:
        started = [_launched_json(request, flow_id) for flow_id in refusal.started]
        return JsonResponse({"error": str(refusal), "runs": started}, status=429)
    except ValueError as error:
        return json_error(400, str(error))
    return JsonResponse({"runs": [_launched_json(request, f) for f in flow_ids]}, status=202)


def _launched_json(request: HttpRequest, flow_id: str) -> dict[str, str]:
    return {
        "flow_id": flow_id,
        "url": request.build_absolute_uri(reverse("flows:run_detail", args=[flow_id])),
        "status_url": request.build_absolute_uri(reverse("flows:api_run_state", args=[flow_id])),
    }


@api_view("GET", "flows.view_runrecord")
def run_state(request: HttpRequest, flow_id: str) -> HttpResponse:
    """The run as Redis holds it, else as archived (the run page's source, in the same shape)."""
    run = load_run(flow_id)
    if run is None:
        return json_error(404, f"no run {flow_id!r}")
    return JsonResponse({**_flow_json(run.state), "steps": [_step_json(s) for s in run.steps]})


def _time(value: Any) -> str | None:
    return value.isoformat() if value else None


def _flow_json(state: FlowState) -> dict[str, Any]:
    return {
        "flow_id": state.flow_id,
        "name": state.name,
        "status": str(state.status),
        "current_step": state.current_step,
        "completed_steps": state.completed_steps,
        "running_steps": state.running_steps,
        "skipped_steps": state.skipped_steps,
        "input": state.input,
        "error": state.error,
        "meta": state.meta,
        "created_at": _time(state.created_at),
        "started_at": _time(state.started_at),
        "finished_at": _time(state.finished_at),
    }


def _step_json(step: StepState) -> dict[str, Any]:
    return {
        "step_id": step.step_id,
        "status": str(step.status),
        "attempt_count": step.attempt_count,
        "output": step.output,
        "error": step.error,
        "logs": step.logs,
        "started_at": _time(step.started_at),
        "finished_at": _time(step.finished_at),
    }
