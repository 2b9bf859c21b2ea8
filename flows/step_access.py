"""What steps may reach on this site beyond their scripts, from the settings: the outbound HTTP
policy, and the secrets a script names. For the runners the web app starts and configures, and
for test runs in the web process, which are granted and redacted as a runner would."""

from __future__ import annotations

from django.conf import settings

from flows import secrets
from flows.engine.grants import Grant, HttpSettings, secret_names


def site_http_settings() -> HttpSettings:
    return HttpSettings(
        settings.FLOWS_HTTP_ALLOW, settings.FLOWS_HTTP_ALLOW_PRIVATE, settings.FLOWS_HTTP_MAX_BYTES
    )


def grant_for_test(script: str) -> Grant:
    """What a test run of the script gets; ValueError names a secret that is not set."""
    return Grant(secrets.values(list(secret_names(script))), site_http_settings().grant(None))
