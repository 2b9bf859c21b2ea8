from __future__ import annotations

from django.test import Client

from flows.engine.connections import blocking_client
from flows.models import FlowDefinition, StepDefinition
from tests.web.step_form import post_test_run

HTMX = {"HX-Request": "true"}
STEP = {"name": "charge", "script": "x = 1\nx + 1\n", "timeout": "5", "retries": "1"}


def _names(flow: FlowDefinition) -> list[str]:
    return list(flow.steps.values_list("name", flat=True))


def test_add_step_form_comes_as_a_fragment_for_htmx_and_a_page_without(operator: Client, stripe):
    fragment = operator.get(f"/flows/{stripe.name}/steps/new/", headers=HTMX)
    page = operator.get(f"/flows/{stripe.name}/steps/new/")

    assert fragment.content.lstrip().startswith(b'<form id="step-form-new"')
    assert b"<html" in page.content
    for label in (b">Step name<", b">Script<", b">Timeout (seconds)<", b">Retries<"):
        assert label in fragment.content
    assert b"Save step" in fragment.content


def test_added_step_is_appended_and_the_form_cleared(operator: Client, stripe):
    response = operator.post(f"/flows/{stripe.name}/steps/new/", STEP, headers=HTMX)

    assert _names(stripe)[-1] == "charge"
    assert response["HX-Retarget"] == "#step-list"
    assert response["HX-Reswap"] == "beforeend"
    assert response.content.lstrip().startswith(b'<li id="step-')
    assert b'<div id="new-step" hx-swap-oob="true"></div>' in response.content
    stripe.refresh_from_db()
    assert stripe.version == 2


def test_added_step_without_javascript_redirects_to_the_flow(operator: Client, stripe):
    response = operator.post(f"/flows/{stripe.name}/steps/new/", STEP)

    step = stripe.steps.get(name="charge")
    assert response["Location"] == f"/flows/{stripe.name}/#step-{step.pk}"


def test_a_script_that_does_not_parse_is_refused_with_line_and_column(operator: Client, stripe):
    broken = {**STEP, "script": "x = 1\nif x\n    y = 2\n"}

    response = operator.post(f"/flows/{stripe.name}/steps/new/", broken, headers=HTMX)

    assert response.status_code == 200
    assert b"Script does not parse: line 2, column 5:" in response.content
    assert b"if x\n    y = 2\n</textarea>" in response.content
    assert b'aria-invalid="true"' in response.content
    assert "charge" not in _names(stripe)


def test_bad_timeout_and_retries_are_explained_by_the_engine(operator: Client, stripe):
    bad = {**STEP, "timeout": "0", "retries": "-1"}

    response = operator.post(f"/flows/{stripe.name}/steps/new/", bad)

    assert b"Timeout must be a positive number of seconds" in response.content
    assert b"Ensure this value is greater than or equal to 0" in response.content


def test_step_names_are_unique_within_a_flow(operator: Client, stripe):
    response = operator.post(
        f"/flows/{stripe.name}/steps/new/", {**STEP, "name": "stripe_config"}, headers=HTMX
    )

    assert b"already has a step named" in response.content


def test_live_check_shows_the_parse_error_under_the_field(operator: Client, stripe):
    response = operator.post(
        f"/flows/{stripe.name}/steps/check/", {"script": "def f(:\n  pass"}, headers=HTMX
    )
    fine = operator.post(f"/flows/{stripe.name}/steps/check/", {"script": "1 + 1"}, headers=HTMX)

    assert b'id="script-check-new"' in response.content
    assert b"line 1, column 7:" in response.content
    assert b"field-error" not in fine.content


def test_edit_in_place_swaps_the_row_back_after_saving(operator: Client, stripe):
    step = stripe.steps.get(name="stripe_config")

    form = operator.get(f"/flows/{stripe.name}/steps/{step.pk}/edit/", headers=HTMX)
    response = operator.post(
        f"/flows/{stripe.name}/steps/{step.pk}/edit/",
        {"name": "stripe_setup", "script": step.script, "timeout": "7", "retries": "0"},
        headers=HTMX,
    )

    assert form.content.lstrip().startswith(f'<form id="step-form-{step.pk}"'.encode())
    assert b'name="timeout" value="5"' in form.content
    assert response["HX-Retarget"] == f"#step-{step.pk}"
    step.refresh_from_db()
    assert (step.name, step.timeout) == ("stripe_setup", 7)


