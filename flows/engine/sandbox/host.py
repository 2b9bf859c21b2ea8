"""What a script can reach beyond its input: `http` and `secret(...)`, bound into its module.

The runner decides what a step is granted (runner_grants.py) and sends it with the request: the
values of the secrets the script names, and the HTTP policy. Here, in the sandbox worker, those
become functions the script calls; their refusals are one-line errors that fail the attempt.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import starlark

from flows.engine import script_functions
from flows.engine.allow_list import parse_allow_list
from flows.engine.sandbox.http_client import HttpPolicy, ScriptHttp
from flows.engine.sandbox.limits import HTTP_DEFAULT_MAX_BYTES
from flows.engine.script_functions import ScriptModule

if TYPE_CHECKING:
    from flows.engine.sandbox.starlark_runtime import ScriptRequest

# Starlark's side of `http`: a struct of functions whose answers are structs, so a script
# writes `http.get(url).status`. Evaluated and frozen once per worker; each script's module
# then only binds it to the attempt's request function (HTTP_BINDING).
HTTP_LIBRARY = """
def make_http(request):
    def _request(method, url, params=None, headers=None, json=None, data=None, timeout=None):
        return struct(**request(method, url, params=params, headers=headers, json=json,
                                data=data, timeout=timeout))

    def _get(url, params=None, headers=None, timeout=None):
        return _request("GET", url, params=params, headers=headers, timeout=timeout)

    def _with_body(method):
        def send(url, json=None, data=None, params=None, headers=None, timeout=None):
            return _request(method, url, params=params, headers=headers, json=json, data=data,
                            timeout=timeout)
        return send

    return struct(request = _request, get = _get, post = _with_body("POST"),
                  put = _with_body("PUT"), patch = _with_body("PATCH"),
                  delete = _with_body("DELETE"))
"""
HTTP_BINDING = 'load("http.star", "make_http")\nhttp = make_http(_http_request)\n'


# The worker's environment variable naming its script function modules (the pool sets it).
MODULES_VARIABLE = "FLOWS_SCRIPT_MODULES"

# Errors a host function raises on purpose: the script sees the message alone.
HOST_ERRORS = ("HttpError", "SecretUnavailable", "ScriptFunctionError")


class SecretUnavailable(Exception):
    pass


@lru_cache(maxsize=64)
def _policy(site: str, flow: str | None, allow_private: bool, max_bytes: int) -> HttpPolicy:
    return HttpPolicy(
        site_hosts=parse_allow_list(site),
        flow_hosts=parse_allow_list(flow) if flow is not None else None,
        allow_private=allow_private,
        max_bytes=max_bytes,
    )


def http_policy(grant: dict[str, Any] | None) -> HttpPolicy:
    """The policy a request was granted; none granted: nothing is allowed."""
    grant = grant or {}
    return _policy(
        grant.get("site", ""),
        grant.get("flow"),
        bool(grant.get("allow_private", False)),
        int(grant.get("max_bytes", HTTP_DEFAULT_MAX_BYTES)),
    )


@functools.cache
def _http_library_loader(globals: starlark.Globals) -> starlark.FileLoader:
    library = starlark.Module()
    starlark.eval(library, starlark.parse("http.star", HTTP_LIBRARY), globals)
    frozen = library.freeze()
    return starlark.FileLoader(lambda _name: frozen)


@functools.cache
def process_http() -> ScriptHttp:
    """This process's HTTP client: a sandbox worker's, kept for its whole life, so keep-alive
    connections outlive a step."""
    return ScriptHttp()


def bind_host_functions(
    module: starlark.Module,
    request: ScriptRequest,
    *,
    deadline: float,
    log: Callable[[str], object],
    globals: starlark.Globals,
) -> None:
    module.add_callable("secret", _secret_reader(request.secrets))
    _bind_script_functions(module, request.script, globals)
    if "http" not in request.script:
        return  # most steps make no request: spare them the prelude
    attempt = process_http().attempt(http_policy(request.http), deadline, log)
    module.add_callable("_http_request", attempt.request)
    binding = starlark.parse("http_binding.star", HTTP_BINDING)
    starlark.eval(module, binding, globals, _http_library_loader(globals))


def process_script_modules() -> dict[str, ScriptModule]:
    """The script function modules this worker was started with (FLOWS_SCRIPT_MODULES)."""
    specs = script_functions.parse_specs(os.environ.get(MODULES_VARIABLE, ""))
    return script_functions.load(specs)


def _bind_script_functions(module: starlark.Module, script: str, globals: starlark.Globals) -> None:
    """Each script module the script mentions, as a struct of its functions."""
    lines = []
    for used in script_functions.used_modules(script, process_script_modules()):
        fields = []
        for name, function in used.functions.items():
            bound = f"_{used.alias}__{name}"
            module.add_callable(bound, script_functions.json_safe(used, function))
            fields.append(f"{name} = {bound}")
        lines.append(f"{used.alias} = struct({', '.join(fields)})")
    if lines:
        starlark.eval(module, starlark.parse("functions.star", "\n".join(lines)), globals)


def _secret_reader(secrets: dict[str, str]) -> Callable[[str], str]:
    def secret(name: str) -> str:
        if name not in secrets:
            raise SecretUnavailable(f"secret {name} was not sent to this step")
        return secrets[name]

    return secret


def plain_message(message: str) -> str:
    """A host function's refusal without the exception's class name before it."""
    for name in HOST_ERRORS:
        message = message.removeprefix(f"{name}: ")
    return message
