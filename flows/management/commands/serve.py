"""`python manage.py serve` (what `make run` calls): everything a fresh machine needs.

Starts the embedded Redis when REDIS_URL is unset, migrates, installs the example flows and
the local admin account, collects static files, then serves the app with uvicorn; the ASGI
lifespan runs the flow runner as a child process. Stops the embedded Redis on exit, on SIGTERM
as on Ctrl-C.

`--workers N` serves with N uvicorn worker processes (uvicorn restarts one that dies); the
runner, the live bridge and the archiver still run once, in whichever worker holds each one's
lease (flowsite/leases.py). In production set FLOWS_EMBEDDED_RUNNER=false and run runners as
processes of their own (`manage.py runflows`): see README's "Production".
"""

from __future__ import annotations

import signal

import uvicorn
from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError

from flowsite.embedded_redis import EmbeddedRedis

GRACEFUL_SHUTDOWN_SECONDS = 5


class Command(BaseCommand):
    help = "Set up and serve Flowsite with its embedded runner (and Redis, if none is set)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers", type=int, default=1, help="web worker processes (default: 1)"
        )

    def handle(self, *args, host: str, port: int, workers: int, **options) -> None:
        if workers < 1:
            raise CommandError("--workers must be 1 or more")
        embedded = EmbeddedRedis(settings.EMBEDDED_REDIS_DIR) if settings.REDIS_EMBEDDED else None
        if embedded:
            embedded.start()
            self.stdout.write(f"Embedded Valkey at {embedded.url} (data in {embedded.directory})")
        try:
            call_command("migrate", interactive=False, verbosity=0)
            if "bootstrap" in get_commands():
                call_command("bootstrap")
            call_command("collectstatic", interactive=False, verbosity=0)
            self.stdout.write(f"Serving Flowsite on http://{host}:{port}/ with {workers} worker(s)")
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
            uvicorn.run(
                "flowsite.asgi:application",
                host=host,
                port=port,
                workers=workers,
                lifespan="on",
                ws="websockets-sansio",  # uvicorn's default websockets backend is deprecated
                # Open requests and sockets get this long to end on shutdown, then are cancelled:
                # a page's socket reconnects by itself, and the lifespan's stop must not wait
                # for one that never ends.
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            )
        finally:
            if embedded:
                embedded.stop()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """One worker: uvicorn shuts down on SIGTERM, then raises it again. By default that would
    end the process on the spot; as an exception it lets `finally` stop the embedded Redis
    first. (Several workers: uvicorn's supervisor takes SIGTERM over, stops the workers, and
    returns.)"""
    raise SystemExit(128 + signum)
