"""A runner started without Django refuses a bad setting in the same words as the web app."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flows.engine.runner_settings import RunnerSettings, SettingsError


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FLOWS_RUNNER_CONCURRENCY", "four"),
        ("FLOWS_RUNNER_CONCURRENCY", "0"),
        ("FLOWS_RETENTION_SECONDS", "-1"),
        ("FLOWS_HTTP_ALLOW_PRIVATE", "maybe"),
        ("FLOWS_HTTP_MAX_BYTES", "lots"),
    ],
)
def test_a_bad_value_stops_the_site_and_a_runner_in_the_same_words(tmp_path, name, value):
    environment = dict(
        os.environ,
        **{name: value},
        FLOWSITE_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="flowsite.settings",
    )
    site = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; settings.REDIS_URL"],
        capture_output=True,
        text=True,
        env=environment,
    )
    with pytest.raises(SettingsError) as runner:
        RunnerSettings.from_env({name: value})

    assert site.returncode != 0
    assert f"ImproperlyConfigured: {runner.value}\n" in site.stderr
