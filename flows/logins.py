"""Login throttling, the site's side of django-axes: what a locked-out visitor sees, and the audit
entry a lockout leaves. The limits are in settings (AXES_FAILURE_LIMIT, AXES_COOLOFF_TIME)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from flows.models import AuditEntry

USERNAME_MAX_LENGTH = AuditEntry._meta.get_field("username").max_length


def locked_out(request: HttpRequest, *_axes_arguments: object) -> HttpResponse:
    """The login page again, saying why the login was refused (AXES_LOCKOUT_CALLABLE).

    The form is unbound: validating it would try to authenticate, and count, once more. Axes
    passes the original response and the credentials after the request (their order differs
    between its sync and async paths); neither is needed.
    """
    minutes = round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    context = {
        "form": form,
        "next": request.POST.get("next", ""),
        "lockout": (
            "Too many failed logins for this account or from this address: logging in is "
            f"refused for up to {minutes} minutes, unless whoever runs this Flowsite lifts it."
        ),
    }
    return render(request, "registration/login.html", context, status=429)


def record_lockout(
    sender: object, request: HttpRequest, username: str | None, ip_address: str | None, **_: object
) -> None:
    """Audit a lockout as it begins (connected to axes' user_locked_out).

    Axes signals again at every try refused during the lockout (with no count), so only the
    failure that reached the limit is recorded. Two failures landing at the same moment could
    both read a count past the limit and leave no entry; the attempt stays in axes' table and
    the failures in the log.
    """
    if getattr(request, "axes_failures_since_start", None) != settings.AXES_FAILURE_LIMIT:
        return
    username = (username or "")[:USERNAME_MAX_LENGTH]
    users = get_user_model().objects
    user = users.filter(**{users.model.USERNAME_FIELD: username}).first() if username else None
    AuditEntry.objects.create(
        action=AuditEntry.Action.LOGIN_LOCKOUT,
        user=user,
        username=username,
        details={"ip_address": ip_address},
    )
