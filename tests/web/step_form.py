"""Test runs as the builder's step form posts them (htmx): a script and its sample data."""

from __future__ import annotations

from django.http import HttpResponse
from django.test import Client

HTMX = {"HX-Request": "true"}


def post_test_run(
    client: Client, flow_name: str, script: str, sample_input: str = "{}", sample_steps: str = "{}"
) -> HttpResponse:
    """Test-run `script` from the flow's new-step form, unsaved, with this sample data."""
    data = {"name": "preview", "script": script, "timeout": "5", "retries": "0"}
    data |= {"sample_input": sample_input, "sample_steps": sample_steps}
    return client.post(f"/flows/{flow_name}/steps/test/", data, headers=HTMX)
