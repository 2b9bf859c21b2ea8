"""Strict readers for settings taken from the environment: a bad value stops start-up with a
message naming the variable, instead of surfacing later as a confusing failure."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (1/0, yes/no, on/off), got {raw!r}")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_redis_url(name: str) -> str | None:
    """A redis://, rediss:// or unix:// URL, or None when unset (the embedded server is used)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    parsed = urlparse(raw)
    if parsed.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(
            f"{name} must be a redis://, rediss:// or unix:// URL, got {raw!r}"
        )
    try:
        database = parsed.path.strip("/")
        if parsed.scheme != "unix" and database and not database.isdigit():
            raise ValueError
        parsed.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ImproperlyConfigured(f"{name} is not a valid Redis URL: {raw!r}") from None
    return raw


def env_database(name: str, default_url: str) -> dict:
    """The database named by the URL; SQLite with a write-ahead log: pages read while the
    archiver writes, and web workers never wait for each other's reads. (With SQLite's default
    journal every commit locked the readers out, and each retried after growing sleeps: the
    slowest Runs pages under load.)"""
    import dj_database_url

    raw = os.environ.get(name, "").strip() or default_url
    try:
        database = dj_database_url.parse(raw, conn_max_age=60, conn_health_checks=True)
    except (ValueError, KeyError) as error:
        raise ImproperlyConfigured(
            f"{name} is not a valid database URL ({error}): {raw!r}"
        ) from None
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("OPTIONS", {})["init_command"] = "PRAGMA journal_mode=WAL;"
    return database
