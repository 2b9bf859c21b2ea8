"""Flows that branch, in the builder: what a step runs after and its condition, through the step
form, renames, deletes and reorders."""

from __future__ import annotations

import html
import json

import pytest
from django.forms.models import inlineformset_factory, model_to_dict
from django.test import Client

from flows.admin import StepFormSet
from flows.definitions import editing
from flows.engine.builder import Flow, new_flow, new_step
from flows.models import FlowDefinition, StepDefinition

HTMX = {"HX-Request": "true"}
START = "@start"


def _diamond() -> Flow:
    """a; b and c after a (c only if asked to); d after both."""
    return (
        new_flow("diamond")
        .add_step(new_step("a").script("1").build())
        .add_step(new_step("b").script("2").after("a").build())
        .add_step(new_step("c").script("3").after("a").when('input["c"] == True').build())
        .add_step(new_step("d").script("4").after("b", "c").build())
        .build()
    )


@pytest.fixture
def diamond(db: None) -> FlowDefinition:
    return editing.create_from_flow(_diamond())


def _step(flow: FlowDefinition, name: str) -> StepDefinition:
    return flow.steps.get(name=name)


def _form(step: StepDefinition, **changes: object) -> dict[str, object]:
    data = {"name": step.name, "script": step.script, "timeout": "5", "retries": "0"}
    data["after"] = START if step.after == [] else (step.after or [])
    data["when"] = step.when
    return data | changes


def _text(response) -> str:
    return html.unescape(response.content.decode())


def test_a_new_step_offers_every_step_and_ticks_the_last_one(operator: Client, diamond):
    response = operator.get(f"/flows/{diamond.name}/steps/new/", headers=HTMX)

    content = response.content.decode()
    for name in ("a", "b", "c", "d"):
        assert f'value="{name}"' in content
    assert 'value="d" id="id_step_new_after_4" checked' in content
    assert ">Run only if<" in content


def test_the_edit_form_offers_only_the_steps_above(operator: Client, diamond):
    c = _step(diamond, "c")

    content = operator.get(f"/flows/{diamond.name}/steps/{c.pk}/edit/", headers=HTMX)

    offered = [f'name="after" value="{name}"'.encode() in content.content for name in "abcd"]
    assert offered == [True, True, False, False]  # not itself or later: no circle can be chosen
    assert b"input[&quot;c&quot;] == True</textarea>" in content.content


def test_leaving_the_default_stores_the_step_before_it(operator: Client, diamond):
    operator.post(
        f"/flows/{diamond.name}/steps/new/",
        {"name": "e", "script": "5", "timeout": "5", "retries": "0", "after": ["d"]},
    )

    e = _step(diamond, "e")
    assert e.after is None
    assert diamond.to_flow().dependencies("e") == ("d",)


def test_steps_ticked_and_a_condition_are_saved(operator: Client, diamond):
    data = {"name": "e", "script": "5", "timeout": "5", "retries": "0"}
    data |= {"after": ["a", "c"], "when": 'steps["a"] > 0'}

    response = operator.post(f"/flows/{diamond.name}/steps/new/", data, headers=HTMX)

    e = _step(diamond, "e")
    assert (e.after, e.when) == (["a", "c"], 'steps["a"] > 0')
    assert diamond.to_flow().step("e").when == 'steps["a"] > 0'
    content = _text(response)
    assert "after a, c" in content
    assert 'only if <code>steps["a"] > 0</code>' not in response.content.decode()  # escaped
    assert 'only if <code>steps["a"] > 0</code>' in content


def test_the_start_of_the_run_means_no_dependencies(operator: Client, diamond):
    b = _step(diamond, "b")

    operator.post(f"/flows/{diamond.name}/steps/{b.pk}/edit/", _form(b, after=START))

    assert _step(diamond, "b").after == []
    assert diamond.to_flow().dependencies("b") == ()
    assert b"at the start of the run" in operator.get(f"/flows/{diamond.name}/").content


def test_the_start_of_the_run_and_steps_together_are_refused(operator: Client, diamond):
    b = _step(diamond, "b")

    response = operator.post(
        f"/flows/{diamond.name}/steps/{b.pk}/edit/", _form(b, after=[START, "a"]), headers=HTMX
    )

    assert "Choose the start of the run or steps to run after, not both." in _text(response)
    assert _step(diamond, "b").after == ["a"]


