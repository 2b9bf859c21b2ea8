"""Schedules on the flow page: listed with their next fire times in their own zone and the runs
they started; added, edited, turned off and deleted by those who may change flows; checked as
typed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.contrib.auth.models import User
from django.test import Client

from flows.models import FlowDefinition, RunRecord, Schedule, ScheduledRun
from flows.runs import launching
from flows.schedules.rows import upcoming

HTMX = {"HX-Request": "true"}


def _form(**fields: str) -> dict[str, str]:
    return {"expression": "30 2 * * *", "timezone": "Europe/Berlin", "input": "{}"} | fields


def test_an_operator_adds_a_schedule_and_it_launches_as_them(operator: Client, stripe):
    response = operator.post(
        f"/flows/{stripe.name}/schedules/new/",
        _form(name="nightly", input='{"amount": 5}', enabled="on"),
        headers=HTMX,
    )

    schedule = Schedule.objects.get()
    assert (schedule.name, schedule.timezone, schedule.input) == (
        "nightly",
        "Europe/Berlin",
        '{"amount": 5}',
    )
    assert schedule.enabled and not schedule.catch_up
    assert schedule.updated_by.username == "operator"
    assert f'id="schedule-{schedule.pk}"' in response.content.decode()
    assert response["HX-Retarget"] == "#schedule-list"


def test_a_plain_post_redirects_to_the_flow_page(operator: Client, stripe):
    response = operator.post(f"/flows/{stripe.name}/schedules/new/", _form(enabled="on"))

    assert response.status_code == 302
    assert response["Location"] == f"/flows/{stripe.name}/#schedule-{Schedule.objects.get().pk}"


def test_a_bad_expression_time_zone_or_input_is_an_error_under_its_field(operator: Client, stripe):
    response = operator.post(
        f"/flows/{stripe.name}/schedules/new/",
        _form(expression="61 * * * *", timezone="Europe/Atlantis", input="[1]"),
        headers=HTMX,
    )

    form = response.context["form"]
    assert form.errors["expression"] == ["Bad minute"]
    assert form.errors["timezone"] == [
        "'Europe/Atlantis' is not a time zone name, such as Europe/Berlin"
    ]
    assert form.errors["input"][0].startswith("Input must be a JSON object")
    assert 'id="expression-check-new" class="script-check field-error"' in response.content.decode()
    assert not Schedule.objects.exists()


def test_shortcuts_are_accepted_and_six_fields_are_not(operator: Client, stripe):
    url = f"/flows/{stripe.name}/schedules/new/"
    operator.post(url, _form(expression="@weekly"))
    refused = operator.post(url, _form(expression="0 30 2 * * *"), headers=HTMX)

    assert list(Schedule.objects.values_list("expression", flat=True)) == ["@weekly"]
    assert "Needs 5 fields" in refused.context["form"].errors["expression"][0]


def test_the_expression_and_the_zone_are_checked_as_typed(viewer: Client, stripe):
    url = f"/flows/{stripe.name}/schedules/check/"
    bad = viewer.post(url, {"expression": "* * * *"}, headers=HTMX).content.decode()
    good = viewer.post(url, {"expression": "@daily"}, headers=HTMX).content.decode()
    zone = viewer.post(url, {"check": "timezone", "timezone": "Nowhere"}, headers=HTMX)

    assert 'id="expression-check-new" class="script-check field-error"' in bad
    assert "Needs 5 fields" in bad
    assert 'class="script-check ok"' in good
    assert 'id="timezone-check-new"' in zone.content.decode()
    assert "not a time zone name" in zone.content.decode()


def _schedule(flow: FlowDefinition, **fields: object) -> Schedule:
    user = User.objects.get_or_create(username="planner")[0]
    fields = {"expression": "30 2 * * *", "timezone": "Europe/Berlin"} | fields
    return Schedule.objects.create(flow=flow, updated_by=user, **fields)


def test_the_next_five_fire_times_are_in_the_schedules_zone_across_a_dst_change(stripe):
    schedule = _schedule(stripe)

    times = upcoming(schedule, now=datetime(2026, 3, 27, 12, tzinfo=UTC))

    assert [t.isoformat() for t in times] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
        "2026-04-01T02:30:00+02:00",
    ]


def test_viewers_see_schedules_with_their_next_times_and_runs_but_no_controls(
    viewer: Client, stripe
):
    schedule = _schedule(stripe, name="nightly", timezone="America/New_York")
    run = launching.launch(stripe, {}, schedule.updated_by, {"kind": "schedule", "name": "n"})
    fired = datetime(2026, 6, 1, 6, 30, tzinfo=UTC)
    ScheduledRun.objects.create(schedule=schedule, run=run, fire_at=fired)

    page = viewer.get(f"/flows/{stripe.name}/").content.decode()

    assert f'id="schedule-{schedule.pk}"' in page
    assert page.count('<li><time datetime="') == 5
    assert " EDT</time>" in page or " EST</time>" in page
    assert f'href="/runs/{run.flow_id}/">2026-06-01 02:30 EDT</a>' in page
    assert "Turn off" not in page and "Add schedule" not in page


def test_a_schedule_lists_the_ten_latest_runs_it_started_newest_first(viewer: Client, stripe):
    schedule, other = _schedule(stripe), _schedule(stripe, name="other")
    flow_ids = []
    for day in range(1, 13):  # 12 fire times, 1 to 12 June
        run = launching.launch(stripe, {}, schedule.updated_by, {"kind": "schedule"})
        fire_at = datetime(2026, 6, day, 0, 30, tzinfo=UTC)
        ScheduledRun.objects.create(schedule=schedule, run=run, fire_at=fire_at)
        flow_ids.append(run.flow_id)
    newest_ten = flow_ids[:1:-1]

    def listed(html: str) -> list[str]:
        return re.findall(r'<li><a href="/runs/(\w+)/">', html)

    page = viewer.get(f"/flows/{stripe.name}/").content.decode()
    row = viewer.get(f"/flows/{stripe.name}/schedules/{schedule.pk}/", headers=HTMX)
    other_row = viewer.get(f"/flows/{stripe.name}/schedules/{other.pk}/", headers=HTMX)

    assert listed(page) == newest_ten  # and none for the other schedule
    assert listed(row.content.decode()) == newest_ten
    assert listed(other_row.content.decode()) == []


def test_viewers_may_not_add_edit_toggle_or_delete_schedules(viewer: Client, stripe):
    schedule = _schedule(stripe)
    base = f"/flows/{stripe.name}/schedules"

    assert viewer.post(f"{base}/new/", _form()).status_code == 403
    assert viewer.post(f"{base}/{schedule.pk}/edit/", _form()).status_code == 403
    assert viewer.post(f"{base}/{schedule.pk}/toggle/").status_code == 403
    assert viewer.post(f"{base}/{schedule.pk}/delete/").status_code == 403
    assert Schedule.objects.get().enabled


def test_an_operator_edits_turns_off_and_deletes_a_schedule(operator: Client, stripe):
    schedule = _schedule(stripe)
    base = f"/flows/{stripe.name}/schedules/{schedule.pk}"

    operator.post(f"{base}/edit/", _form(expression="@hourly", enabled="on"), headers=HTMX)
    toggled = operator.post(f"{base}/toggle/", headers=HTMX)
    schedule.refresh_from_db()
    assert (schedule.expression, schedule.enabled) == ("@hourly", False)
    assert "Turn on" in toggled.content.decode()

    deleted = operator.post(f"{base}/delete/", headers=HTMX)
    assert deleted.content == b""
    assert not Schedule.objects.exists()
    assert RunRecord.objects.count() == 0


def test_schedules_of_another_flow_are_not_found(operator: Client, stripe):
    other = FlowDefinition.objects.create(name="other")
    schedule = _schedule(other)

    response = operator.post(f"/flows/{stripe.name}/schedules/{schedule.pk}/toggle/")

    assert response.status_code == 404
