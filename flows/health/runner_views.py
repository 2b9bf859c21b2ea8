"""The Runners page: every runner by its heartbeat, alive or gone.

The table polls itself (htmx, every two seconds) rather than following the live bridge: a
heartbeat is a state rewritten in place, not an event, and a runner becomes gone by *not*
beating, which no event could announce. One small read per poll, of one hash.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from flows import engine_client
from flows.engine.heartbeats import GONE_AFTER_LEASES
from flows.view_helpers import HtmxHttpRequest, requires


@require_GET
@requires("flows.view_runrecord")
def runner_list(request: HtmxHttpRequest) -> HttpResponse:
    """Who may see runs may see what runs them."""
    template = "flows/runners.html#runner-table" if request.htmx else "flows/runners.html"
    context = {"runners": engine_client.runners(), "gone_after_leases": GONE_AFTER_LEASES}
    return render(request, template, context)
