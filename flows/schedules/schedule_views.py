"""Schedules on the flow page: add, edit in place, delete, turn on or off, and the check of the
expression and time zone as they are typed. Like the step views, each answers htmx with the
fragment that changed and a plain POST with a redirect (or the form's page, with errors).
Every change is audited: a schedule launches runs as whoever saved it last."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from flows.models import AuditEntry, FlowDefinition, Schedule
from flows.schedules.forms import ScheduleForm
from flows.schedules.rows import schedule_row
from flows.validators import cron_problem, time_zone_problem
from flows.view_helpers import HtmxHttpRequest, get_flow, requires

CHANGE = "flows.change_flowdefinition"


def _get_schedule(name: str, schedule_id: int) -> Schedule:
    return get_object_or_404(
        Schedule.objects.select_related("flow"), pk=schedule_id, flow__name=name
    )


def _key(schedule: Schedule | None) -> str:
    """Tells apart the element ids of several schedule forms open on one page."""
    return str(schedule.pk) if schedule else "new"


def _render_form(
    request: HtmxHttpRequest, flow: FlowDefinition, schedule: Schedule | None, form: ScheduleForm
) -> HttpResponse:
    context = {"flow": flow, "schedule": schedule, "key": _key(schedule), "form": form}
    template = "flows/_schedule_form.html" if request.htmx else "flows/schedule_page.html"
    return render(request, template, context)


def _form(schedule: Schedule | None, data: object = None) -> ScheduleForm:
    return ScheduleForm(data, instance=schedule, auto_id=f"id_schedule_{_key(schedule)}_%s")


def _save(request: HtmxHttpRequest, form: ScheduleForm, created: bool) -> HttpResponse:
    """Save the valid form as the requesting user's (whom its runs launch as), audited."""
    form.instance.updated_by = request.user
    action = AuditEntry.Action.SCHEDULE_CREATE if created else AuditEntry.Action.SCHEDULE_CHANGE
    with transaction.atomic():
        schedule = form.save()
        _audit(action, request.user, schedule)
    return _saved(request, schedule, created)


def _audit(action: AuditEntry.Action, user: AbstractBaseUser, schedule: Schedule) -> None:
    """The schedule as saved (or deleted): what it fires and whether it is on, readable after
    the schedule is gone."""
    AuditEntry.record(
        action,
        user,
        definition=schedule.flow,
        schedule=schedule.pk,
        name=schedule.label,
        expression=schedule.expression,
        timezone=schedule.timezone,
        enabled=schedule.enabled,
    )


def _saved(request: HtmxHttpRequest, schedule: Schedule, created: bool) -> HttpResponse:
    if not request.htmx:
        messages.success(request, f"Schedule {schedule.label} saved.")
        return redirect(f"{schedule.flow.get_absolute_url()}#schedule-{schedule.pk}")
    context = {"flow": schedule.flow, "row": schedule_row(schedule), "created": created}
    response = render(request, "flows/_schedule_saved.html", context)
    if created:
        return reswap(retarget(response, "#schedule-list"), "beforeend")
    return reswap(retarget(response, f"#schedule-{schedule.pk}"), "outerHTML")


@require_http_methods(["GET", "POST"])
@requires(CHANGE)
def schedule_new(request: HtmxHttpRequest, name: str) -> HttpResponse:
    flow = get_flow(name)
    form = _form(None, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.flow = flow
        return _save(request, form, created=True)
    return _render_form(request, flow, None, form)


@require_http_methods(["GET", "POST"])
@requires(CHANGE)
def schedule_edit(request: HtmxHttpRequest, name: str, schedule_id: int) -> HttpResponse:
    schedule = _get_schedule(name, schedule_id)
    form = _form(schedule, request.POST or None)
    if request.method == "POST" and form.is_valid():
        return _save(request, form, created=False)
    return _render_form(request, schedule.flow, schedule, form)


@require_GET
@requires("flows.view_flowdefinition")
def schedule_row_view(request: HtmxHttpRequest, name: str, schedule_id: int) -> HttpResponse:
    """The schedule as listed (what "Cancel" puts back in place of its form)."""
    schedule = _get_schedule(name, schedule_id)
    if not request.htmx:
        return redirect(f"{schedule.flow.get_absolute_url()}#schedule-{schedule.pk}")
    context = {"flow": schedule.flow, "row": schedule_row(schedule)}
    return render(request, "flows/_schedule.html", context)


@require_POST
@requires(CHANGE)
def schedule_toggle(request: HtmxHttpRequest, name: str, schedule_id: int) -> HttpResponse:
    """On becomes off and off on; saved as a change, so a schedule that catches up owes
    nothing from while it was off."""
    schedule = _get_schedule(name, schedule_id)
    schedule.enabled, schedule.updated_by = not schedule.enabled, request.user
    with transaction.atomic():
        schedule.save(update_fields=["enabled", "updated_by", "updated_at"])
        _audit(AuditEntry.Action.SCHEDULE_CHANGE, request.user, schedule)
    return _saved(request, schedule, created=False)


@require_http_methods(["GET", "POST"])
@requires(CHANGE)
def schedule_delete(request: HtmxHttpRequest, name: str, schedule_id: int) -> HttpResponse:
    schedule = _get_schedule(name, schedule_id)
    if request.method == "GET":
        return render(request, "flows/confirm_delete.html", {"thing": f"schedule {schedule}"})
    with transaction.atomic():
        _audit(AuditEntry.Action.SCHEDULE_DELETE, request.user, schedule)  # while it has its id
        schedule.delete()
    if request.htmx:
        return HttpResponse("")  # the row is swapped for nothing
    messages.success(request, f"Schedule {schedule.label} deleted.")
    return redirect(schedule.flow.get_absolute_url())


@require_POST
@requires("flows.view_flowdefinition")
def schedule_check(
    request: HtmxHttpRequest, name: str, schedule_id: int | None = None
) -> HttpResponse:
    """Live check while typing: what is wrong with the expression (or, with
    check=timezone, the time zone), if anything."""
    get_flow(name)
    context = {"key": str(schedule_id) if schedule_id else "new"}
    if request.POST.get("check") == "timezone":
        problem = time_zone_problem(request.POST.get("timezone", ""))
        context |= {"part": "timezone", "problem": problem}
    else:
        problem = cron_problem(request.POST.get("expression", ""))
        context |= {"part": "expression", "problem": problem}
    return render(request, "flows/_script_check.html", context)
