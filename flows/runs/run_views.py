"""Launching runs and looking at them: the run page, the Runs list and the dashboard."""

from __future__ import annotations

from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from flows import engine_client
from flows.definitions.forms import LaunchForm
from flows.engine.concurrency import LimitReached
from flows.engine.statuses import FlowStatus
from flows.json_display import pretty_json
from flows.models import FlowDefinition
from flows.runs import history, launching
from flows.runs.date_range import date_range_from_query, field_value
from flows.runs.fragments import run_context, run_graph
from flows.runs.groups import Abilities
from flows.runs.pages import run_audit
from flows.runs.records import load_run
from flows.runs.runs_list import filter_from_query
from flows.validators import sentence
from flows.view_helpers import HtmxHttpRequest, get_flow, redirect_page, requires


@require_http_methods(["GET", "POST"])
@requires("flows.launch_flow")
def launch(request: HtmxHttpRequest, name: str) -> HttpResponse:
    flow = get_flow(name)
    form = LaunchForm(
        request.POST or None, initial=_last_input(flow) if request.method == "GET" else None
    )
    if request.method == "POST" and form.is_valid():
        try:
            run = launching.launch(flow, form.cleaned_data["input"], request.user)
        except LimitReached as refusal:
            form.add_error(None, f"Not launched: {sentence(refusal)}.")
        except ValueError as error:
            form.add_error(None, f"This flow cannot run yet: {error}.")
        else:
            return redirect_page(request, run.get_absolute_url())
    template = "flows/launch.html#launch-form" if request.htmx else "flows/launch.html"
    return render(request, template, {"flow": flow, "form": form})


def _last_input(flow: FlowDefinition) -> dict[str, str]:
    """Start from the input of the flow's latest run: relaunching is the common case."""
    last_run = flow.runs.values_list("flow_id", flat=True).first()
    if last_run is None:
        return {}
    run_input, _ = engine_client.run_samples(last_run)
    return {"input": pretty_json(run_input)}


@require_GET
@requires("flows.view_runrecord")
def run_detail(request: HtmxHttpRequest, flow_id: str) -> HttpResponse:
    """The run from Redis while it is there, else from the archive; live over /ws/runs/<id>/."""
    run = load_run(flow_id)
    if run is None:
        raise Http404("No such run.")
    context = run_context(run, Abilities.of(request.user))
    context["audit"] = run_audit(flow_id)
    context.update(run_graph(run))
    return render(request, "flows/run.html", context)


@require_GET
@requires("flows.view_runrecord")
def run_list(request: HtmxHttpRequest) -> HttpResponse:
    run_filter = filter_from_query(request.GET)
    try:
        runs, next_cursor = history.runs_page(run_filter)
    except history.BadCursor:
        return HttpResponseBadRequest("That page of runs does not exist: start from the newest.")
    context = {
        "runs": runs,
        "next_cursor": next_cursor,
        "filter": run_filter,
        "date_errors": date_range_from_query(request.GET).errors,
        "from_value": field_value(run_filter.since) or request.GET.get("from", ""),
        "to_value": field_value(run_filter.until) or request.GET.get("to", ""),
        "live_query": request.GET.urlencode(),
        "flow_names": FlowDefinition.objects.values_list("name", flat=True),
        "statuses": [status.value for status in FlowStatus],
        "triggers": launching.TRIGGER_KINDS,
        "can_retry": request.user.has_perm("flows.retry_step"),
    }
    return render(request, "flows/runs.html", context)


@require_GET
@requires("flows.view_runrecord")
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "flows/dashboard.html", history.dashboard())
