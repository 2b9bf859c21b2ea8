"""A secret a run used is nowhere a run is kept or shown: Redis, the archive, the run page, the
JSON API, the audit trail, exports, the runner's log. Only `[secret:NAME]` is."""

from __future__ import annotations

import json
import logging

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from flows.definitions import editing
from flows.engine import Flow, FlowExecutor, FlowStatus, new_flow, new_step
from flows.engine.connections import blocking_client
from flows.models import AuditEntry, RunRecord
from flows.runs import launching
from flows.secrets import vault
from tests.web.background import runner_in_background

VALUE = "sk_live_7e4Q9hRedactMe"
USES_THE_SECRET = (
    new_flow("uses_secret")
    .add_step(
        new_step("read").script('log("key=" + secret("API_KEY"))\n{"k": secret("API_KEY")}').build()
    )
    .add_step(new_step("reject").script('fail("rejected " + secret("API_KEY"))').build())
    .build()
)


def _run_to_the_end(flow: Flow, launcher: User) -> str:
    definition = editing.create_from_flow(flow)
    flow_id = launching.launch(definition, {}, launcher).flow_id

    async def work() -> FlowStatus:
        async with (
            runner_in_background(),
            FlowExecutor(settings.REDIS_URL, key_prefix=settings.FLOWS_KEY_PREFIX) as ex,
        ):
            state = await ex.wait_for_flow(flow_id, timeout=60)
        return state.status

    assert async_to_sync(work)() == FlowStatus.FAILED
    return flow_id


@pytest.fixture
def used_run(db: None, archive, caplog: pytest.LogCaptureFixture) -> str:
    caplog.set_level(logging.DEBUG)
    vault.set_secret("API_KEY", VALUE, None)
    flow_id = _run_to_the_end(USES_THE_SECRET, User.objects.create(username="launcher"))
    archive()
    return flow_id


def _redis_text() -> str:
    with blocking_client(settings.REDIS_URL, decode_responses=True) as client:
        texts = []
        for key in client.scan_iter():
            kind = client.type(key)
            if kind == "hash" and key != f"{settings.FLOWS_KEY_PREFIX}flows:secrets":
                texts.append(json.dumps(client.hgetall(key)))
            elif kind == "stream":
                texts.append(json.dumps(client.xrange(key)))
        return "\n".join(texts)


def test_the_run_state_in_redis_holds_only_the_placeholder(used_run: str):
    text = _redis_text()

    assert VALUE not in text
    assert "[secret:API_KEY]" in text


def test_the_archive_holds_only_the_placeholder(used_run: str):
    record = RunRecord.objects.get(flow_id=used_run)
    archived = record.snapshot + record.error

    assert VALUE not in archived
    assert "[secret:API_KEY]" in archived


def test_the_run_page_and_the_api_show_only_the_placeholder(
    used_run: str, viewer: Client, token_for
):
    page = viewer.get(f"/runs/{used_run}/").content.decode()
    api = Client().get(
        f"/api/runs/{used_run}", headers={"Authorization": f"Bearer {token_for('Operator')}"}
    )

    assert VALUE not in page
    assert "rejected [secret:API_KEY]" in page
    assert api.status_code == 200
    assert VALUE not in api.content.decode()
    assert "[secret:API_KEY]" in api.content.decode()


def test_exports_the_audit_trail_and_the_log_never_hold_the_value(
    used_run: str, operator: Client, caplog: pytest.LogCaptureFixture
):
    exported = operator.get("/flows/uses_secret/export.json").content.decode()
    exported += operator.get("/flows/uses_secret/export.py").content.decode()
    audit = json.dumps(list(AuditEntry.objects.values_list("details", flat=True)))

    assert 'secret(\\"API_KEY\\")' in exported or 'secret("API_KEY")' in exported
    assert VALUE not in exported
    assert VALUE not in audit
    logged = "\n".join(record.getMessage() for record in caplog.get_records("setup"))
    assert "rejected [secret:API_KEY]" in logged  # the runner logs the failed attempt
    assert VALUE not in logged
