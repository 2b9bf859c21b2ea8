"""What the health banners tests read of a page, and how they make a server unfit or a runner
gone."""

from __future__ import annotations

import time

import redis
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import Client

from flows.engine.connections import async_client, partitions_of
from flows.engine.heartbeats import Heartbeat
from flows.engine.keys import Keys

BANNER = 'class="health-banner"'
NO_RUNNER = "Runs are queued and no runner is alive."
# A stopped server refuses connections at once: a launch must answer well within this.
PROMPT_SECONDS = 5.0


def configure(client: redis.Redis, **config: str | int) -> dict:
    """CONFIG SET each (underscores for dashes) on the server, closing the client; its memory
    INFO after."""
    with client:
        for name, value in config.items():
            client.config_set(name.replace("_", "-"), value)
        return client.info("memory")


def banners(client: Client, path: str = "/") -> list[str]:
    """The text of each banner the page shows."""
    response = client.get(path)
    assert response.status_code == 200
    page = response.content.decode()
    return [part.split("</p>")[0] for part in page.split(BANNER)[1:]]


def beat(redis_url: str, name: str, lease_seconds: float) -> None:
    """A runner's heartbeat, as a runner named `name` sends it."""

    async def send() -> None:
        async with async_client(redis_url, decode_responses=True) as client:
            keys = Keys(settings.FLOWS_KEY_PREFIX, partitions_of(redis_url))
            heartbeat = Heartbeat(client, keys, name, concurrency=1, lease_seconds=lease_seconds)
            await heartbeat.beat([])

    async_to_sync(send)()


def assert_pages_tell_redis_is_unreachable(operator: Client, flow_name: str, archived: str) -> None:
    """With Redis stopped: the pages say so and show the archive (the run `archived` among it),
    and a launch answers 503 at once."""
    for path in ("/", "/runs/"):
        [banner] = banners(operator, path)
        assert "Redis is unreachable." in banner
        assert "archive" in banner
    assert f'id="run-row-{archived}"' in operator.get("/runs/").content.decode()

    started = time.monotonic()
    launch = operator.post(f"/flows/{flow_name}/launch/", {"input": "{}"})
    assert launch.status_code == 503
    assert "Redis is unreachable" in launch.content.decode()
    assert time.monotonic() - started < PROMPT_SECONDS
