"""Standalone flow runner: `python -m flows.engine --redis-url URL --concurrency N`.

Runs until SIGTERM or SIGINT, then stops taking work, finishes or hands back what it holds,
and exits 0. Start as many as you like, on as many machines as you like: they share the work
through Redis with no coordinator.

Configured from the environment as the web app is (RunnerSettings.from_env: REDIS_URL,
FLOWS_KEY_PREFIX, FLOWS_RUNNER_CONCURRENCY, FLOWS_RETENTION_SECONDS, FLOWS_SCRIPT_MODULES,
FLOWS_SECRETS_KEY, and FLOWS_HTTP_ALLOW, FLOWS_HTTP_ALLOW_PRIVATE and FLOWS_HTTP_MAX_BYTES for
what steps may reach over HTTP, nothing by default); the options below override it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Mapping

import uvloop

from flows.engine import script_functions
from flows.engine.environment import SettingsError
from flows.engine.parent_death import die_with_parent
from flows.engine.runner import Runner
from flows.engine.runner_settings import RunnerSettings
from flows.engine.server_version import UnsupportedServer


async def run_until_signalled(runner: Runner) -> None:
    """Run `runner`, stopping it gracefully on the first SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, runner.stop)
    try:
        await runner.run()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def _parser() -> argparse.ArgumentParser:
    """Options default to None: unset, the environment's setting (or its default) applies."""
    parser = argparse.ArgumentParser(prog="python -m flows.engine", description=__doc__)
    parser.add_argument("--redis-url", help="default: $REDIS_URL")
    parser.add_argument("--concurrency", type=int, help="steps run at once")
    parser.add_argument("--key-prefix")
    parser.add_argument(
        "--lease-seconds", type=float, help="how long a dead runner's step waits for another"
    )
    parser.add_argument(
        "--shutdown-grace",
        type=float,
        dest="shutdown_grace_seconds",
        help="seconds running steps get to finish on SIGTERM before hand-back",
    )
    parser.add_argument(
        "--retention-seconds", type=int, help="how long ended runs stay in Redis (0: forever)"
    )
    parser.add_argument(
        "--script-module",
        action="append",
        dest="script_modules",
        metavar="[ALIAS=]MODULE",
        help="a module of @script_function functions scripts may call (repeatable), besides "
        "those of $FLOWS_SCRIPT_MODULES",
    )
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--parent-pid",
        type=int,
        help="stop as on SIGTERM when this process, the runner's parent, exits (Linux)",
    )
    return parser


OVERRIDES = (
    "redis_url",
    "concurrency",
    "key_prefix",
    "lease_seconds",
    "shutdown_grace_seconds",
    "retention_seconds",
)


def parse_command_line(
    argv: list[str] | None, environ: Mapping[str, str]
) -> tuple[RunnerSettings, argparse.Namespace]:
    """The runner's settings (the environment's, overridden by the options) and the options;
    a bad setting or option exits as argparse does, naming it."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    try:
        settings = RunnerSettings.from_env(environ)
    except SettingsError as error:
        parser.error(str(error))
    given = {name: getattr(arguments, name) for name in OVERRIDES}
    settings = dataclasses.replace(
        settings,
        **{name: value for name, value in given.items() if value is not None},
        script_modules=settings.script_modules + tuple(arguments.script_modules or ()),
    )
    if not settings.redis_url:
        parser.error("--redis-url is required (or set REDIS_URL)")
    if settings.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    try:
        script_functions.load(settings.script_modules)
    except ValueError as error:  # a script module that won't load, named
        parser.error(str(error))
    return settings, arguments


def main(argv: list[str] | None = None) -> None:
    settings, arguments = parse_command_line(argv, os.environ)
    if arguments.parent_pid is not None:
        # A web process supervising this runner may be SIGKILLed: stop gracefully then too.
        die_with_parent(signal.SIGTERM, arguments.parent_pid)
    logging.basicConfig(
        level=arguments.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    runner = Runner.from_settings(settings)
    try:
        uvloop.run(run_until_signalled(runner))
    except UnsupportedServer as error:
        sys.exit(f"flows.engine: {error}")


if __name__ == "__main__":
    main()
