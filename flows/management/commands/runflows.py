"""`python manage.py runflows`: an extra flow runner configured from the Django settings, with
the scheduler beside it (as in every web process: its claims make any number of them safe)."""

from __future__ import annotations

import asyncio

import uvloop
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from flows.engine.cli import run_until_signalled
from flows.engine.runner import Runner
from flows.engine.runner_settings import RunnerSettings
from flows.engine.server_version import UnsupportedServer
from flows.schedules.scheduler import Scheduler
from flows.step_access import site_http_settings
from flowsite.embedded_redis import EmbeddedRedis
from flowsite.lifespan import keep_running


def site_runner_settings(concurrency: int) -> RunnerSettings:
    """The runner's settings as the site has them; the engine's defaults for the rest."""
    return RunnerSettings(
        redis_url=settings.REDIS_URL,
        key_prefix=settings.FLOWS_KEY_PREFIX,
        concurrency=concurrency,
        retention_seconds=settings.FLOWS_RETENTION_SECONDS,
        script_modules=tuple(settings.FLOWS_SCRIPT_MODULES),
        http=site_http_settings(),
        secrets_key=settings.FLOWS_SECRETS_KEY,
    )


async def run_with_scheduler(runner: Runner) -> None:
    """Run the runner until signalled, and the scheduler (restarted if it fails) until then."""
    scheduler = Scheduler(settings.REDIS_URL, settings.FLOWS_KEY_PREFIX)
    stopping = asyncio.Event()
    await scheduler.start()
    scheduling = asyncio.create_task(keep_running(scheduler, stopping), name="Scheduler")
    try:
        await run_until_signalled(runner)
    finally:
        stopping.set()
        scheduler.stop()
        await scheduling


class Command(BaseCommand):
    help = "Run a flow runner until SIGTERM/SIGINT (see also python -m flows.engine)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--concurrency", type=int, default=settings.FLOWS_RUNNER_CONCURRENCY)

    def handle(self, *args, concurrency: int, **options) -> None:
        embedded = EmbeddedRedis(settings.EMBEDDED_REDIS_DIR) if settings.REDIS_EMBEDDED else None
        if embedded:
            embedded.start()
        try:
            runner = Runner.from_settings(site_runner_settings(concurrency))
            uvloop.run(run_with_scheduler(runner))
        except UnsupportedServer as error:
            raise CommandError(str(error)) from None
        finally:
            if embedded:
                embedded.stop()
