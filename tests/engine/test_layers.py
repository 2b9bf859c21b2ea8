"""The engine is a library of its own: it imports no Django and runs on the embedded Redis; and
it is the one door to its state: the web side neither builds its keys, nor loads its Lua
scripts, nor parses its hashes."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio as redis

from flows.engine import FlowExecutor, FlowStatus, Runner
from flows.engine.keys import Keys
from flows.engine.mock_api import MockApiError, MockApiTimeout, mock_api
from flows.engine.server_version import check_server
from flowsite.embedded_redis import EmbeddedRedis
from tests.engine.flows import one_step_flow
from tests.site_settings import load_site_settings


def test_importing_the_engine_or_the_pure_modules_beside_it_loads_no_django_module():
    """The engine, and the modules of plain Python the web side uses: the graph's layout, error
    signatures (the archive's and the failure inbox's) and the inbox's sparklines."""
    code = (
        "import sys\n"
        "from flows import new_step, new_flow, FlowExecutor, FlowStatus, StepStatus\n"
        "import flows.engine, flows.engine.cli, flows.runner, flows.graph_layout\n"
        "import flows.error_signatures, flows.failures.sparkline\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'django'))\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment
    )
    assert loaded.stdout.strip() == "[]"


ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "flows" / "engine"
# The engine's Redis layout: its keys, and the scripts that know them.
LAYOUT_MODULES = {"flows.engine.keys", "flows.engine.lua_scripts"}


def _outside_the_engine() -> list[Path]:
    files = [*(ROOT / "flows").rglob("*.py"), *(ROOT / "flowsite").rglob("*.py")]
    return [path for path in files if ENGINE not in path.parents]


def _imported(tree: ast.Module) -> set[str]:
    """Every module the code imports, `from package import module` counted as the module."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_nothing_outside_the_engine_builds_its_keys_or_loads_its_scripts():
    reaching_in = {
        str(path.relative_to(ROOT)): sorted(_imported(ast.parse(path.read_text())) & LAYOUT_MODULES)
        for path in _outside_the_engine()
    }

    assert {path: modules for path, modules in reaching_in.items() if modules} == {}


def test_nothing_outside_the_engine_spells_its_keys_reads_its_lua_or_parses_its_hashes():
    keys = Keys()
    part = keys.partitions[0]
    names = [part.queue, part.delayed, part.events, part.runs, keys.secrets, keys.cancel_channel]
    names += [keys.runners]
    names += [keys.watchers("", "").removesuffix(":"), part.run_page_watchers]
    texts = {str(path.relative_to(ROOT)): path.read_text() for path in _outside_the_engine()}

    assert [path for path, text in texts.items() if any(name in text for name in names)] == []
    assert [path for path, text in texts.items() if ".lua" in text] == []
    assert [path for path, text in texts.items() if "from_hash(" in text] == []


async def test_a_flow_completes_on_the_embedded_redis_when_redis_url_is_unset(tmp_path):
    with EmbeddedRedis(tmp_path / "redis") as server:
        runner = Runner(server.url, concurrency=1)
        import asyncio

        task = asyncio.create_task(runner.run())
        async with FlowExecutor(server.url) as executor:
            flow_id = await executor.execute_flow(one_step_flow("'embedded'"))
            final = await executor.wait_for_flow(flow_id, timeout=30)
            assert (await executor.get_step_state(flow_id, "one")).output == "embedded"
        runner.stop()
        await task
    assert final.status == FlowStatus.COMPLETED
    # Persisted (append-only file): a new server in the same folder still holds the run.
    with EmbeddedRedis(tmp_path / "redis") as server:
        async with FlowExecutor(server.url) as executor:
            assert (await executor.get_flow_state(flow_id)).status == FlowStatus.COMPLETED


async def test_the_embedded_server_is_a_current_valkey(tmp_path):
    with EmbeddedRedis(tmp_path / "redis") as server:
        async with redis.Redis.from_url(server.url) as client:
            version = await check_server(client)
    assert version.name == "Valkey"
    assert version.version >= (9, 1)


def test_the_settings_point_at_the_embedded_redis_when_redis_url_is_unset(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    environment |= {
        "DJANGO_SETTINGS_MODULE": "flowsite.settings",
        "FLOWSITE_VAR_DIR": str(tmp_path),
    }
    code = "from django.conf import settings; print(settings.REDIS_EMBEDDED, settings.REDIS_URL)"
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment
    )
    assert shown.stdout.split() == ["True", f"unix://{tmp_path / 'redis' / 'redis.sock'}"]


def test_bad_settings_stop_start_up_naming_the_variable(tmp_path):
    shown = load_site_settings(tmp_path, REDIS_URL="http://nope")

    assert shown.returncode != 0
    message = "REDIS_URL must be a redis://, rediss://, unix:// or redis+cluster:// URL"
    assert message in shown.stderr


def test_mock_api_behaves_the_same_from_python():
    assert mock_api("success", payload={"ok": 1}) == {"ok": 1}
    assert mock_api("flaky", fail_times=1, attempt=2)["status"] == "ok"
    with pytest.raises(MockApiError, match="flaky failure on attempt 1"):
        mock_api("flaky", fail_times=1, attempt=1)
    with pytest.raises(MockApiError, match="answered 500"):
        mock_api("failure")
    with pytest.raises(MockApiTimeout, match=r"did not answer within 0\.01s"):
        mock_api("timeout", timeout=0.01)
    with pytest.raises(ValueError, match="use one of success, failure, timeout, flaky, slow"):
        mock_api("sideways")
