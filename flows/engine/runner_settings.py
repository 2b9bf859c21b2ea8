"""A runner's settings in one place: their defaults, and a strict reading of them from the
environment for a runner started without Django (`python -m flows.engine`, which is also what
the web process runs as its child). The web app's settings take their defaults from here
(flowsite/settings.py), and `manage.py runflows` builds a RunnerSettings from them, so a runner
is configured alike however it is started.

A bad value stops start-up with a SettingsError naming the variable (environment.py, whose
readers the web app's settings use too).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from flows.engine.environment import SettingsError, read_bool, read_int, read_redis_url
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
            redis_url=read_redis_url(environ, "REDIS_URL"),
            key_prefix=environ.get("FLOWS_KEY_PREFIX", ""),
            concurrency=read_int(environ, "FLOWS_RUNNER_CONCURRENCY", DEFAULT_CONCURRENCY, 1),
            retention_seconds=read_int(
                environ, "FLOWS_RETENTION_SECONDS", DEFAULT_RETENTION_SECONDS
            ),
            script_modules=parse_specs(environ.get("FLOWS_SCRIPT_MODULES", "")),
            http=_http(environ),
            secrets_key=environ.get("FLOWS_SECRETS_KEY", ""),
        )


def _http(environ: Mapping[str, str]) -> HttpSettings:
    try:
        return HttpSettings(
            environ.get("FLOWS_HTTP_ALLOW", ""),
            read_bool(environ, "FLOWS_HTTP_ALLOW_PRIVATE", False),
            read_int(environ, "FLOWS_HTTP_MAX_BYTES", HTTP_DEFAULT_MAX_BYTES, 1),
        )
    except SettingsError:
        raise
    except ValueError as error:  # the allow-list, named by HttpSettings
        raise SettingsError(str(error)) from None
