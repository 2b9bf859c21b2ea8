"""What every builder view shares: the typed request, access checks and lookups."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django_htmx.http import HttpResponseClientRedirect
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


def redirect_page(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """Send the browser to another page: a plain POST redirects; an htmx request is told to
    navigate, since a redirect would be followed by htmx and the page swapped into a fragment."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def render_test_result(request: HtmxHttpRequest, key: str, test: dict[str, Any]) -> HttpResponse:
    """A test run's outcome (step_tests.run_test's answer) as the fragment that replaces the
    result panel `#test-result-<key>` of the form that asked for it."""
    return render(request, "flows/_test_result.html", {"key": key, "test": test})


def login_required_page(view: View) -> View:
    """login_required that also works for htmx: an expired session sends the whole page to the
    login form (and back here after), instead of swapping the login page into a fragment."""

    @wraps(view)
    def wrapper(request: HtmxHttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.htmx and not request.user.is_authenticated:
            page = request.htmx.current_url_abs_path or request.get_full_path()
            return HttpResponseClientRedirect(redirect_to_login(page).url)
        return login_required(view)(request, *args, **kwargs)

    return wrapper


def requires(permission: str) -> Callable[[View], View]:
    """Log in first (anonymous users go to the login page), then 403 without the permission."""

    def decorate(view: View) -> View:
        return login_required_page(permission_required(permission, raise_exception=True)(view))

    return decorate
