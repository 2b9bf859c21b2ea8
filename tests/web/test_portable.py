from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from flows.examples import stripe_payment_request
from flows.models import FlowDefinition
from flows.portable import export_python


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
