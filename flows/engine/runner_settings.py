"""A runner's settings in one place: their defaults, and a strict reading of them from the
environment for a runner started without Django (`python -m flows.engine`, which is also what
the web process runs as its child). The web app's settings take their defaults from here
(flowsite/settings.py), and `manage.py runflows` builds a RunnerSettings from them, so a runner
is configured alike however it is started.

A bad value stops start-up with a SettingsError naming the variable, worded as the web app's own
strict settings are (flowsite/env.py), instead of surfacing later as a confusing failure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from flows.engine.grants import HttpSettings
from flows.engine.sandbox.limits import HTTP_DEFAULT_MAX_BYTES, MEMORY_MB
from flows.engine.script_functions import parse_specs

DEFAULT_CONCURRENCY = 4
# A runner renews the lease on the tasks it holds every third of this; once a dead runner's
# lease lapses, another runner takes its tasks over (and runs their steps again).
DEFAULT_LEASE_SECONDS = 5.0
# How long running steps get to finish on SIGTERM before they are handed back.
DEFAULT_SHUTDOWN_GRACE_SECONDS = 10.0
# How long an ended run's state stays in Redis (its history lives on in the web app's archive).
DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_REDIS_SCHEMES = {"redis", "rediss", "unix"}


class SettingsError(ValueError):
    """A setting the runner cannot run with; the message names its variable."""


@dataclass(frozen=True)
class RunnerSettings:
    redis_url: str = ""
    key_prefix: str = ""
    concurrency: int = DEFAULT_CONCURRENCY
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    shutdown_grace_seconds: float = DEFAULT_SHUTDOWN_GRACE_SECONDS
    retention_seconds: int = DEFAULT_RETENTION_SECONDS
    sandbox_memory_mb: int = MEMORY_MB
    # FLOWS_SCRIPT_MODULES entries scripts may call.
    script_modules: tuple[str, ...] = ()
    # What steps may reach over HTTP: nothing unless the site says.
    http: HttpSettings = field(default_factory=HttpSettings)
    # FLOWS_SECRETS_KEY, without which steps that read secrets fail.
    secrets_key: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> RunnerSettings:
        """The settings the environment gives, the defaults for the rest; SettingsError names
        a bad value. Read: REDIS_URL, FLOWS_KEY_PREFIX, FLOWS_RUNNER_CONCURRENCY,
        FLOWS_RETENTION_SECONDS, FLOWS_SCRIPT_MODULES, FLOWS_SECRETS_KEY and FLOWS_HTTP_ALLOW,
        _ALLOW_PRIVATE, _MAX_BYTES: the variables the web app's settings read too."""
        return cls(
            redis_url=_redis_url(environ, "REDIS_URL"),
            key_prefix=environ.get("FLOWS_KEY_PREFIX", ""),
            concurrency=_int(environ, "FLOWS_RUNNER_CONCURRENCY", DEFAULT_CONCURRENCY, 1),
            retention_seconds=_int(environ, "FLOWS_RETENTION_SECONDS", DEFAULT_RETENTION_SECONDS),
            script_modules=parse_specs(environ.get("FLOWS_SCRIPT_MODULES", "")),
            http=_http(environ),
            secrets_key=environ.get("FLOWS_SECRETS_KEY", ""),
        )


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise SettingsError(f"{name} must be true or false (1/0, yes/no, on/off), got {raw!r}")
    return value in _TRUE


def _redis_url(environ: Mapping[str, str], name: str) -> str:
    """A redis://, rediss:// or unix:// URL, or '' when unset."""
    raw = environ.get(name, "").strip()
    if raw and urlparse(raw).scheme not in _REDIS_SCHEMES:
        raise SettingsError(f"{name} must be a redis://, rediss:// or unix:// URL, got {raw!r}")
    return raw


def _http(environ: Mapping[str, str]) -> HttpSettings:
    try:
        return HttpSettings(
            environ.get("FLOWS_HTTP_ALLOW", ""),
            _bool(environ, "FLOWS_HTTP_ALLOW_PRIVATE", False),
            _int(environ, "FLOWS_HTTP_MAX_BYTES", HTTP_DEFAULT_MAX_BYTES, 1),
        )
    except SettingsError:
        raise
    except ValueError as error:  # the allow-list, named by HttpSettings
        raise SettingsError(str(error)) from None
