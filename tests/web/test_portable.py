from __future__ import annotations

import html
import json
import re

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from flows.definitions import editing
from flows.definitions.examples import stripe_payment_request
from flows.definitions.portable import export_python
from flows.engine.builder import Flow, new_flow, new_step
from flows.models import FlowDefinition


def test_to_flow_builds_the_engine_flow(stripe):
    assert stripe.to_flow() == stripe_payment_request()


def test_exported_python_builds_the_same_flow(stripe):
    namespace: dict = {}

    exec(export_python(stripe), namespace)

    assert namespace["flow"] == stripe.to_flow()


def test_export_json_downloads_the_definition(operator: Client, stripe):
    response = operator.get(f"/flows/{stripe.name}/export.json")

    assert response["Content-Disposition"] == 'attachment; filename="stripe_payment_request.json"'
    data = json.loads(response.content)
    assert data["description"] == "example"
    assert data["steps"][1]["retries"] == 2


def test_import_of_an_export_recreates_the_flow(operator: Client, stripe):
    exported = operator.get(f"/flows/{stripe.name}/export.json").content.decode()
    stripe.delete()

    response = operator.post("/flows/import/", {"definition": exported})

    imported = FlowDefinition.objects.get(name="stripe_payment_request")
    assert response["Location"] == "/flows/stripe_payment_request/"
    assert imported.to_flow() == stripe_payment_request()
    assert imported.description == "example"


def test_import_points_at_broken_json(operator: Client, db: None):
    response = operator.post("/flows/import/", {"definition": '{"name": "x",\n "steps": [}'})

    assert b"Not valid JSON: line 2, column 12" in response.content
    assert b"[}</textarea>" in response.content


def test_import_refuses_a_script_that_does_not_parse(operator: Client, db: None):
    text = json.dumps({"name": "x", "steps": [{"name": "a", "script": "if True\n  1"}]})

    response = operator.post("/flows/import/", {"definition": text})

    assert b"Step &#x27;a&#x27;: script does not parse: line 1, column 8" in response.content
    assert not FlowDefinition.objects.exists()


def test_import_refuses_an_existing_name_and_bad_names(operator: Client, stripe):
    same = json.dumps({"name": stripe.name, "steps": [{"name": "a", "script": "1"}]})
    spaced = json.dumps({"name": "a b", "steps": [{"name": "a", "script": "1"}]})

    assert b"already exists" in operator.post("/flows/import/", {"definition": same}).content
    response = operator.post("/flows/import/", {"definition": spaced})
    assert b"may only use letters, digits, underscores and hyphens" in response.content


def test_import_takes_the_exported_file(operator: Client, stripe):
    exported = operator.get(f"/flows/{stripe.name}/export.json").content
    stripe.delete()

    upload = SimpleUploadedFile("stripe.json", exported, content_type="application/json")
    response = operator.post("/flows/import/", {"file": upload})

    assert response["Location"] == "/flows/stripe_payment_request/"


def test_import_asks_for_json_when_given_nothing(operator: Client, db: None):
    response = operator.post("/flows/import/", {"definition": ""})

    assert b"Paste the flow&#x27;s JSON or choose the exported file." in response.content


def _field_errors(content: str) -> str:
    return " ".join(re.findall(r'<small class="field-error"[^>]*>([^<]*)</small>', content))


def _import(client: Client, flow: dict) -> str:
    response = client.post("/flows/import/", {"definition": json.dumps(flow)})
    return html.unescape(response.content.decode())


def test_import_refuses_retries_the_database_cannot_hold(operator: Client, db: None):
    step = {"name": "a", "script": "1", "retries": 10**30}

    content = _import(operator, {"name": "x", "steps": [step]})

    # The database's bound (or the site's maximum retries, which is lower): either says so.
    assert "retries" in _field_errors(content).lower()
    assert not FlowDefinition.objects.exists()


def test_import_caps_the_description_as_the_flow_form_does(operator: Client, db: None):
    flow = {"name": "x", "description": "d" * 10_001, "steps": [{"name": "a", "script": "1"}]}

    content = _import(operator, flow)

    assert "The flow description: Ensure this value has at most 10000 characters" in content
    assert not FlowDefinition.objects.exists()


def test_import_caps_the_script_length_as_the_step_form_does(operator: Client, db: None):
    script = '"' + "s" * 50_000 + '"'

    content = _import(operator, {"name": "x", "steps": [{"name": "a", "script": script}]})

    assert "script is 50,002 characters long, over the 50,000 allowed" in content
    assert not FlowDefinition.objects.exists()


