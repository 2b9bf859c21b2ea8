"""Step editing on the flow page: add, edit in place, delete, reorder, live check, test run.

Each view answers htmx with the fragment that changed and a plain POST with a redirect (or the
full step page when there are errors to show), so the builder works without JavaScript.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from flows import engine_client, step_access
from flows.definitions import editing, step_tests
from flows.definitions.forms import StepForm, StepTestForm
from flows.json_display import pretty_json
from flows.models import FlowDefinition, StepDefinition
from flows.validators import condition_problem, script_problem
from flows.view_helpers import (
    HtmxHttpRequest,
    get_flow,
    get_step,
    render_test_result,
    requires,
)


def _key(step: StepDefinition | None) -> str:
    """Tells apart the element ids of several step forms open on one page."""
    return str(step.pk) if step else "new"


def _forms(
    flow: FlowDefinition, step: StepDefinition | None, data: Any = None
) -> tuple[StepForm, StepTestForm]:
    key = _key(step)
    form = StepForm(data, instance=step, flow=flow, auto_id=f"id_step_{key}_%s")
    initial = _samples(flow, step) if data is None else None
    test_form = StepTestForm(data, auto_id=f"id_test_{key}_%s", initial=initial)
    return form, test_form


def _samples(flow: FlowDefinition, step: StepDefinition | None) -> dict[str, str]:
    """Sample data for a test run: the latest run's input and earlier outputs, when there is one."""
    earlier = flow.steps.all() if step is None else flow.steps.filter(position__lt=step.position)
    names = list(earlier.values_list("name", flat=True))
    last_run = flow.runs.values_list("flow_id", flat=True).first()
    run_input, outputs = engine_client.run_samples(last_run) if last_run else ({}, {})
    sample_steps = {name: outputs.get(name) for name in names}
    return {
        "sample_input": pretty_json(run_input),
        "sample_steps": pretty_json(sample_steps),
    }


def _render_form(
    request: HtmxHttpRequest,
    flow: FlowDefinition,
    step: StepDefinition | None,
    forms: tuple[StepForm, StepTestForm],
    test: dict[str, Any] | None = None,
) -> HttpResponse:
    """The step form: as a fragment for htmx, or on its own page without JavaScript."""
    context = {"flow": flow, "step": step, "key": _key(step), "form": forms[0]}
    context |= {"test_form": forms[1], "test": test}
    template = "flows/_step_form.html" if request.htmx else "flows/step_page.html"
    return render(request, template, context)


def _saved(
    request: HtmxHttpRequest, step: StepDefinition, created: bool, others_changed: bool = False
) -> HttpResponse:
    step.flow.record_change(request.user)
    if not request.htmx:
        messages.success(request, f"Step {step.name} saved.")
        return redirect(f"{step.flow.get_absolute_url()}#step-{step.pk}")
    if others_changed:
        # A rename shows in the rows of the steps that run after it: swap the whole list.
        return reswap(retarget(_step_list(request, step.flow), "#step-list"), "outerHTML")
    response = render(
        request, "flows/_step_saved.html", {"flow": step.flow, "step": step, "created": created}
    )
    if created:
        return reswap(retarget(response, "#step-list"), "beforeend")
    return reswap(retarget(response, f"#step-{step.pk}"), "outerHTML")


@require_http_methods(["GET", "POST"])
@requires("flows.add_stepdefinition")
def step_new(request: HtmxHttpRequest, name: str) -> HttpResponse:
    flow = get_flow(name)
    forms = _forms(flow, None, request.POST or None)
    if request.method == "POST" and forms[0].is_valid():
        forms[0].instance.position = editing.next_position(flow)
        forms[0].save_step()
        return _saved(request, forms[0].instance, created=True)
    return _render_form(request, flow, None, forms)


@require_http_methods(["GET", "POST"])
@requires("flows.change_stepdefinition")
def step_edit(request: HtmxHttpRequest, name: str, step_id: int) -> HttpResponse:
    step = get_step(name, step_id)
    forms = _forms(step.flow, step, request.POST or None)
    if request.method == "POST" and forms[0].is_valid():
        renamed = forms[0].save_step()
        return _saved(request, forms[0].instance, created=False, others_changed=bool(renamed))
    return _render_form(request, step.flow, step, forms)


@require_GET
@requires("flows.view_stepdefinition")
def step_row(request: HtmxHttpRequest, name: str, step_id: int) -> HttpResponse:
    """The step as listed (what "Cancel" puts back in place of its form)."""
    step = get_step(name, step_id)
    if not request.htmx:
        return redirect(f"{step.flow.get_absolute_url()}#step-{step.pk}")
    return render(request, "flows/_step.html", {"flow": step.flow, "step": step})