def test_a_later_step_cannot_be_chosen(operator: Client, diamond):
    b = _step(diamond, "b")

    response = operator.post(
        f"/flows/{diamond.name}/steps/{b.pk}/edit/", _form(b, after=["d"]), headers=HTMX
    )

    assert "Select a valid choice. d is not one of the available choices." in _text(response)
    assert _step(diamond, "b").after == ["a"]


def test_a_condition_that_does_not_parse_is_refused_at_the_field_and_kept(
    operator: Client, diamond
):
    c = _step(diamond, "c")
    broken = '(input["c"]\n  and and True)'

    response = operator.post(
        f"/flows/{diamond.name}/steps/{c.pk}/edit/", _form(c, when=broken), headers=HTMX
    )

    content = _text(response)
    assert '<small id="condition-check-' in content
    assert "Condition: line 2, column 7:" in content
    assert broken + "</textarea>" in content
    assert _step(diamond, "c").when == 'input["c"] == True'


def test_a_condition_must_be_one_expression(operator: Client, diamond):
    c = _step(diamond, "c")

    response = operator.post(f"/flows/{diamond.name}/steps/{c.pk}/edit/", _form(c, when="x = 1"))

    assert "Condition: must be one expression" in _text(response)


def test_the_live_check_reads_the_condition_when_asked(operator: Client, diamond):
    check = f"/flows/{diamond.name}/steps/check/"

    broken = operator.post(check, {"check": "condition", "when": "1 +"}, headers=HTMX)
    fine = operator.post(check, {"check": "condition", "when": "", "script": "("}, headers=HTMX)

    assert b'id="condition-check-new"' in broken.content
    assert b"Condition: line 1, column" in broken.content
    assert b"field-error" not in fine.content


def test_renaming_a_step_renames_it_where_others_run_after_it(operator: Client, diamond):
    a = _step(diamond, "a")

    operator.post(f"/flows/{diamond.name}/steps/{a.pk}/edit/", _form(a, name="start"))

    assert _step(diamond, "b").after == ["start"]
    assert _step(diamond, "c").after == ["start"]
    assert diamond.to_flow().dependents("start") == ("b", "c")


def test_deleting_a_step_hands_its_dependencies_to_the_steps_after_it(admin: Client, diamond):
    b = _step(diamond, "b")

    response = admin.post(f"/flows/{diamond.name}/steps/{b.pk}/delete/", headers=HTMX)

    assert _step(diamond, "d").after == ["c", "a"]
    assert response["HX-Retarget"] == "#step-list"
    assert b"after c, a" in response.content


def test_deleting_the_only_dependency_leaves_the_start_of_the_run(admin: Client, db: None):
    flow = editing.create_from_flow(
        new_flow("two")
        .add_step(new_step("a").script("1").build())
        .add_step(new_step("b").script("2").after("a").build())
        .build()
    )

    response = admin.post(f"/flows/two/steps/{_step(flow, 'a').pk}/delete/", follow=True)

    assert _step(flow, "b").after == []
    assert "Step a deleted. b now runs at the start of the run." in _text(response)


def test_deleting_a_step_nobody_names_swaps_only_its_row(admin: Client, diamond):
    d = _step(diamond, "d")

    response = admin.post(f"/flows/{diamond.name}/steps/{d.pk}/delete/", headers=HTMX)

    assert "HX-Retarget" not in response
    assert list(diamond.steps.values_list("name", flat=True)) == ["a", "b", "c"]


def test_moving_a_step_above_one_it_runs_after_is_refused_under_it(operator: Client, diamond):
    b = _step(diamond, "b")

    response = operator.post(
        f"/flows/{diamond.name}/steps/{b.pk}/move/", {"direction": "up"}, headers=HTMX
    )

    content = _text(response)
    assert "Step 'b' runs after 'a', so it must stay below it." in content
    assert content.index(f'id="step-{b.pk}"') < content.index('role="alert"')
    assert list(diamond.steps.values_list("name", flat=True)) == ["a", "b", "c", "d"]
    diamond.refresh_from_db()
    assert diamond.version == 1


