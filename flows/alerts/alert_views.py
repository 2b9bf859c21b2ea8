"""The Alerts page (admins): where failed runs are told of, per flow or for every flow, and
every alert sent with its outcome: sent, waiting to be retried (and why), or given up."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from flows.models import AlertDestination, FailureAlert
from flows.view_helpers import HtmxHttpRequest, requires

LISTED_ALERTS = 100


class DestinationForm(forms.ModelForm):
    class Meta:
        model = AlertDestination
        fields = ["flow", "kind", "target"]
        labels = {"flow": "Flow", "kind": "Send by", "target": "To"}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["flow"].empty_label = "Every flow"


@require_GET
@requires("flows.view_alertdestination")
def alert_list(request: HtmxHttpRequest) -> HttpResponse:
    return _page(request, DestinationForm())


@require_POST
@requires("flows.add_alertdestination")
def destination_add(request: HtmxHttpRequest) -> HttpResponse:
    form = DestinationForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    destination = form.save(commit=False)
    destination.created_by = request.user
    destination.save()
    messages.success(request, f"Failures will be sent by {destination}.")
    return redirect("flows:alert_list")


@require_POST
@requires("flows.change_alertdestination")
def destination_toggle(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    destination = get_object_or_404(AlertDestination, pk=pk)
    destination.enabled = not destination.enabled
    destination.save(update_fields=["enabled"])
    state = "on" if destination.enabled else "off"
    messages.success(request, f"Alerts by {destination} turned {state}.")
    return redirect("flows:alert_list")


@require_POST
@requires("flows.delete_alertdestination")
def destination_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    destination = get_object_or_404(AlertDestination, pk=pk)
    destination.delete()
    messages.success(request, f"Alerts by {destination} removed.")
    return redirect("flows:alert_list")


def _page(request: HtmxHttpRequest, form: DestinationForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "destinations": AlertDestination.objects.select_related("flow"),
        "alerts": FailureAlert.objects.select_related("destination")[:LISTED_ALERTS],
    }
    return render(request, "flows/alerts.html", context, status=status)
