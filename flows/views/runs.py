"""Launching runs and looking at them. The live run page comes with the monitoring issue."""

from __future__ import annotations

import json

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from flows import definitions, engine_client
from flows.engine.store import RunNotFound
from flows.forms import LaunchForm
from flows.models import FlowDefinition, FlowRun
from flows.views.common import HtmxHttpRequest, get_flow, requires

RECENT_RUNS = 50


@require_http_methods(["GET", "POST"])
@requires("flows.launch_flow")
def launch(request: HtmxHttpRequest, name: str) -> HttpResponse:
    flow = get_flow(name)
    form = LaunchForm(
        request.POST or None, initial=_last_input(flow) if request.method == "GET" else None
    )
    if request.method == "POST" and form.is_valid():
        try:
            run = definitions.launch(flow, form.cleaned_data["input"], request.user)
        except ValueError as error:
            form.add_error(None, f"This flow cannot run yet: {error}.")
        else:
            url = run.get_absolute_url()
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    template = "flows/launch.html#launch-form" if request.htmx else "flows/launch.html"
    return render(request, template, {"flow": flow, "form": form})


def _last_input(flow: FlowDefinition) -> dict[str, str]:
    """Start from the input of the flow's latest run: relaunching is the common case."""
    last_run = flow.runs.values_list("flow_id", flat=True).first()
    if last_run is None:
        return {}
    run_input, _ = engine_client.run_samples(last_run)
    return {"input": json.dumps(run_input, indent=2)}


@require_GET
@requires("flows.view_flowrun")
def run_detail(request: HtmxHttpRequest, flow_id: str) -> HttpResponse:
    try:
        run = engine_client.read_run(flow_id)
    except RunNotFound:
        raise Http404("No such run: it never existed or has expired.") from None
    record = FlowRun.objects.select_related("definition").filter(flow_id=flow_id).first()
    return render(request, "flows/run.html", {"run": run, "record": record})


@require_GET
@requires("flows.view_flowrun")
def run_list(request: HtmxHttpRequest) -> HttpResponse:
    runs = list(FlowRun.objects.select_related("definition", "launched_by")[:RECENT_RUNS])
    statuses = engine_client.run_statuses([run.flow_id for run in runs])
    for run in runs:
        run.status = statuses.get(run.flow_id, "")
    return render(request, "flows/runs.html", {"runs": runs})
