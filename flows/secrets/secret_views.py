"""The Secrets page: everyone who may see it sees names, who changed each and when, and which
flows read it; admins set, replace and delete them. No response ever holds a value."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from flows.engine.secrets import MAX_SECRET_BYTES, SECRET_NAME_HELP, SecretError
from flows.models import Secret
from flows.secrets import vault
from flows.validators import secret_name_validator
from flows.view_helpers import HtmxHttpRequest, requires


class SecretForm(forms.Form):
    """A secret's name and value. The value is never rendered back, not even after an error."""

    name = forms.CharField(
        max_length=64, validators=[secret_name_validator], help_text=f"{SECRET_NAME_HELP}."
    )
    value = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        strip=False,
        max_length=MAX_SECRET_BYTES,
        help_text="Write-only: once saved, no page shows it again.",
    )


@require_GET
@requires("flows.view_secret")
def secret_list(request: HtmxHttpRequest) -> HttpResponse:
    return _page(request, SecretForm())


@require_POST
@requires("flows.change_secret")
def secret_save(request: HtmxHttpRequest) -> HttpResponse:
    form = SecretForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    name = form.cleaned_data["name"]
    replaced = Secret.objects.filter(name=name).exists()
    try:
        vault.set_secret(name, form.cleaned_data["value"], request.user)
    except SecretError as error:  # a value over the cap in bytes
        form.add_error("value", str(error))
        return _page(request, form, status=400)
    messages.success(request, f"Secret {name} {'replaced' if replaced else 'saved'}.")
    return redirect("flows:secret_list")


@require_POST
@requires("flows.delete_secret")
def secret_delete(request: HtmxHttpRequest, name: str) -> HttpResponse:
    vault.delete_secret(get_object_or_404(Secret, name=name), request.user)
    messages.success(request, f"Secret {name} deleted.")
    return redirect("flows:secret_list")


def _page(request: HtmxHttpRequest, form: SecretForm, status: int = 200) -> HttpResponse:
    using = vault.flows_using()
    rows = [
        (secret, using.get(secret.name, []))
        for secret in Secret.objects.select_related("changed_by")
    ]
    context = {"form": form, "rows": rows}
    return render(request, "flows/secrets.html", context, status=status)
