"""The engine's validators as Django field validators: a model field that accepts a value is
one the engine's builder accepts, in the builder pages and the Django admin alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError

from flows.engine.builder import (
    validate_allowed_hosts,
    validate_name,
    validate_retries,
    validate_script,
    validate_timeout,
)
from flows.engine.secrets import validate_secret_name


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def _as_field_error(check: Callable[[Any], None], value: Any) -> None:
    try:
        check(value)
    except ValueError as error:
        raise ValidationError(_sentence(str(error))) from None


def script_problem(script: str) -> str | None:
    """What the engine says is wrong with a script (with line and column), or None."""
    try:
        validate_script(script)
    except ValueError as error:
        return _sentence(str(error))
    return None


def step_name_validator(value: str) -> None:
    _as_field_error(validate_name, value)


def flow_name_validator(value: str) -> None:
    _as_field_error(lambda name: validate_name(name, what="flow"), value)


def script_validator(value: str) -> None:
    if problem := script_problem(value):
        raise ValidationError(problem)


def timeout_validator(value: float) -> None:
    _as_field_error(validate_timeout, value)


def retries_validator(value: int) -> None:
    _as_field_error(validate_retries, value)


def secret_name_validator(value: str) -> None:
    _as_field_error(validate_secret_name, value)


def allowed_hosts_validator(value: str) -> None:
    _as_field_error(validate_allowed_hosts, value)
