"""Flows in and out of the builder: export as JSON or as Python builder code, import from JSON.

The JSON is the engine's `Flow.to_dict()` plus a description; an import goes through the
engine's builder and then the models' validators, as the builder's forms do, so it is accepted
only if it would run and the builder would have saved it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug

from flows.definitions import strict_json
from flows.definitions.editing import find_misordered
from flows.engine.builder import Flow, FlowBuilder, Step, new_flow, new_step
from flows.engine.concurrency import QUEUE
from flows.models import NAME_MAX_LENGTH, FlowDefinition, StepDefinition


def export_dict(definition: FlowDefinition) -> dict[str, Any]:
    allowed = {"allowed_hosts": definition.allowed_hosts} if definition.allowed_hosts else {}
    return {
        "name": definition.name,
        "description": definition.description,
        **allowed,
        **_export_limits(definition),
        "steps": [_export_step(step) for step in definition.steps.all()],
    }


def _export_limits(definition: FlowDefinition) -> dict[str, Any]:
    """The flow's concurrency limits and policy as Flow.to_dict() has them: only when set."""
    data: dict[str, Any] = {}
    if limits := definition.concurrency_limits():
        data["concurrency_limits"] = [limit.to_dict() for limit in limits]
    if definition.when_limited != QUEUE:
        data["when_limited"] = definition.when_limited
    return data


def _export_step(step: StepDefinition) -> dict[str, Any]:
    """A step's fields; "after" and "when" only when set, so a straight line exports as it
    always did."""
    data = {"name": step.name, "script": step.script, "timeout": step.timeout}
    data["retries"] = step.retries
    if step.after is not None:
        data["after"] = step.after
    if step.when:
        data["when"] = step.when
    return data


def _string_literal(text: str) -> str:
    """A triple-quoted literal when the text allows it (readable scripts), else repr()."""
    if '"""' in text or "\\" in text or text.endswith('"'):
        return repr(text)
    return '"""' + text + '"""'


def export_python(definition: FlowDefinition) -> str:
    """Python that builds the same engine Flow with new_flow/new_step."""
    lines = [
        "from flows.engine import new_flow, new_step",
        "",
        "flow = (",
        f"    new_flow({definition.name!r})",
    ]
    if definition.allowed_hosts:
        lines.append(f"    .allowed_hosts({definition.allowed_hosts!r})")
    for limit in definition.concurrency_limits():
        per = f", per={limit.per!r}" if limit.per else ""
        lines.append(f"    .concurrency_limit({limit.runs!r}{per})")
    if definition.when_limited != QUEUE:
        lines.append(f"    .when_limited({definition.when_limited!r})")
    for step in definition.steps.all():
        timeout = int(step.timeout) if float(step.timeout).is_integer() else step.timeout
        lines += [
            "    .add_step(",
            f"        new_step({step.name!r})",
            f"        .script({_string_literal(step.script)})",
            f"        .timeout({timeout!r})",
            f"        .retries({step.retries!r})",
            *_python_graph(step),
            "        .build()",
            "    )",
        ]
    lines += ["    .build()", ")", ""]
    return "\n".join(lines)


def _python_graph(step: StepDefinition) -> list[str]:
    lines = []
    if step.after is not None:
        lines.append(f"        .after({', '.join(repr(name) for name in step.after)})")
    if step.when:
        lines.append(f"        .when({_string_literal(step.when)})")
    return lines


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _parse_limits(builder: FlowBuilder, data: dict[str, Any]) -> None:
    limits = data.get("concurrency_limits", [])
    _require(isinstance(limits, list), "'concurrency_limits' must be a list")
    for limit in limits:
        _require(
            isinstance(limit, dict)
            and isinstance(limit.get("runs"), int)
            and isinstance(limit.get("per", ""), str),
            'each concurrency limit must be like {"runs": 2} or {"runs": 1, "per": "input[...]"}',
        )
        builder.concurrency_limit(limit["runs"], limit.get("per", ""))
    if "when_limited" in data:
        _require(isinstance(data["when_limited"], str), "'when_limited' must be text")
        builder.when_limited(data["when_limited"])


def _parse_step(index: int, data: Any) -> Step:
    where = f"step {index + 1}"
    _require(isinstance(data, dict), f"{where} must be a JSON object")
    for key in ("name", "script"):
        _require(isinstance(data.get(key), str), f"{where} needs a text field {key!r}")
    _check_slug(data["name"], f"{where} name")
    builder = new_step(data["name"]).script(data["script"])
    if "timeout" in data:
        builder.timeout(data["timeout"])
    if "retries" in data:
        builder.retries(data["retries"])
    if data.get("after") is not None:
        after = data["after"]
        _require(
            isinstance(after, list) and all(isinstance(name, str) for name in after),
            f"{where} ({data['name']!r}): 'after' must be a list of step names",
        )
        builder.after(*after)
    if "when" in data:
        _require(isinstance(data["when"], str), f"{where} ({data['name']!r}): 'when' must be text")
        builder.when(data["when"])
    return builder.build()


def _check_slug(name: str, what: str) -> None:
    _require(len(name) <= NAME_MAX_LENGTH, f"{what} is over {NAME_MAX_LENGTH} characters")
    try:
        validate_slug(name)
    except ValidationError:
        raise ValueError(
            f"{what} {name!r} may only use letters, digits, underscores and hyphens"
        ) from None


def parse_import(text: str) -> tuple[Flow, str]:
    """Read exported JSON into an engine Flow and its description; ValueError says what's wrong."""
    data = strict_json.loads(text)  # its JsonRejected is a ValueError
    _require(isinstance(data, dict), "the file must hold one JSON object describing a flow")
    _require(isinstance(data.get("name"), str), "the flow needs a text field 'name'")
    _check_slug(data["name"], "flow name")
    _require(isinstance(data.get("steps"), list), "the flow needs a list field 'steps'")
    description = data.get("description", "")
    _require(isinstance(description, str), "'description' must be text")
    builder = new_flow(data["name"])
    if "allowed_hosts" in data:
        _require(isinstance(data["allowed_hosts"], str), "'allowed_hosts' must be text")
        builder.allowed_hosts(data["allowed_hosts"])
    _parse_limits(builder, data)
    for index, step in enumerate(data["steps"]):
        builder.add_step(_parse_step(index, step))
    flow = builder.build()
    if problem := find_misordered(flow.steps):
        raise ValueError(
            f"step {problem.step!r} runs after {problem.dependency!r}, which is listed below "
            f"it: list {problem.dependency!r} first"
        )
    _validate_as_stored(flow, description)
    _require(
        not FlowDefinition.objects.filter(name=flow.name).exists(),
        f"a flow named {flow.name!r} already exists: rename it in the JSON or delete that flow",
    )
    return flow, description


def _validate_as_stored(flow: Flow, description: str) -> None:
    """Run the validators the builder's forms run through the models: the engine's rules again,
    and what the database holds (text lengths, integer ranges)."""
    checks: list[tuple[str, FlowDefinition | StepDefinition]] = [
        (
            "the flow",
            FlowDefinition(
                name=flow.name,
                description=description,
                allowed_hosts=flow.allowed_hosts or "",
                **FlowDefinition.limit_fields(flow),
            ),
        )
    ]
    for index, step in enumerate(flow.steps):
        checks.append((f"step {index + 1}", StepDefinition.from_step(step)))
    for where, instance in checks:
        try:
            instance.full_clean(exclude=["flow"], validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            field, messages = next(iter(error.message_dict.items()))
            raise ValueError(f"{where} {field}: {messages[0]}") from None
