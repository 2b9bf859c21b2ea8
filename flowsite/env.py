"""Strict readers for settings taken from the environment: a bad value stops start-up with a
message naming the variable, instead of surfacing later as a confusing failure. The engine's
readers (flows/engine/environment.py) check the values, so a runner started without Django
refuses a bad value in the same words."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ImproperlyConfigured

from flows.engine.environment import SettingsError, read_bool, read_int, read_redis_url


@contextmanager
def _named_in_start_up_error() -> Iterator[None]:
    """The engine's readers say what is wrong; Django stops start-up with it."""
    try:
        yield
    except SettingsError as error:
        raise ImproperlyConfigured(str(error)) from None


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    with _named_in_start_up_error():
        return read_bool(os.environ, name, default)


def env_int(name: str, default: int, minimum: int = 0) -> int:
    with _named_in_start_up_error():
        return read_int(os.environ, name, default, minimum)


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# A bearer token shorter than this could be guessed.
MIN_TOKEN_LENGTH = 16


def env_token(name: str) -> str:
    """A secret token, or "" when unset; a short one is refused rather than guessed."""
    token = os.environ.get(name, "").strip()
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise ImproperlyConfigured(f"{name} must be at least {MIN_TOKEN_LENGTH} characters long")
    return token


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Comma-separated addresses or CIDRs (`10.0.0.0/8, ::1`); none when unset."""
    try:
        return [ipaddress.ip_network(item) for item in env_list(name, [])]
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} is not a list of addresses or CIDRs: {error}") from None


def env_redis_url(name: str) -> str | None:
    """A redis://, rediss:// or unix:// URL, or None when unset (the embedded server is used)."""
    with _named_in_start_up_error():
        return read_redis_url(os.environ, name) or None


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
