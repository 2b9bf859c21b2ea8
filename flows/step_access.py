"""What steps may reach on this site beyond their scripts, from the settings: the outbound HTTP
policy, and the secrets a script names. For the runners the web app starts and configures, and
for test runs in the web process, which are granted and redacted as a runner would."""

from __future__ import annotations

from django.conf import settings

from flows.engine import script_functions
from flows.engine.grants import Grant, HttpSettings, secret_names
from flows.engine.script_functions import ScriptModule
from flows.secrets import vault
from flows.validators import sentence


def site_http_settings() -> HttpSettings:
    return HttpSettings(
        settings.FLOWS_HTTP_ALLOW, settings.FLOWS_HTTP_ALLOW_PRIVATE, settings.FLOWS_HTTP_MAX_BYTES
    )


def script_modules() -> dict[str, ScriptModule]:
    """The site's script function modules (FLOWS_SCRIPT_MODULES), for the script check and the
    editor's help; a bad entry stops start-up in the AppConfig."""
    return script_functions.load(settings.FLOWS_SCRIPT_MODULES)


def script_problem(script: str) -> str | None:
    """What would fail a step that parses: a call of a script function that does not exist,
    or a secret that is not set (yet)."""
    if unknown := script_functions.unknown_call(script, script_modules()):
        return sentence(unknown)
    if unset := vault.unset_names(script):
        return f"Secret {unset[0]} is not set: an admin sets it on the Secrets page."
    return None


def grant_for_test(script: str) -> Grant:
    """What a test run of the script gets; ValueError names a secret that is not set."""
    return Grant(vault.values(list(secret_names(script))), site_http_settings().grant(None))
