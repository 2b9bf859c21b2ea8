"""Strict readers of settings from the environment: a bad value stops start-up with a message
naming the variable, instead of surfacing later as a confusing failure. The engine's runner
reads its settings with these, and so does the web app (flowsite/env.py), in the same words."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlparse

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_REDIS_SCHEMES = {"redis", "rediss", "unix"}


class SettingsError(ValueError):
    """A setting that cannot be run with; the message names its variable."""


def read_int(environ: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
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


def read_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise SettingsError(f"{name} must be true or false (1/0, yes/no, on/off), got {raw!r}")
    return value in _TRUE


def read_redis_url(environ: Mapping[str, str], name: str) -> str:
    """A redis://, rediss:// or unix:// URL, or '' when unset."""
    raw = environ.get(name, "").strip()
    if not raw:
        return ""
    parsed = urlparse(raw)
    if parsed.scheme not in _REDIS_SCHEMES:
        raise SettingsError(f"{name} must be a redis://, rediss:// or unix:// URL, got {raw!r}")
    try:
        database = parsed.path.strip("/")
        if parsed.scheme != "unix" and database and not database.isdigit():
            raise ValueError
        parsed.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise SettingsError(f"{name} is not a valid Redis URL: {raw!r}") from None
    return raw
