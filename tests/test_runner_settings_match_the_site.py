"""A runner started without Django refuses a bad setting in the same words as the web app."""

from __future__ import annotations

import pytest

from flows.engine.environment import SettingsError
from flows.engine.runner_settings import RunnerSettings
from tests.site_settings import load_site_settings


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
    site = load_site_settings(tmp_path, **{name: value})
    with pytest.raises(SettingsError) as runner:
        RunnerSettings.from_env({name: value})

    assert site.returncode != 0
    assert f"ImproperlyConfigured: {runner.value}\n" in site.stderr
