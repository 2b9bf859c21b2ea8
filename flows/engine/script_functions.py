"""Script functions: Python functions of the host project that step scripts call by module alias
and name, `text.slugify(input["title"])` — the original flow manager's dispatcher integration.

A project names its modules in FLOWS_SCRIPT_MODULES (`alias=package.module`, or just
`package.module` for the alias `module`), and marks in each the functions scripts may call with
@script_function. Arguments and results are JSON values. They run inside the sandbox worker, so
under the step's timeout and memory limit; an exception fails the attempt with its message and
the script's line.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from flows.engine.sandbox.syntax import ScriptError

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__flows_script_function__"
_ALIAS = re.compile(r"^[a-z][a-z0-9_]*$")
# Host functions and names a script module must not shadow.
RESERVED = frozenset({"http", "secret", "log", "mock_api", "fail", "input", "steps", "attempt"})


class ScriptFunctionError(Exception):
    """A script function failed: the attempt fails with this message."""


def script_function(function: F) -> F:
    """Mark a function as callable from step scripts."""
    setattr(function, _MARK, True)
    return function


@dataclass(frozen=True)
class ScriptFunction:
    name: str
    function: Callable[..., Any]

    @property
    def signature(self) -> str:
        """As written, `slugify(value: str, separator: str = '-') -> str`."""
        try:  # annotations may be strings (from __future__ import annotations)
            signature = inspect.signature(self.function, eval_str=True)
        except (NameError, SyntaxError, TypeError):
            signature = inspect.signature(self.function)
        return f"{self.name}{signature}"

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.function) or ""


@dataclass(frozen=True)
class ScriptModule:
    alias: str
    path: str
    functions: dict[str, ScriptFunction]


def parse_specs(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@lru_cache(maxsize=8)
def load_modules(specs: tuple[str, ...]) -> dict[str, ScriptModule]:
    """Import each module and collect its script functions; ValueError names a bad entry."""
    modules: dict[str, ScriptModule] = {}
    for spec in specs:
        alias, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
        alias = alias.strip() or path.rsplit(".", 1)[-1]
        if not _ALIAS.match(alias) or alias in RESERVED or alias in modules:
            raise ValueError(f"script module {spec!r}: {alias!r} cannot be its alias")
        try:
            module = importlib.import_module(path.strip())
        except ImportError as error:
            raise ValueError(f"script module {spec!r} cannot be imported: {error}") from None
        functions = {
            name: ScriptFunction(name, member)
            for name, member in vars(module).items()
            if callable(member) and getattr(member, _MARK, False)
        }
        if not functions:
            raise ValueError(f"script module {spec!r} has no @script_function")
        modules[alias] = ScriptModule(alias, path.strip(), functions)
    return modules


def used_modules(script: str, modules: dict[str, ScriptModule]) -> list[ScriptModule]:
    return [module for alias, module in modules.items() if f"{alias}." in script]


def unknown_call(script: str, modules: dict[str, ScriptModule]) -> ScriptError | None:
    """The first `alias.name(` whose module has no such function, with its line."""
    for module in used_modules(script, modules):
        pattern = re.compile(rf"\b{module.alias}\.([A-Za-z_][A-Za-z0-9_]*)")
        for call in pattern.finditer(script):
            if call.group(1) not in module.functions:
                line = script.count("\n", 0, call.start()) + 1
                column = call.start() - script.rfind("\n", 0, call.start())
                known = ", ".join(sorted(module.functions))
                message = f"{module.alias} has no function {call.group(1)} (it has {known})"
                return ScriptError(message, line, column)
    return None


def json_safe(module: ScriptModule, function: ScriptFunction) -> Callable[..., Any]:
    """The function as a script calls it: its result must be a JSON value."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            result = function.function(*args, **kwargs)
        except Exception as error:
            raise ScriptFunctionError(f"{module.alias}.{function.name}: {error}") from None
        try:
            return json.loads(json.dumps(result, allow_nan=False))
        except (TypeError, ValueError) as error:
            raise ScriptFunctionError(
                f"{module.alias}.{function.name} returned what JSON cannot hold: {error}"
            ) from None

    return call


def load(specs: Iterable[str]) -> dict[str, ScriptModule]:
    return load_modules(tuple(specs))
