"""What every builder view shares: the typed request and flow lookup."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django_htmx.middleware import HtmxDetails

from flows.models import FlowDefinition, StepDefinition

View = Callable[..., HttpResponse]


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def get_flow(name: str) -> FlowDefinition:
    return get_object_or_404(FlowDefinition, name=name)


def get_step(name: str, step_id: int) -> StepDefinition:
    return get_object_or_404(
        StepDefinition.objects.select_related("flow"), pk=step_id, flow__name=name
    )


def requires(permission: str) -> Callable[[View], View]:
    """Log in first (anonymous users go to the login page), then 403 without the permission."""

    def decorate(view: View) -> View:
        return login_required(permission_required(permission, raise_exception=True)(view))

    return decorate
