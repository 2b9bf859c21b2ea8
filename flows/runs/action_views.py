"""Acting on runs: retry a failed step, fix and resume it, cancel, bulk retry.

Plain POSTs that redirect back to the run page (so they work without JavaScript); from htmx
the browser is sent there. The engine makes each action idempotent under double clicks.
"""

from __future__ import annotations

from dataclasses import replace

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from flows import engine_client
from flows.definitions import step_tests
from flows.definitions.forms import FixStepForm
from flows.engine.builder import Step
from flows.engine.store import ActionResult, RunNotFound
from flows.engine_client import RunSnapshot
from flows.runs import actions
from flows.view_helpers import HtmxHttpRequest, redirect_page, render_test_result, requires


def _back_to_run(request: HtmxHttpRequest, flow_id: str, result: ActionResult) -> HttpResponse:
    (messages.success if result.done else messages.info)(request, result.message.capitalize())
    return redirect_page(request, reverse("flows:run_detail", args=[flow_id]))


def _live_run(flow_id: str) -> RunSnapshot:
    try:
        return engine_client.read_run(flow_id)
    except RunNotFound:
        raise Http404("This run is no longer live: it can only be looked at.") from None


@require_POST
@requires("flows.retry_step")
def step_retry(request: HtmxHttpRequest, flow_id: str, step_id: str) -> HttpResponse:
    try:
        result = actions.retry(flow_id, step_id, request.user)
    except RunNotFound:
        raise Http404("This run is no longer live: it can only be looked at.") from None
    return _back_to_run(request, flow_id, result)


@require_POST
@requires("flows.cancel_run")
def run_cancel(request: HtmxHttpRequest, flow_id: str) -> HttpResponse:
    _live_run(flow_id)
    return _back_to_run(request, flow_id, actions.cancel(flow_id, request.user))


@require_POST
@requires("flows.retry_step")
def runs_retry(request: HtmxHttpRequest) -> HttpResponse:
    flow_ids = request.POST.getlist("flow_id")
    results = actions.retry_failed_runs(flow_ids, request.user)
    done = sum(result.done for result in results)
    messages.success(request, f"Retried {done} of {len(flow_ids)} selected runs.")
    for result in results:
        if not result.done:
            messages.info(request, result.message.capitalize())
    return redirect(reverse("flows:run_list") + "?status=failed")


@require_http_methods(["GET", "POST"])
@requires("flows.retry_step")
def step_fix(request: HtmxHttpRequest, flow_id: str, step_id: str) -> HttpResponse:
    """Edit a failed step as the run has it, test it against what the failed attempt saw, and
    resume the run with it."""
    run = _live_run(flow_id)
    try:
        step = run.state.definition.step(step_id)
    except KeyError:
        raise Http404("The run has no such step.") from None
    initial = {"script": step.script, "timeout": step.timeout, "retries": step.retries}
    form = FixStepForm(request.POST or None, initial=initial)
    seen_input, seen_outputs = actions.what_the_step_saw(run, step_id)
    test = None
    if request.method == "POST" and form.is_valid():
        # Only what the form edits changes: the step keeps what it runs after, its condition
        # and its backoff.
        fixed = replace(step, **{k: form.cleaned_data[k] for k in ("script", "timeout", "retries")})
        if request.POST.get("action") != "resume":
            test = step_tests.run_test(
                request.user.pk, fixed.script, fixed.timeout, seen_input, seen_outputs
            )
            if request.htmx:
                return render_test_result(request, "fix", test)
        else:
            return _resume(request, run, fixed, form.cleaned_data["save_to_definition"])
    context = {
        "run": run,
        "step": step,
        "form": form,
        "test": test,
        "seen_input": seen_input,
        "seen_outputs": seen_outputs,
        "failed": next(s for s in run.steps if s.step_id == step_id),
    }
    return render(request, "flows/step_fix.html", context)


def _resume(request: HtmxHttpRequest, run: RunSnapshot, fixed: Step, save: bool) -> HttpResponse:
    flow_id = run.state.flow_id
    try:
        result = actions.fix_and_resume(flow_id, run.state.definition, fixed, request.user)
    except RunNotFound:
        raise Http404("This run is no longer live.") from None
    if result.done and save:
        if request.user.has_perm("flows.change_stepdefinition"):
            note = actions.save_fix(run.state.meta.get("definition_id"), fixed, request.user)
        else:
            note = "You may not change flow definitions: the fix was not saved to it."
        messages.info(request, note)
    return _back_to_run(request, flow_id, result)