def test_delete_step_removes_the_row_and_bumps_the_version(operator: Client, stripe):
    step = stripe.steps.get(name="create_product")

    response = operator.post(f"/flows/{stripe.name}/steps/{step.pk}/delete/", headers=HTMX)

    assert _names(stripe) == ["stripe_config", "stripe_config_confirm"]
    assert b'hx-swap-oob="true"' in response.content
    assert b"version 2" in response.content


def test_moving_a_step_up_reorders_the_list(operator: Client, stripe):
    step = stripe.steps.get(name="create_product")

    response = operator.post(
        f"/flows/{stripe.name}/steps/{step.pk}/move/", {"direction": "up"}, headers=HTMX
    )

    assert _names(stripe) == ["stripe_config", "create_product", "stripe_config_confirm"]
    assert response.content.lstrip().startswith(b'<ol id="step-list"')


def test_moving_the_first_step_up_changes_nothing(operator: Client, stripe):
    step = stripe.steps.get(name="stripe_config")

    operator.post(f"/flows/{stripe.name}/steps/{step.pk}/move/", {"direction": "up"})

    stripe.refresh_from_db()
    assert stripe.version == 1


def test_reorder_takes_the_dragged_order(operator: Client, stripe):
    ids = list(stripe.steps.values_list("pk", flat=True))

    operator.post(f"/flows/{stripe.name}/steps/reorder/", {"order": ids[::-1]}, headers=HTMX)

    assert _names(stripe) == ["create_product", "stripe_config_confirm", "stripe_config"]


def test_reorder_refuses_an_order_that_misses_a_step(operator: Client, stripe):
    ids = list(stripe.steps.values_list("pk", flat=True))

    response = operator.post(f"/flows/{stripe.name}/steps/reorder/", {"order": ids[:2]})

    assert response.status_code == 400
    assert _names(stripe) == ["stripe_config", "stripe_config_confirm", "create_product"]


def test_test_step_runs_the_typed_script_in_the_sandbox_without_a_run(
    operator: Client, stripe, redis_url: str
):
    script = 'log("hello " + input["who"])\n{"total": steps["a"]["n"] * 2}\n'

    response = post_test_run(operator, stripe.name, script, '{"who": "tester"}', '{"a": {"n": 21}}')

    content = response.content.decode()
    assert content.lstrip().startswith('<div id="test-result-new"')
    assert "status-completed" in content
    assert "&quot;total&quot;: 42" in content
    assert "hello tester" in content
    assert not StepDefinition.objects.filter(name="preview").exists()
    with blocking_client(redis_url) as client:
        assert client.dbsize() == 0


def test_test_step_shows_a_runtime_error_with_its_line(operator: Client, stripe):
    response = post_test_run(operator, stripe.name, 'x = 1\nmock_api("failure")\n')

    assert b"status-failed" in response.content
    assert b"line 2" in response.content
    assert b"mock API failure" in response.content


def test_test_step_refuses_sample_input_that_is_not_an_object(operator: Client, stripe):
    response = post_test_run(operator, stripe.name, "1", sample_input="[1, 2]", sample_steps="{")

    assert b"Sample input must be a JSON object" in response.content
    assert b"Outputs of earlier steps is not valid JSON: line 1, column 2" in response.content


def test_test_step_without_javascript_shows_the_result_on_the_step_page(operator: Client, stripe):
    step = stripe.steps.get(name="stripe_config")
    data = {"name": step.name, "script": step.script, "timeout": "5", "retries": "0"}

    response = operator.post(
        f"/flows/{stripe.name}/steps/{step.pk}/test/",
        {**data, "sample_input": '{"customer_email": "ada@example.com"}', "sample_steps": "{}"},
    )

    assert b"<html" in response.content
    assert b"configuring Stripe for ada@example.com" in response.content
    assert b'value="stripe_config"' in response.content


def test_a_script_over_the_length_cap_is_refused_under_the_field(operator: Client, stripe):
    script = '"' + "s" * 50_000 + '"'

    response = operator.post(
        f"/flows/{stripe.name}/steps/new/", {**STEP, "script": script}, headers=HTMX
    )

    assert b"Script is 50,002 characters long, over the 50,000 allowed" in response.content
    assert not StepDefinition.objects.filter(name="charge").exists()