@require_http_methods(["GET", "POST"])
@requires("flows.delete_stepdefinition")
def step_delete(request: HtmxHttpRequest, name: str, step_id: int) -> HttpResponse:
    step = get_step(name, step_id)
    if request.method == "GET":
        return render(request, "flows/confirm_delete.html", {"thing": f"step {step.name}"})
    rewired = editing.delete_step(step)
    step.flow.record_change(request.user)
    if request.htmx and rewired:
        # Other rows changed too (what they run after): the whole list is swapped.
        return reswap(retarget(_step_list(request, step.flow), "#step-list"), "outerHTML")
    if request.htmx:
        # The step's row is swapped for nothing; only the version badge changes elsewhere.
        return render(request, "flows/_flow_version.html", {"flow": step.flow, "oob": True})
    messages.success(request, _deleted_message(step, rewired))
    return redirect(step.flow.get_absolute_url())


def _deleted_message(step: StepDefinition, rewired: list[StepDefinition]) -> str:
    message = f"Step {step.name} deleted."
    for other in rewired:
        after = f"after {', '.join(other.after)}" if other.after else "at the start of the run"
        message += f" {other.name} now runs {after}."
    return message


@require_POST
@requires("flows.change_stepdefinition")
def step_move(request: HtmxHttpRequest, name: str, step_id: int) -> HttpResponse:
    step = get_step(name, step_id)
    offset = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
    if offset is None:
        return HttpResponseBadRequest("direction must be up or down")
    try:
        editing.move_step(step, offset, request.user)
    except editing.StepsMisordered as refused:
        return _step_list(request, step.flow, refused, problem_at=step.pk)
    return _step_list(request, step.flow)


@require_POST
@requires("flows.change_stepdefinition")
def step_reorder(request: HtmxHttpRequest, name: str) -> HttpResponse:
    flow = get_flow(name)
    try:
        order = [int(step_id) for step_id in request.POST.getlist("order")]
        editing.reorder_steps(flow, order, request.user)
    except editing.StepsMisordered as refused:
        return _step_list(request, flow, refused, problem_at=refused.step_id)
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    return _step_list(request, flow)


def _step_list(
    request: HtmxHttpRequest,
    flow: FlowDefinition,
    refused: editing.StepsMisordered | None = None,
    problem_at: int | None = None,
) -> HttpResponse:
    """The list as it now is; with a refused reorder, unchanged and saying why under the step
    `problem_at` (the one moved, or for a drag the one that would be misplaced)."""
    if not request.htmx:
        if refused:
            messages.error(request, str(refused))
        return redirect(flow.get_absolute_url())
    context = {"flow": flow, "steps": flow.steps.all(), "oob_version": True}
    if refused:
        context |= {"problem": str(refused), "problem_step_id": problem_at}
    return render(request, "flows/_step_list.html", context)


@require_POST
@requires("flows.view_stepdefinition")
def step_check(request: HtmxHttpRequest, name: str, step_id: int | None = None) -> HttpResponse:
    """Live check while typing: where the script (or, with check=condition, the condition)
    stops parsing, if it does."""
    get_flow(name)
    context = {"key": str(step_id) if step_id else "new"}
    if request.POST.get("check") == "condition":
        context |= {"part": "condition", "problem": condition_problem(request.POST.get("when", ""))}
    else:
        script = request.POST.get("script", "")
        context["problem"] = script_problem(script) or step_access.script_problem(script)
    return render(request, "flows/_script_check.html", context)


@require_POST
@requires("flows.test_step")
def step_test(request: HtmxHttpRequest, name: str, step_id: int | None = None) -> HttpResponse:
    """Run the script as typed (saved or not) once in the sandbox, without creating a run."""
    flow = get_flow(name)
    step = get_step(name, step_id) if step_id else None
    forms = _forms(flow, step, request.POST)
    test = _run_test(request.user.pk, *forms)
    if request.htmx:
        return render_test_result(request, _key(step), test)
    return _render_form(request, flow, step, forms, test)


def _run_test(user_id: int, form: StepForm, test_form: StepTestForm) -> dict[str, Any]:
    form.is_valid()
    problems = [e for field in ("script", "timeout") for e in form.errors.get(field, [])]
    if not test_form.is_valid():
        problems += [e for errors in test_form.errors.values() for e in errors]
    if problems:
        return {"problems": problems}
    return step_tests.run_test(
        user_id,
        form.cleaned_data["script"],
        form.cleaned_data["timeout"],
        test_form.cleaned_data["sample_input"],
        test_form.cleaned_data["sample_steps"],
    )