def test_moving_a_step_below_one_that_runs_after_it_is_refused(operator: Client, diamond):
    c = _step(diamond, "c")

    page = operator.post(
        f"/flows/{diamond.name}/steps/{c.pk}/move/", {"direction": "down"}, follow=True
    )
    fragment = operator.post(
        f"/flows/{diamond.name}/steps/{c.pk}/move/", {"direction": "down"}, headers=HTMX
    )

    assert "Step 'd' runs after 'c', so it must stay below it." in _text(page)
    content = _text(fragment)  # the message is under c, the step moved, not d
    d = _step(diamond, "d")
    assert content.index(f'id="step-{c.pk}"') < content.index('role="alert"')
    assert content.index('role="alert"') < content.index(f'id="step-{d.pk}"')


def test_steps_that_follow_the_one_above_follow_the_new_order(operator: Client, stripe):
    last = _step(stripe, "create_product")

    operator.post(f"/flows/{stripe.name}/steps/{last.pk}/move/", {"direction": "up"})

    assert stripe.to_flow().dependencies("create_product") == ("stripe_config",)
    assert stripe.to_flow().dependencies("stripe_config_confirm") == ("create_product",)


def test_a_dragged_order_that_breaks_a_dependency_is_refused(operator: Client, diamond):
    ids = list(diamond.steps.values_list("pk", flat=True))

    response = operator.post(
        f"/flows/{diamond.name}/steps/reorder/", {"order": ids[::-1]}, headers=HTMX
    )

    assert response.status_code == 200
    assert "Step 'd' runs after 'b', so it must stay below it." in _text(response)
    assert list(diamond.steps.values_list("name", flat=True)) == ["a", "b", "c", "d"]


def test_a_dragged_order_that_keeps_dependencies_is_taken(operator: Client, diamond):
    a, b, c, d = diamond.steps.values_list("pk", flat=True)

    operator.post(f"/flows/{diamond.name}/steps/reorder/", {"order": [a, c, b, d]}, headers=HTMX)

    assert list(diamond.steps.values_list("name", flat=True)) == ["a", "c", "b", "d"]


def test_duplicate_carries_dependencies_and_conditions(operator: Client, diamond):
    operator.post(f"/flows/{diamond.name}/duplicate/")

    copy = FlowDefinition.objects.get(name="diamond_copy")
    assert copy.to_flow().steps == _diamond().steps


def test_a_rename_in_place_swaps_the_list_so_the_other_rows_show_it(operator: Client, diamond):
    b = _step(diamond, "b")

    response = operator.post(
        f"/flows/{diamond.name}/steps/{b.pk}/edit/", _form(b, name="bee"), headers=HTMX
    )

    assert response["HX-Retarget"] == "#step-list"
    assert b"after bee, c" in response.content


def _admin_formset(flow: FlowDefinition, **changes: dict[str, object]) -> StepFormSet:
    """The Django admin's steps of the flow, as posted with `changes` to the named steps."""
    fields = ["position", "name", "script", "after", "when", "timeout", "retries"]
    formset_class = inlineformset_factory(
        FlowDefinition, StepDefinition, formset=StepFormSet, fields=fields, extra=0
    )
    steps = list(flow.steps.all())
    data = {"steps-TOTAL_FORMS": len(steps), "steps-INITIAL_FORMS": len(steps)}
    for index, step in enumerate(steps):
        values = model_to_dict(step, fields=[*fields, "id"]) | changes.get(step.name, {})
        values["after"] = json.dumps(values["after"])
        data |= {f"steps-{index}-{key}": value for key, value in values.items()}
    return formset_class(data, instance=flow)


def test_the_admin_refuses_a_rename_that_leaves_a_dependency_behind(diamond):
    formset = _admin_formset(diamond, a={"name": "start"})

    assert not formset.is_valid()
    assert formset.non_form_errors() == [
        "Step 'b' runs after 'a', which is not a step of flow 'diamond'"
    ]


def test_the_admin_refuses_a_position_above_a_dependency(diamond):
    formset = _admin_formset(diamond, d={"position": 0})

    assert not formset.is_valid()
    assert "so it must stay below it: give it a higher position" in formset.non_form_errors()[0]


def test_the_admin_saves_a_valid_change(diamond):
    formset = _admin_formset(diamond, d={"after": ["c"], "when": "True"})

    assert formset.is_valid(), formset.non_form_errors()
