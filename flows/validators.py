"""The engine's validators as Django field validators: a model field that accepts a value is
one the engine's builder accepts, in the builder pages and the Django admin alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from flows.cron import Cron, zone
from flows.engine.builder import (
    validate_allowed_hosts,
    validate_condition,
    validate_name,
    validate_retries,
    validate_script,
    validate_timeout,
)
from flows.engine.concurrency import parse_input_path
from flows.engine.secrets import validate_secret_name


def sentence(message: object) -> str:
    """An engine message ("step 'a': ...") as the start of a sentence, for the page."""
    text = str(message)
    return text[:1].upper() + text[1:]


def _problem(check: Callable[[Any], None], value: Any) -> str | None:
    """What `check` (an engine validator) says is wrong with the value, as the start of a
    sentence for the page, or None."""
    try:
        check(value)
    except ValueError as error:
        return sentence(error)
    return None


def _as_field_error(check: Callable[[Any], None], value: Any) -> None:
    if problem := _problem(check, value):
        raise ValidationError(problem)


def _cron(expression: str) -> None:
    Cron(expression, "UTC")


def script_problem(script: str) -> str | None:
    """What the engine says is wrong with a script (with line and column), or None."""
    return _problem(validate_script, script)


def condition_problem(condition: str) -> str | None:
    """What the engine says is wrong with a step's condition (with line and column), or None."""
    return _problem(validate_condition, condition)


def cron_problem(expression: str) -> str | None:
    """What is wrong with a schedule's cron expression, or None."""
    return _problem(_cron, expression)


def time_zone_problem(name: str) -> str | None:
    return _problem(zone, name)


def cron_validator(value: str) -> None:
    _as_field_error(_cron, value)


def time_zone_validator(value: str) -> None:
    _as_field_error(zone, value)


def step_name_validator(value: str) -> None:
    _as_field_error(validate_name, value)


def flow_name_validator(value: str) -> None:
    _as_field_error(lambda name: validate_name(name, what="flow"), value)


def script_validator(value: str) -> None:
    _as_field_error(validate_script, value)


def condition_validator(value: str) -> None:
    _as_field_error(validate_condition, value)


def dependencies_validator(value: list[str] | None) -> None:
    """The steps a step runs after, by name: None (the step before it) or a list of names, each
    once. Whether they are steps of the flow, and earlier ones, is the flow's to check."""
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValidationError("Runs after must be a list of step names.")
    for name in value:
        _as_field_error(validate_name, name)
    if len(set(value)) < len(value):
        raise ValidationError("Runs after names a step twice.")


def timeout_validator(value: float) -> None:
    _as_field_error(validate_timeout, value)


def retries_validator(value: int) -> None:
    _as_field_error(validate_retries, value)


def secret_name_validator(value: str) -> None:
    _as_field_error(validate_secret_name, value)


def concurrency_key_validator(value: str) -> None:
    if value.strip():
        _as_field_error(parse_input_path, value)


def alert_target_problem(kind: str, target: str) -> str | None:
    """What is wrong with an alert destination's target: each of its comma-separated email
    addresses, or its URL (http or https), or None."""
    if kind == "email":
        addresses = [address.strip() for address in target.split(",") if address.strip()]
        if not addresses:
            return "Give at least one email address."
        validate = EmailValidator()
    else:
        addresses = [target.strip()]
        validate = URLValidator(schemes=["http", "https"])
    for address in addresses:
        try:
            validate(address)
        except ValidationError:
            return f"{address!r} is not a valid {'email address' if kind == 'email' else 'URL'}."
    return None


def allowed_hosts_validator(value: str) -> None:
    _as_field_error(validate_allowed_hosts, value)
