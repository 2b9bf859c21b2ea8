"""A runner's settings: the engine's defaults, read strictly from the environment (as the web
app reads them), then overridden by the command line's options."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flows.engine.cli import parse_command_line
from flows.engine.environment import SettingsError
from flows.engine.grants import HttpSettings
from flows.engine.runner_settings import RunnerSettings

ENVIRONMENT = {
    "REDIS_URL": "redis://127.0.0.1:6379/3",
    "FLOWS_KEY_PREFIX": "tenant:",
    "FLOWS_RUNNER_CONCURRENCY": "3",
    "FLOWS_RETENTION_SECONDS": "60",
    "FLOWS_SCRIPT_MODULES": "text=flows.script_functions.text",
    "FLOWS_SECRETS_KEY": "key",
    "FLOWS_HTTP_ALLOW": "api.example.com",
    "FLOWS_HTTP_ALLOW_PRIVATE": "yes",
    "FLOWS_HTTP_MAX_BYTES": "1000",
}
BAD = {
    "FLOWS_RUNNER_CONCURRENCY=four": "FLOWS_RUNNER_CONCURRENCY must be a whole number, got 'four'",
    "FLOWS_RUNNER_CONCURRENCY=0": "FLOWS_RUNNER_CONCURRENCY must be at least 1, got 0",
    "FLOWS_RETENTION_SECONDS=-1": "FLOWS_RETENTION_SECONDS must be at least 0, got -1",
    "FLOWS_HTTP_MAX_BYTES=0": "FLOWS_HTTP_MAX_BYTES must be at least 1, got 0",
    "FLOWS_HTTP_ALLOW_PRIVATE=maybe": (
        "FLOWS_HTTP_ALLOW_PRIVATE must be true or false (1/0, yes/no, on/off), got 'maybe'"
    ),
    "FLOWS_HTTP_ALLOW=a/b": "FLOWS_HTTP_ALLOW: 'a/b' is not a host, *.domain or host:port",
    "REDIS_URL=http://nope": (
        "REDIS_URL must be a redis://, rediss://, unix:// or redis+cluster:// URL, got 'http://nope'"
    ),
}
CASES = pytest.mark.parametrize(("assignment", "message"), BAD.items(), ids=BAD.keys())


def test_the_environment_sets_what_it_names_and_the_defaults_the_rest():
    settings = RunnerSettings.from_env(ENVIRONMENT)

    assert settings == RunnerSettings(
        redis_url="redis://127.0.0.1:6379/3",
        key_prefix="tenant:",
        concurrency=3,
        retention_seconds=60,
        script_modules=("text=flows.script_functions.text",),
        http=HttpSettings("api.example.com", allow_private=True, max_bytes=1000),
        secrets_key="key",
    )
    assert (settings.lease_seconds, settings.shutdown_grace_seconds) == (5.0, 10.0)
    assert RunnerSettings.from_env({}) == RunnerSettings()


def test_the_defaults_are_four_steps_at_once_for_a_week_of_retention():
    defaults = RunnerSettings()

    assert (defaults.concurrency, defaults.retention_seconds) == (4, 7 * 24 * 3600)
    assert defaults.sandbox_memory_mb == 256


@CASES
def test_a_bad_value_is_refused_naming_its_variable(assignment: str, message: str):
    name, _, value = assignment.partition("=")

    with pytest.raises(SettingsError) as refused:
        RunnerSettings.from_env({name: value})

    assert str(refused.value) == message


def test_the_command_line_reads_the_environment_and_its_options_win():
    from_env, _ = parse_command_line([], ENVIRONMENT)
    overridden, _ = parse_command_line(
        [
            "--concurrency",
            "2",
            "--shutdown-grace",
            "0.5",
            "--script-module",
            "shop=tests.engine.shop_functions",
        ],
        ENVIRONMENT,
    )

    assert (from_env.concurrency, from_env.retention_seconds) == (3, 60)
    assert (from_env.key_prefix, from_env.http.allow) == ("tenant:", "api.example.com")
    assert (overridden.concurrency, overridden.shutdown_grace_seconds) == (2, 0.5)
    assert overridden.retention_seconds == 60
    assert overridden.script_modules == (
        "text=flows.script_functions.text",
        "shop=tests.engine.shop_functions",
    )


@pytest.mark.parametrize(
    ("argv", "environment", "message"),
    [
        (
            [],
            {**ENVIRONMENT, "FLOWS_RUNNER_CONCURRENCY": "x"},
            BAD["FLOWS_RUNNER_CONCURRENCY=four"],
        ),
        ([], {}, "--redis-url is required (or set REDIS_URL)"),
        (["--concurrency", "0"], ENVIRONMENT, "--concurrency must be at least 1"),
        (["--script-module", "nowhere.at.all"], ENVIRONMENT, "cannot be imported"),
    ],
    ids=["environment", "no Redis", "option", "script module"],
)
def test_the_command_line_stops_on_a_bad_setting_naming_it(
    argv: list[str], environment: dict[str, str], message: str, capsys: pytest.CaptureFixture
):
    with pytest.raises(SystemExit) as stopped:
        parse_command_line(argv, environment)

    assert stopped.value.code == 2
    assert message.replace("'four'", "'x'") in capsys.readouterr().err


@pytest.mark.parametrize("module", ["flows.engine", "flows.runner"])
def test_the_runner_starts_as_python_dash_m_flows_engine_or_its_earlier_name(module: str):
    answer = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=True
    )

    assert answer.stdout.startswith("usage: python -m flows.engine")
