"""Suite-wide setup: every test talks to a real Redis named by REDIS_URL.

`make test` sets REDIS_URL to the machine's Redis (CI: database 15) or to an embedded server it
starts. Tests flush that database, so refuse to run against an unnamed one.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator

import pytest
import redis


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get("REDIS_URL"):
        raise pytest.UsageError(
            "REDIS_URL is not set. Run `make test` (it starts an embedded Redis), or point "
            "REDIS_URL at a Redis database the tests may flush, e.g. redis://127.0.0.1:6379/15"
        )
    from django.conf import settings

    # Threads (ASGI servers, database_sync_to_async) must not keep connections open past their
    # work, or the test database cannot be dropped at the end of the session.
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ["REDIS_URL"]


@pytest.fixture(autouse=True)
def clean_redis(redis_url: str) -> Iterator[None]:
    """Each test starts and ends with an empty Redis database: no run leaks between tests."""
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    yield
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()


@pytest.fixture
def use_redis(settings) -> Callable[[str], None]:
    """Point the whole site at another Redis for this test: the engine client (which forgets its
    clients when REDIS_URL changes), the channel layer (Channels rebuilds it when CHANNEL_LAYERS
    changes) and the lifespan's services, if the ASGI server starts after this."""

    def point_at(url: str) -> None:
        settings.REDIS_URL = url
        layers = copy.deepcopy(settings.CHANNEL_LAYERS)
        layers["default"]["CONFIG"]["hosts"][0]["address"] = url
        settings.CHANNEL_LAYERS = layers

    return point_at
