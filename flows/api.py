"""JSON API: launch a run, read a run. Authenticated by per-user API token, never by session.

Errors are JSON too, `{"error": "..."}`: 401 bad or missing token (with the WWW-Authenticate
challenge of RFC 6750), 403 missing permission, 404 unknown flow or run, 400 bad input,
405 wrong method, 413 a body over the request cap (DATA_UPLOAD_MAX_MEMORY_SIZE).
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

from flows import definitions, engine_client, strict_json
from flows.engine.state import FlowState, StepState
from flows.engine.store import RunNotFound
from flows.models import ApiToken, FlowDefinition

ApiView = Callable[..., HttpResponse]

BAD_TOKEN = "missing or invalid API token: send the header 'Authorization: Bearer <token>'"


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _unauthorized(token_sent: bool) -> JsonResponse:
    response = _error(401, BAD_TOKEN)
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
                response = _error(405, f"use {method}")
                response["Allow"] = method
                return response
            scheme, _, key = request.headers.get("Authorization", "").partition(" ")
            bearer = scheme.lower() == "bearer" and bool(key.strip())
            token = ApiToken.authenticate(key.strip()) if bearer else None
            if token is None:
                return _unauthorized(token_sent=bearer)
            request.user = token.user
            if not token.user.has_perm(permission):
                return _error(403, f"your account lacks the permission {permission}")
            try:
                return view(request, *args, **kwargs)
            except RequestDataTooBig:  # raised when the view reads request.body
                limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
                return _error(413, f"the body is over the {limit:,} bytes a request may have")

        return wrapper

    return decorate


@api_view("POST", "flows.launch_flow")
def launch_run(request: HttpRequest, name: str) -> HttpResponse:
    definition = FlowDefinition.objects.filter(name=name).first()
    if definition is None:
        return _error(404, f"no flow named {name!r}")
    try:
        input = strict_json.loads(request.body or b"{}")
    except strict_json.JsonRejected as error:
        return _error(400, f"the body is {error}")
    if not isinstance(input, dict):
        return _error(400, f"the input must be a JSON object, not {type(input).__name__}")
    try:
        run = definitions.launch(definition, input, request.user)
    except ValueError as error:
        return _error(400, str(error))
    return JsonResponse(
        {
            "flow_id": run.flow_id,
            "url": request.build_absolute_uri(run.get_absolute_url()),
            "status_url": request.build_absolute_uri(
                reverse("flows:api_run_state", args=[run.flow_id])
            ),
        },
        status=202,
    )


@api_view("GET", "flows.view_runrecord")
def run_state(request: HttpRequest, flow_id: str) -> HttpResponse:
    try:
        run = engine_client.read_run(flow_id)
    except RunNotFound:
        return _error(404, f"no run {flow_id!r}")
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
