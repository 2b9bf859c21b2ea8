"""Data migrations, run for real: back to the migration before, some data, then forward."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# Latest migrations of the apps whose models the tests use, so their state is the real one.
AUTH = [
    ("contenttypes", "0002_remove_content_type_name"),
    ("auth", "0012_alter_user_first_name_max_length"),
]
BEFORE = [("flows", "0002_archive_and_audit"), *AUTH]
AFTER = [("flows", "0003_runs_are_run_records"), *AUTH]


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
