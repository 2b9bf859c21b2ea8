"""The failure inbox page and the actions on a whole group: retry all, fix and resume all,
dismiss. Actions are admins' (`flows.retry_step`, as for one run), plain POSTs with CSRF that
redirect back to the inbox (htmx: the browser is sent there), each reporting what it did."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from flows.definitions import step_tests
from flows.definitions.forms import FixStepForm
from flows.engine.builder import Step
from flows.engine.state import RunSnapshot
from flows.failures import group_actions
from flows.failures.inbox import GroupKey, failure_groups
from flows.runs import actions
from flows.runs.records import load_run
from flows.view_helpers import HtmxHttpRequest, redirect_page, render_test_result, requires


@require_GET
@requires("flows.view_runrecord")
def failure_inbox(request: HtmxHttpRequest) -> HttpResponse:
    """Failed runs grouped by flow, step and error signature; live over /ws/failures/."""
    context = {"groups": failure_groups(), "can_act": request.user.has_perm("flows.retry_step")}
    return render(request, "flows/failures.html", context)


@require_POST
@requires("flows.retry_step")
def failure_retry_all(request: HtmxHttpRequest) -> HttpResponse:
    report = group_actions.retry_all(_group_key(request.POST), request.user)
    return _back_to_inbox(request, report.message)


@require_POST
@requires("flows.retry_step")
def failure_dismiss(request: HtmxHttpRequest) -> HttpResponse:
    key = _group_key(request.POST)
    group_actions.dismiss(key, request.user)
    return _back_to_inbox(
        request,
        f"Dismissed {key.flow} at {key.step}: it comes back if it fails like this again.",
    )


@require_http_methods(["GET", "POST"])
@requires("flows.retry_step")
def failure_fix(request: HtmxHttpRequest) -> HttpResponse:
    """Edit the group's failed step once, as the sample run (its newest) has it, test it
    against what the sample's failed attempt saw, and resume every run of the group with it."""
    key = _group_key(request.GET)
    sample = _sample(key)
    step = sample.state.definition.step(key.step)
    initial = {"script": step.script, "timeout": step.timeout, "retries": step.retries}
    form = FixStepForm(request.POST or None, initial=initial)
    seen_input, seen_outputs = actions.what_the_step_saw(sample, key.step)
    test = None
    count = key.failed_runs().count()
    if request.method == "POST" and form.is_valid():
        edited = {name: form.cleaned_data[name] for name in ("script", "timeout", "retries")}
        fixed = group_actions.fixed_step(step, **edited)
        if request.POST.get("action") == "resume":
            return _resume_all(request, key, sample, step, fixed)
        test = step_tests.run_test(
            request.user.pk, fixed.script, fixed.timeout, seen_input, seen_outputs
        )
        if request.htmx:
            return render_test_result(request, "fix", test)
    context = {
        "key": key,
        "sample": sample,
        "step": step,
        "form": form,
        "test": test,
        "seen_input": seen_input,
        "seen_outputs": seen_outputs,
        "count": count,
        "resume_label": f"Resume all {count} run{pluralize(count)} with this step",
    }
    return render(request, "flows/failure_fix.html", context)


def _resume_all(
    request: HtmxHttpRequest, key: GroupKey, sample: RunSnapshot, step: Step, fixed: Step
) -> HttpResponse:
    report = group_actions.fix_and_resume_all(key, step, fixed, request.user)
    if report.done and request.POST.get("save_to_definition"):
        if request.user.has_perm("flows.change_stepdefinition"):
            definition_id = sample.state.meta.get("definition_id")
            messages.info(request, actions.save_fix(definition_id, fixed, request.user))
        else:
            messages.info(request, "You may not change flow definitions: the fix was not saved.")
    return _back_to_inbox(request, report.message)


def _group_key(data: QueryDict) -> GroupKey:
    key = GroupKey.from_data(data)
    if key is None:
        raise Http404("No such group of failures.")
    return key


def _sample(key: GroupKey) -> RunSnapshot:
    """The group's newest run, from Redis while it is there, else from the archive."""
    newest = key.failed_runs().values_list("flow_id", flat=True).first()
    run = load_run(newest) if newest else None
    if run is None or key.step not in {s.name for s in run.state.definition.steps}:
        raise Http404("This group has no failed runs any more.")
    return run


def _back_to_inbox(request: HtmxHttpRequest, message: str) -> HttpResponse:
    messages.success(request, message[:1].upper() + message[1:])
    return redirect_page(request, reverse("flows:failure_inbox"))
