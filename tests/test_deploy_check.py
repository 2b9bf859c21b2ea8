"""Production settings come from the environment: with HTTPS configured, Django's deployment
checklist (`manage.py check --deploy`) has nothing to say."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "flows.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://flows.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def _check_deploy(tmp_path, **environment: str) -> subprocess.CompletedProcess:
    environment = dict(
        os.environ,
        FLOWSITE_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="flowsite.settings",
        **environment,
    )
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"]
    return subprocess.run(command, env=environment, capture_output=True, text=True)


def test_check_deploy_is_clean_with_a_production_environment(tmp_path):
    checked = _check_deploy(tmp_path, **PRODUCTION)

    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues (0 silenced)." in checked.stdout


def test_a_bad_hsts_value_stops_start_up_naming_the_variable(tmp_path):
    checked = _check_deploy(tmp_path, **{**PRODUCTION, "SECURE_HSTS_SECONDS": "one year"})

    assert checked.returncode != 0
    assert "SECURE_HSTS_SECONDS must be a whole number, got 'one year'" in checked.stderr
