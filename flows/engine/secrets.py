"""Secrets a step script reads with `secret("NAME")`: encrypted wherever they are stored, sent
to a sandbox worker only when its script names them, and redacted from everything a run keeps.

Values are encrypted with Fernet (the `cryptography` package) under FLOWS_SECRETS_KEY, a
comma-separated list of keys: the first encrypts, any decrypts, so a key is rotated by putting
a new one first and re-encrypting (SecretBox.rotate). The engine keeps the encrypted values in
Redis (Keys.secrets), where any runner, with Django or without, finds them; the web app keeps
the same tokens in its database, the copy that outlives Redis, and mirrors them into Redis.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import redis.asyncio as redis
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from flows.engine.keys import Keys
from flows.engine.sandbox.syntax import ScriptError

SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
SECRET_NAME_HELP = "capital letters, digits and underscores, starting with a letter (at most 64)"
MAX_SECRET_BYTES = 64 * 1024

# A call `secret(...)`, and the literal it must be called with.
_SECRET_CALL = re.compile(r"\bsecret\s*\(")
_LITERAL_ARGUMENT = re.compile(r"""\s*(?:"([^"\\\n]*)"|'([^'\\\n]*)')\s*\)""")


class SecretError(ValueError):
    pass


def new_key() -> str:
    return Fernet.generate_key().decode()


def validate_secret_name(name: str) -> str:
    if not SECRET_NAME.match(name):
        raise SecretError(f"secret name {name!r} must be {SECRET_NAME_HELP}")
    return name


class SecretBox:
    """Encrypts and decrypts secret values under the site's keys (newest first)."""

    def __init__(self, keys: Iterable[str]) -> None:
        keys = [key.strip() for key in keys if key.strip()]
        if not keys:
            raise SecretError("no secrets key: set FLOWS_SECRETS_KEY")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError:
            raise SecretError(
                "FLOWS_SECRETS_KEY must be Fernet keys (32 url-safe base64-encoded bytes), "
                "separated by commas"
            ) from None

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        return cls(value.split(","))

    def encrypt(self, value: str) -> str:
        if len(value.encode()) > MAX_SECRET_BYTES:
            raise SecretError(f"a secret's value is at most {MAX_SECRET_BYTES:,} bytes")
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretError(
                "a secret cannot be decrypted with FLOWS_SECRETS_KEY: was it encrypted under "
                "a key no longer listed?"
            ) from None

    def rotate(self, token: str) -> str:
        """The same value encrypted under the first key."""
        return self._fernet.rotate(token.encode()).decode()


def secret_names(script: str) -> tuple[list[str], ScriptError | None]:
    """The secrets a script names, in order, and the first call that names none by a string
    literal (the runner sends a worker only the secrets its script names, so it must be able
    to tell which without running it)."""
    names: list[str] = []
    for call in _SECRET_CALL.finditer(script):
        literal = _LITERAL_ARGUMENT.match(script, call.end())
        line = script.count("\n", 0, call.start()) + 1
        column = call.start() - script.rfind("\n", 0, call.start())
        if literal is None:
            message = 'secret() takes the name as a string literal, e.g. secret("API_KEY")'
            return names, ScriptError(message, line, column)
        name = literal.group(1) if literal.group(1) is not None else literal.group(2)
        if not SECRET_NAME.match(name):
            return names, ScriptError(f"secret name {name!r}: {SECRET_NAME_HELP}", line, column)
        if name not in names:
            names.append(name)
    return names, None


def redact(text: str, secrets: Mapping[str, str]) -> str:
    """The text with every secret value in it replaced by `[secret:NAME]`."""
    for name, value in sorted(secrets.items(), key=lambda item: -len(item[1])):
        if value and value in text:
            text = text.replace(value, f"[secret:{name}]")
    return text


def redact_value(value: Any, secrets: Mapping[str, str]) -> Any:
    """redact() through a JSON value's strings (keys too)."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, list):
        return [redact_value(item, secrets) for item in value]
    if isinstance(value, dict):
        return {redact(k, secrets): redact_value(v, secrets) for k, v in value.items()}
    return value


class SecretStore:
    """The encrypted values in Redis, as runners read them."""

    def __init__(self, client: redis.Redis, keys: Keys, box: SecretBox) -> None:
        self.client = client
        self.keys = keys
        self.box = box

    async def read(self, names: list[str]) -> dict[str, str]:
        """The named secrets' values; SecretError naming the first that is not set."""
        if not names:
            return {}
        tokens = await self.client.hmget(self.keys.secrets, names)
        missing = [name for name, token in zip(names, tokens, strict=True) if token is None]
        if missing:
            raise SecretError(f"secret {missing[0]} is not set: an admin sets it on Secrets")
        return {name: self.box.decrypt(token) for name, token in zip(names, tokens, strict=True)}


async def replace_tokens(client: redis.Redis, keys: Keys, tokens: Mapping[str, str]) -> None:
    """Make Redis hold exactly these encrypted values (the web app's copy), atomically."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.delete(keys.secrets)
        if tokens:
            pipe.hset(keys.secrets, mapping=dict(tokens))
        await pipe.execute()
