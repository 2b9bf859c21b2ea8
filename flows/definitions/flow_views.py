"""Flow pages: list, create, edit, duplicate, delete, export and import."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from flows import engine_client
from flows.definitions import editing, portable
from flows.definitions.forms import FlowForm, ImportForm
from flows.engine.builder import Flow
from flows.graph_layout import drawn_nodes, lay_out_flow
from flows.models import FlowDefinition, RunRecord, StepDefinition
from flows.view_helpers import HtmxHttpRequest, get_flow, redirect_page, requires

FLOWS_PER_PAGE = 50


@require_GET
@requires("flows.view_flowdefinition")
def flow_list(request: HtmxHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    last_run = RunRecord.objects.filter(definition=OuterRef("pk")).order_by(
        "-created_at", "-flow_id"
    )
    flows = FlowDefinition.objects.annotate(
        step_count=Count("steps"), last_run_id=Subquery(last_run.values("flow_id")[:1])
    ).order_by("name")
    if query:
        flows = flows.filter(Q(name__icontains=query) | Q(description__icontains=query))
    page = Paginator(flows, FLOWS_PER_PAGE).get_page(request.GET.get("page"))
    statuses = engine_client.run_statuses([f.last_run_id for f in page if f.last_run_id])
    for flow in page:
        flow.last_run_status = statuses.get(flow.last_run_id, "")
    template = "flows/list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#flow-table"
    return render(request, template, {"page": page, "query": query})


@require_http_methods(["GET", "POST"])
@requires("flows.add_flowdefinition")
def flow_new(request: HtmxHttpRequest) -> HttpResponse:
    form = FlowForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.created_by = form.instance.updated_by = request.user
        definition = form.save()
        messages.success(request, f"Flow {definition.name} created: now add its steps.")
        return redirect_page(request, definition.get_absolute_url())
    template = "flows/new.html#flow-form" if request.htmx else "flows/new.html"
    return render(request, template, {"form": form})


@require_GET
@requires("flows.view_flowdefinition")
def flow_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    definition = get_flow(name)
    return _editor(request, definition, FlowForm(instance=definition))


@require_POST
@requires("flows.change_flowdefinition")
def flow_save(request: HtmxHttpRequest, name: str) -> HttpResponse:
    definition = get_flow(name)
    form = FlowForm(request.POST, instance=definition)
    if not form.is_valid():
        if request.htmx:
            return render(request, "flows/_flow_form.html", {"form": form, "flow": definition})
        return _editor(request, definition, form)
    renamed = "name" in form.changed_data
    if form.has_changed():
        form.save()
        definition.record_change(request.user)
    if request.htmx and not renamed:
        context = {"form": FlowForm(instance=definition), "flow": definition, "saved": True}
        return render(request, "flows/_flow_form.html", context)
    messages.success(request, f"Flow {definition.name} saved (version {definition.version}).")
    return redirect_page(request, definition.get_absolute_url())


def _editor(request: HtmxHttpRequest, definition: FlowDefinition, form: FlowForm) -> HttpResponse:
    steps = list(definition.steps.all())
    return render(
        request,
        "flows/edit.html",
        {"flow": definition, "form": form, "steps": steps, **_graph(definition, steps)},
    )


@require_GET
@requires("flows.view_flowdefinition")
def flow_graph(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The editor's graph again, which it asks for after each change to its steps."""
    definition = get_flow(name)
    context = {"flow": definition, **_graph(definition, list(definition.steps.all()))}
    return render(request, "flows/_flow_graph.html", context)


def _graph(definition: FlowDefinition, steps: list[StepDefinition]) -> dict[str, Any]:
    """The steps as saved, unchecked (a flow being built may not run yet), each node linking
    to its step in the list."""
    flow = Flow(definition.name, tuple(step.to_step() for step in steps))
    layout = lay_out_flow(flow)
    anchors = {step.name: f"step-{step.pk}" for step in steps}
    return {"graph": layout, "graph_nodes": drawn_nodes(layout, anchors, statuses={})}


@require_POST
@requires("flows.add_flowdefinition")
def flow_duplicate(request: HtmxHttpRequest, name: str) -> HttpResponse:
    copy = editing.duplicate(get_flow(name), request.user)
    messages.success(request, f"Duplicated {name} as {copy.name}.")
    return redirect_page(request, copy.get_absolute_url())


@require_http_methods(["GET", "POST"])
@requires("flows.delete_flowdefinition")
def flow_delete(request: HtmxHttpRequest, name: str) -> HttpResponse:
    definition = get_flow(name)
    if request.method == "GET":
        return render(request, "flows/confirm_delete.html", {"thing": f"flow {name}"})
    active = engine_client.active_run_ids(list(definition.runs.values_list("flow_id", flat=True)))
    if active:
        messages.error(
            request,
            f"Flow {name} has {len(active)} active run(s): wait for them to finish or cancel "
            "them, then delete it.",
        )
        return redirect_page(request, definition.get_absolute_url())
    definition.delete()
    messages.success(request, f"Flow {name} deleted.")
    return redirect_page(request, reverse("flows:flow_list"))


@require_GET
@requires("flows.view_flowdefinition")
def flow_export_json(request: HtmxHttpRequest, name: str) -> HttpResponse:
    definition = get_flow(name)
    body = json.dumps(portable.export_dict(definition), indent=2) + "\n"
    return _download(body, "application/json", f"{definition.name}.json")


@require_GET
@requires("flows.view_flowdefinition")
def flow_export_python(request: HtmxHttpRequest, name: str) -> HttpResponse:
    definition = get_flow(name)
    return _download(portable.export_python(definition), "text/x-python", f"{definition.name}.py")


def _download(body: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_http_methods(["GET", "POST"])
@requires("flows.add_flowdefinition")
def flow_import(request: HtmxHttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        flow, description = form.cleaned_data["flow"]
        definition = editing.create_from_flow(flow, description=description, user=request.user)
        messages.success(request, f"Imported flow {definition.name}.")
        return redirect_page(request, definition.get_absolute_url())
    template = "flows/import.html#import-form" if request.htmx else "flows/import.html"
    return render(request, template, {"form": form})
