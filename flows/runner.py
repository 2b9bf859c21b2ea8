"""Standalone flow runner: `python -m flows.runner --redis-url URL --concurrency N`.

Runs until SIGTERM or SIGINT, then stops taking work, finishes or hands back what it holds,
and exits 0. Start as many as you like, on as many machines as you like: they share the work
through Redis with no coordinator.

From the environment, as the web app's settings: FLOWS_HTTP_ALLOW, FLOWS_HTTP_ALLOW_PRIVATE and
FLOWS_HTTP_MAX_BYTES (what steps may reach over HTTP; nothing by default), FLOWS_SECRETS_KEY
(the web app's key, without which steps that read secrets fail) and FLOWS_SCRIPT_MODULES.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

import uvloop

from flows.engine.grants import HttpSettings
from flows.engine.parent_death import die_with_parent
from flows.engine.runner import Runner
from flows.engine.script_functions import parse_specs
from flows.engine.server_version import UnsupportedServer
from flows.engine.store import DEFAULT_RETENTION_SECONDS


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.runner", description=__doc__)
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL"), help="default: $REDIS_URL"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="steps run at once")
    parser.add_argument("--key-prefix", default=os.environ.get("FLOWS_KEY_PREFIX", ""))
    parser.add_argument(
        "--lease-seconds",
        type=float,
        default=5.0,
        help="how long a dead runner's step waits before another takes it",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=float,
        default=10.0,
        help="seconds running steps get to finish on SIGTERM before hand-back",
    )
    parser.add_argument(
        "--retention-seconds",
        type=int,
        default=DEFAULT_RETENTION_SECONDS,
        help="how long ended runs stay in Redis (0: forever)",
    )
    parser.add_argument(
        "--script-module",
        action="append",
        dest="script_modules",
        default=list(parse_specs(os.environ.get("FLOWS_SCRIPT_MODULES", ""))),
        metavar="[ALIAS=]MODULE",
        help="a module of @script_function functions scripts may call (repeatable); "
        "default: $FLOWS_SCRIPT_MODULES",
    )
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--parent-pid",
        type=int,
        help="stop as on SIGTERM when this process, the runner's parent, exits (Linux)",
    )
    arguments = parser.parse_args(argv)
    if not arguments.redis_url:
        parser.error("--redis-url is required (or set REDIS_URL)")
    if arguments.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if arguments.parent_pid is not None:
        # A web process supervising this runner may be SIGKILLed: stop gracefully then too.
        die_with_parent(signal.SIGTERM, arguments.parent_pid)
    logging.basicConfig(
        level=arguments.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        runner = Runner(
            arguments.redis_url,
            concurrency=arguments.concurrency,
            key_prefix=arguments.key_prefix,
            lease_seconds=arguments.lease_seconds,
            shutdown_grace_seconds=arguments.shutdown_grace,
            retention_seconds=arguments.retention_seconds,
            http=HttpSettings.from_env(os.environ),
            # From the environment only: any user of the machine can read a process's arguments.
            secrets_key=os.environ.get("FLOWS_SECRETS_KEY", ""),
            script_modules=tuple(arguments.script_modules),
        )
    except ValueError as error:  # a bad setting or script module, named
        parser.error(str(error))
    try:
        uvloop.run(run_until_signalled(runner))
    except UnsupportedServer as error:
        sys.exit(f"flows.runner: {error}")


if __name__ == "__main__":
    main()
