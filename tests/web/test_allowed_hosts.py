"""A flow's allowed hosts: set in the builder, checked as the engine checks them, carried into
its runs and through export and import."""

from __future__ import annotations

from django.test import Client

from flows.definitions.portable import export_python
from flows.models import FlowDefinition


def _save(client: Client, flow: FlowDefinition, hosts: str):
    data = {"name": flow.name, "description": flow.description, "allowed_hosts": hosts}
    return client.post(f"/flows/{flow.name}/save/", data)


def test_the_builder_narrows_a_flows_hosts_and_its_runs_carry_them(operator: Client, stripe):
    response = _save(operator, stripe, "api.stripe.com, *.stripe.com:443")

    stripe.refresh_from_db()
    assert response.status_code == 302
    assert stripe.to_flow().allowed_hosts == "api.stripe.com, *.stripe.com:443"


def test_a_bad_entry_is_a_field_error_and_nothing_is_saved(operator: Client, stripe):
    response = _save(operator, stripe, "api.stripe.com, bad/host")

    stripe.refresh_from_db()
    assert "Allowed hosts: &#x27;bad/host&#x27; is not a host" in response.content.decode()
    assert stripe.allowed_hosts == ""
    assert stripe.to_flow().allowed_hosts is None


def test_export_and_import_keep_the_allowed_hosts(operator: Client, stripe):
    _save(operator, stripe, "api.stripe.com")
    exported = operator.get(f"/flows/{stripe.name}/export.json").content.decode()
    namespace: dict = {}
    exec(export_python(FlowDefinition.objects.get(pk=stripe.pk)), namespace)
    stripe.delete()

    operator.post("/flows/import/", {"definition": exported})

    imported = FlowDefinition.objects.get(name=stripe.name)
    assert imported.allowed_hosts == "api.stripe.com"
    assert namespace["flow"] == imported.to_flow()
