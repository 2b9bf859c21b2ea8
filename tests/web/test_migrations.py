"""Data migrations, run for real: back to the migration before, some data, then forward."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils.timezone import now

from flows.engine import FlowExecutor, Runner
from flows.engine.connections import blocking_client, partitions_of
from flows.engine.keys import Keys
from flows.engine.state import RUN_DICT_VERSION, RunSnapshot
from flows.error_signatures import error_signature
from tests.engine.flows import chain_flow

# Latest migrations of the apps whose models the tests use, so their state is the real one.
AUTH = [
    ("contenttypes", "0002_remove_content_type_name"),
    ("auth", "0012_alter_user_first_name_max_length"),
]
BEFORE = [("flows", "0002_archive_and_audit"), *AUTH]
AFTER = [("flows", "0003_runs_are_run_records"), *AUTH]
HASHES = [("flows", "0007_flow_allowed_hosts"), *AUTH]
SNAPSHOTS = [("flows", "0008_run_record_snapshot"), *AUTH]


def _migrate(targets: list[tuple[str, str]]):
    """Migrate the test database to `targets`; return the models as they are there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.fixture
def latest_schema_after() -> Iterator[None]:
    """Migrate the test database forward to every app's latest migration after the test, so
    the tests after it find the schema the models describe."""
    yield
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("latest_schema_after")
def test_who_could_view_flow_runs_can_view_run_records_after_migrating():
    apps = _migrate(BEFORE)
    try:
        ContentType = apps.get_model("contenttypes", "ContentType")
        Permission = apps.get_model("auth", "Permission")
        flow_run_type, _ = ContentType.objects.get_or_create(app_label="flows", model="flowrun")
        view_flowrun, _ = Permission.objects.get_or_create(
            content_type=flow_run_type, codename="view_flowrun", defaults={"name": "Can view"}
        )
        delete_flowrun = Permission.objects.create(
            content_type=flow_run_type, codename="delete_flowrun", name="Can delete"
        )
        readers = apps.get_model("auth", "Group").objects.create(name="Readers")
        readers.permissions.add(view_flowrun, delete_flowrun)
        ada = apps.get_model("auth", "User").objects.create(username="ada")
        ada.user_permissions.add(view_flowrun)
        definition = apps.get_model("flows", "FlowDefinition").objects.create(name="pay")
        apps.get_model("flows", "FlowRun").objects.create(
            flow_id="f1", definition=definition, version=1
        )
    finally:
        apps = _migrate(AFTER)

    readers = apps.get_model("auth", "Group").objects.get(name="Readers")
    ada = apps.get_model("auth", "User").objects.get(username="ada")
    assert list(readers.permissions.values_list("codename", flat=True)) == ["view_runrecord"]
    assert list(ada.user_permissions.values_list("codename", flat=True)) == ["view_runrecord"]
    permissions = apps.get_model("auth", "Permission").objects
    assert not permissions.filter(content_type__model="flowrun").exists()
    assert "flows_flowrun" not in connection.introspection.table_names()


async def _ended_run(redis_url: str) -> RunSnapshot:
    """A run that ran to its end: attempts, logs, outputs and every time set."""
    runner = Runner(redis_url, concurrency=1)
    running = asyncio.create_task(runner.run(), name="migration-test-runner")
    try:
        async with FlowExecutor(redis_url) as executor:
            flow = chain_flow(2, "log('hi')\n{'b': 1, 'a': [attempt]}")
            flow_id = await executor.execute_flow(
                flow, {"z": 1, "y": 2}, meta={"launched_by": "ada"}
            )
            await executor.wait_for_flow(flow_id, timeout=30)
            (run,) = await executor.read_runs([flow_id])
            return run
    finally:
        runner.stop()
        await running


def _hashes_of(redis_url: str, run: RunSnapshot) -> tuple[dict, list[dict]]:
    """The run's hashes as Redis holds them: what the archive kept until 0008."""
    keys = Keys("", partitions_of(redis_url))
    with blocking_client(redis_url, decode_responses=True) as client:
        steps = [client.hgetall(keys.step(run.state.flow_id, step.step_id)) for step in run.steps]
        return client.hgetall(keys.flow(run.state.flow_id)), steps


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("latest_schema_after")
def test_archived_runs_move_from_redis_hashes_to_the_engines_versioned_form_and_back(
    redis_url: str,
):
    run = async_to_sync(_ended_run)(redis_url)
    flow_hash, step_hashes = _hashes_of(redis_url, run)
    apps = _migrate(HASHES)
    try:
        archive = apps.get_model("flows", "RunRecord").objects
        common = {"name": run.state.name, "status": "completed", "created_at": now()}
        archive.create(flow_id=run.state.flow_id, state=flow_hash, steps=step_hashes, **common)
        archive.create(flow_id="by-hand", **common)  # no hashes: never renderable
    finally:
        apps = _migrate(SNAPSHOTS)
    migrated = dict(apps.get_model("flows", "RunRecord").objects.values_list("flow_id", "snapshot"))
    apps = _migrate(HASHES)
    back = apps.get_model("flows", "RunRecord").objects.get(flow_id=run.state.flow_id)

    assert json.loads(migrated[run.state.flow_id])["version"] == RUN_DICT_VERSION
    assert RunSnapshot.from_dict(json.loads(migrated[run.state.flow_id])) == run
    assert migrated["by-hand"] == ""
    assert RunSnapshot.from_hashes(back.state, back.steps) == run


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("latest_schema_after")
def test_runs_that_failed_before_the_failure_inbox_get_their_error_signature():
    apps = _migrate([("flows", "0012_webhooks"), *AUTH])
    try:
        records = apps.get_model("flows", "RunRecord").objects
        for flow_id, status in (("f1", "failed"), ("f2", "failed"), ("c1", "completed")):
            records.create(
                flow_id=flow_id,
                name="pay",
                status=status,
                error=f"No such customer: cus_{flow_id}9",
                created_at=now(),
            )
    finally:
        apps = _migrate([("flows", "0015_failure_inbox"), *AUTH])

    signatures = dict(
        apps.get_model("flows", "RunRecord").objects.values_list("flow_id", "error_signature")
    )
    assert signatures == {
        "f1": error_signature("No such customer: cus_A1"),
        "f2": error_signature("No such customer: cus_A1"),
        "c1": "",
    }
