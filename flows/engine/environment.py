"""Strict readers of settings from the environment: a bad value stops start-up with a message
naming the variable, instead of surfacing later as a confusing failure. The engine's runner
reads its settings with these, and so does the web app (flowsite/env.py), in the same words."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlparse

from flows.engine.connections import CLUSTER_SCHEMES, partitions_of, with_partitions
from flows.engine.keys import MAX_PARTITIONS

PARTITIONS_VARIABLE = "FLOWS_PARTITIONS"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_REDIS_SCHEMES = {"redis", "rediss", "unix", *CLUSTER_SCHEMES}


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
    """A redis://, rediss://, unix:// or redis+cluster:// URL (with Flowsite's `partitions=N`
    if it says, or if FLOWS_PARTITIONS does: connections.py), or '' when unset."""
    raw = environ.get(name, "").strip()
    if not raw:
        return ""
    if PARTITIONS_VARIABLE in environ:
        partitions = read_int(environ, PARTITIONS_VARIABLE, 0)
        try:
            raw = with_partitions(raw, partitions)
        except ValueError as error:
            raise SettingsError(f"{name} and {PARTITIONS_VARIABLE} disagree: {error}") from None
    parsed = urlparse(raw)
    if parsed.scheme not in _REDIS_SCHEMES:
        raise SettingsError(
            f"{name} must be a redis://, rediss://, unix:// or redis+cluster:// URL, got {raw!r}"
        )
    try:
        database = parsed.path.strip("/")
        if parsed.scheme != "unix" and database and not database.isdigit():
            raise ValueError
        parsed.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise SettingsError(f"{name} is not a valid Redis URL: {raw!r}") from None
    try:
        partitions = partitions_of(raw)
    except ValueError as error:
        raise SettingsError(f"{name}: {error}") from None
    if not 0 <= partitions <= MAX_PARTITIONS:
        raise SettingsError(f"{name}: partitions must be 0 to {MAX_PARTITIONS}, got {partitions}")
    return raw
