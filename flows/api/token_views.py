"""Each user's API tokens: create (shown once), list, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from flows.definitions.forms import TokenForm
from flows.models import ApiToken
from flows.view_helpers import HtmxHttpRequest, login_required_page


@require_http_methods(["GET", "POST"])
@login_required_page
def token_list(request: HtmxHttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        # Rendered rather than redirected: the key is shown this once and stored nowhere.
        _, new_key = ApiToken.issue(request.user, form.cleaned_data["name"])
        form = TokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    context = {"form": form, "tokens": tokens, "new_key": new_key}
    return render(request, "flows/tokens.html", context)


@require_POST
@login_required_page
def token_revoke(request: HtmxHttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.delete()
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("flows:token_list")
