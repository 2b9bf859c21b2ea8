"""Suite-wide setup: every test talks to a real Redis named by REDIS_URL, or to a cluster.

`make test` sets REDIS_URL to the machine's Redis (CI: database 15) or to an embedded server it
starts. Tests flush that database, so refuse to run against an unnamed one.

FLOWS_TEST_LAYOUTS says where the runs are kept: "server" (REDIS_URL, the default), "cluster" (a
local 3-master Valkey Cluster of the session, 16 partitions), or both, comma-separated: every
test runs on each. On the cluster the site's REDIS_URL names it, and its channel layer stays on
REDIS_URL's server (channels-redis cannot use a cluster: docs/scaling.md). Tests about one
server (marked `single_server`, saying why) do not run on a cluster.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator

import pytest

from flows.engine.connections import client_url, is_cluster_url
from tests.layouts import LAYOUTS, flush
from tests.own_cluster import OwnCluster, start_own_cluster


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


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnCluster]:
    """A cluster of the test module's own, for tests that move its slots, kill connections or
    configure its masters."""
    cluster = start_own_cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnCluster]:
    """The local 3-master Valkey Cluster of the session (tests/own_cluster.py)."""
    cluster = start_own_cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    cluster.stop()


@pytest.fixture(params=LAYOUTS)
def redis_url(request: pytest.FixtureRequest) -> str:
    """The Redis of the test: REDIS_URL's server, or the session's cluster."""
    if request.param == "server":
        return os.environ["REDIS_URL"]
    single_server = request.node.get_closest_marker("single_server")
    if single_server is not None:
        pytest.skip(f"about one server: {single_server.args[0]}")
    return request.getfixturevalue("own_cluster").engine_url


@pytest.fixture(autouse=True)
def site_redis(redis_url: str, request: pytest.FixtureRequest) -> None:
    """Point the site at the test's cluster (its settings name REDIS_URL's server already); the
    channel layer stays on that server."""
    if redis_url != os.environ["REDIS_URL"]:
        request.getfixturevalue("settings").REDIS_URL = redis_url


@pytest.fixture(autouse=True)
def clean_redis(redis_url: str) -> Iterator[None]:
    """Each test starts and ends with an empty Redis database, and on a cluster an empty
    channel layer too: no run or message leaks between tests."""
    urls = {redis_url, os.environ["REDIS_URL"]}
    for url in urls:
        flush(url)
    yield
    for url in urls:
        flush(url)


@pytest.fixture
def use_redis(settings) -> Callable[[str], None]:
    """Point the whole site at another Redis for this test: the engine client (which forgets its
    clients when REDIS_URL changes), the channel layer (Channels rebuilds it when CHANNEL_LAYERS
    changes; it stays where it is for a cluster, which it cannot use) and the lifespan's
    services, if the ASGI server starts after this."""

    def point_at(url: str) -> None:
        settings.REDIS_URL = url
        if is_cluster_url(url):
            return
        layers = copy.deepcopy(settings.CHANNEL_LAYERS)
        layers["default"]["CONFIG"]["hosts"][0]["address"] = client_url(url)
        settings.CHANNEL_LAYERS = layers

    return point_at
