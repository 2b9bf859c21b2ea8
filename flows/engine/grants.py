"""What a runner grants a step beyond its script: the HTTP policy, and the values of the secrets
the script names (only those), and what it redacts from the attempt's result before storing it.

A runner without Django configures this from its environment (RunnerSettings.from_env); the web
app passes its settings.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import redis.asyncio as redis

from flows.engine.allow_list import parse_allow_list
from flows.engine.keys import Keys
from flows.engine.sandbox.limits import HTTP_DEFAULT_MAX_BYTES
from flows.engine.sandbox.starlark_runtime import ScriptResult
from flows.engine.sandbox.syntax import ScriptError
from flows.engine.secrets import SecretBox, SecretError, SecretStore, redact, redact_value
from flows.engine.secrets import secret_names as _secret_names


@dataclass(frozen=True)
class HttpSettings:
    """The site's outbound HTTP policy: FLOWS_HTTP_ALLOW, _ALLOW_PRIVATE and _MAX_BYTES."""

    allow: str = ""
    allow_private: bool = False
    max_bytes: int = HTTP_DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        try:
            parse_allow_list(self.allow)
        except ValueError as error:
            raise ValueError(f"FLOWS_HTTP_ALLOW: {error}") from None
        if self.max_bytes < 1:
            raise ValueError("FLOWS_HTTP_MAX_BYTES must be at least 1")

    def grant(self, flow_hosts: str | None) -> dict[str, Any]:
        """What a request carries to the worker (host.py's http_policy reads it)."""
        return {
            "site": self.allow,
            "flow": flow_hosts,
            "allow_private": self.allow_private,
            "max_bytes": self.max_bytes,
        }


@lru_cache(maxsize=1024)
def secret_names(script: str) -> tuple[str, ...]:
    """The secrets a script names (the check refuses a script that names one otherwise)."""
    return tuple(_secret_names(script)[0])


@dataclass(frozen=True)
class Grant:
    secrets: dict[str, str] = field(default_factory=dict)
    http: dict[str, Any] = field(default_factory=dict)

    def redacted(self, result: ScriptResult) -> ScriptResult:
        """The result with every secret value replaced by [secret:NAME]: what a run keeps
        (Redis, the archive, the pages, the API, the logs) never holds one."""
        if not self.secrets:
            return result
        output_json = result.output_json
        if output_json is not None:
            output = redact_value(json.loads(output_json), self.secrets)
            output_json = json.dumps(output, ensure_ascii=False, separators=(",", ":"))
        error = result.error
        if error is not None:
            error = ScriptError(redact(error.message, self.secrets), error.line, error.column)
        logs = [redact(line, self.secrets) for line in result.logs]
        return dataclasses.replace(result, output_json=output_json, error=error, logs=logs)


class StepGrants:
    def __init__(
        self, client: redis.Redis, keys: Keys, http: HttpSettings, secrets_key: str = ""
    ) -> None:
        self.http = http
        box = SecretBox.from_setting(secrets_key) if secrets_key else None
        self.store = SecretStore(client, keys, box) if box else None

    async def for_script(self, script: str, flow_hosts: str | None) -> Grant:
        """SecretError when a secret the script names cannot be had."""
        names = list(secret_names(script))
        if names and self.store is None:
            raise SecretError("this runner has no FLOWS_SECRETS_KEY, so it cannot read secrets")
        secrets = await self.store.read(names) if names and self.store else {}
        return Grant(secrets, self.http.grant(flow_hosts))