def test_an_uploaded_file_over_the_request_cap_is_refused_unread(operator: Client, db: None):
    flow = json.dumps({"name": "x", "steps": [{"name": "a", "script": "1"}]})
    padded = flow.encode() + b" " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    upload = SimpleUploadedFile("x.json", padded, content_type="application/json")

    response = operator.post("/flows/import/", {"file": upload})

    assert response.status_code == 200
    assert "over the 2.5\xa0MB an import may be" in html.unescape(response.content.decode())
    assert not FlowDefinition.objects.exists()


# An export made before flows could branch: no "after", no "when", as it was downloaded.
OLD_EXPORT = """{
  "name": "old_line",
  "description": "exported before steps had dependencies",
  "steps": [
    {"name": "first", "script": "1", "timeout": 5.0, "retries": 0},
    {"name": "second", "script": "steps[\\"first\\"] + 1", "timeout": 5.0, "retries": 2}
  ]
}
"""


def _diamond() -> Flow:
    return (
        new_flow("diamond")
        .add_step(new_step("a").script("1").build())
        .add_step(new_step("b").script("2").after("a").build())
        .add_step(new_step("c").script("3").after().when('input["c"] == "yes"').build())
        .add_step(new_step("d").script("4").after("b", "c").build())
        .build()
    )


def test_an_old_export_imports_as_the_straight_line_it_was(operator: Client, db: None):
    operator.post("/flows/import/", {"definition": OLD_EXPORT})

    imported = FlowDefinition.objects.get(name="old_line")
    assert [(step.after, step.when) for step in imported.steps.all()] == [(None, "")] * 2
    flow = imported.to_flow()
    assert flow.is_linear
    assert flow.dependencies("second") == ("first",)
    assert "after" not in operator.get("/flows/old_line/export.json").content.decode()


def test_export_json_carries_dependencies_and_conditions_only_when_set(operator: Client, db: None):
    editing.create_from_flow(_diamond())

    steps = json.loads(operator.get("/flows/diamond/export.json").content)["steps"]

    assert [step.get("after") for step in steps] == [None, ["a"], [], ["b", "c"]]
    assert "after" not in steps[0]
    assert [step.get("when") for step in steps] == [None, None, 'input["c"] == "yes"', None]


def test_a_branching_flow_round_trips_through_json(operator: Client, db: None):
    editing.create_from_flow(_diamond())
    exported = operator.get("/flows/diamond/export.json").content.decode()
    FlowDefinition.objects.all().delete()

    operator.post("/flows/import/", {"definition": exported})

    assert FlowDefinition.objects.get(name="diamond").to_flow() == _diamond()


def test_exported_python_builds_the_same_branching_flow(db: None):
    definition = editing.create_from_flow(_diamond())
    namespace: dict = {}

    code = export_python(definition)
    exec(code, namespace)

    assert namespace["flow"] == _diamond()
    assert ".after('b', 'c')" in code
    assert "        .after()\n" in code
    assert """.when('input["c"] == "yes"')""" in code


def _with_step(**changes: object) -> dict:
    steps = [{"name": "a", "script": "1"}, {"name": "b", "script": "2", **changes}]
    return {"name": "x", "steps": steps}


def test_import_refuses_an_unknown_dependency_naming_the_step(operator: Client, db: None):
    content = _import(operator, _with_step(after=["a", "nope"]))

    assert "Step 'b' runs after 'nope', which is not a step of flow 'x'" in content
    assert not FlowDefinition.objects.exists()


def test_import_refuses_a_condition_that_does_not_parse(operator: Client, db: None):
    content = _import(operator, _with_step(when="input["))

    assert "Step 'b': condition: line 1, column" in content


def test_import_refuses_dependencies_that_are_not_a_list_of_names(operator: Client, db: None):
    content = _import(operator, _with_step(after="a"))

    assert "Step 2 ('b'): 'after' must be a list of step names" in content


def test_import_refuses_a_step_listed_above_one_it_runs_after(operator: Client, db: None):
    steps = [{"name": "b", "script": "2", "after": ["a"]}, {"name": "a", "script": "1"}]
    steps[1]["after"] = []

    content = _import(operator, {"name": "x", "steps": steps})

    assert "Step 'b' runs after 'a', which is listed below it: list 'a' first" in content


def test_import_refuses_a_circle(operator: Client, db: None):
    steps = [
        {"name": "a", "script": "1", "after": ["b"]},
        {"name": "b", "script": "2", "after": ["a"]},
    ]

    content = _import(operator, {"name": "x", "steps": steps})

    assert "Steps run after each other in a circle: a → b → a" in content
