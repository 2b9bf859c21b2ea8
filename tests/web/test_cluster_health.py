"""The health banners of a site on a cluster of the module's own: each master holds some of the
runs, so one master unfit to keep them (evicting, keeping nothing on disk, almost full) is
enough for a banner, and the queued tasks of every master are counted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from flows.engine.connections import partitions_of
from flows.engine.keys import Keys
from flows.models import FlowDefinition
from flows.runs import launching
from tests.layouts import flush
from tests.own_cluster import OwnCluster, start_own_cluster
from tests.web.health_pages import (
    NO_RUNNER,
    assert_pages_tell_redis_is_unreachable,
    banners,
    beat,
    configure,
)

# What the tests change, set back on every master after each.
CHANGED = ("appendonly", "save", "maxmemory", "maxmemory-policy")


@pytest.fixture
def site_cluster(cluster: OwnCluster, use_redis: Callable[[str], None]) -> Iterator[OwnCluster]:
    """The module's cluster configured as Flowsite asks (AOF on, no eviction, no memory limit)
    with the site on it; emptied and configured as before after."""
    before = {}
    for master in cluster.masters:
        with master.client() as client:
            before[master.port] = client.config_get(*CHANGED)
        configure(master.client(), appendonly="yes", maxmemory=0, maxmemory_policy="noeviction")
    use_redis(cluster.engine_url)
    yield cluster
    for master in cluster.masters:
        with master.client() as client:
            for name, value in before[master.port].items():
                client.config_set(name, value)
    flush(cluster.engine_url)


def test_a_cluster_configured_as_flowsite_asks_shows_no_banner(
    viewer: Client, site_cluster: OwnCluster
):
    assert banners(viewer) == []


def test_one_master_that_evicts_is_enough_for_the_banner(viewer: Client, site_cluster: OwnCluster):
    configure(site_cluster.masters[-1].client(), maxmemory_policy="allkeys-lru")

    [banner] = banners(viewer)
    assert "<code>maxmemory-policy allkeys-lru</code>" in banner


def test_one_master_that_keeps_nothing_on_disk_is_enough_for_the_banner(
    viewer: Client, site_cluster: OwnCluster
):
    configure(site_cluster.masters[1].client(), appendonly="no", save="")

    [banner] = banners(viewer)
    assert "Redis keeps nothing on disk" in banner


def test_the_fullest_master_says_how_full_the_cluster_is(viewer: Client, site_cluster: OwnCluster):
    fullest = site_cluster.masters[-1]
    used = configure(fullest.client())["used_memory"]
    configure(fullest.client(), maxmemory=int(used / 0.9))

    [banner] = banners(viewer)
    assert "Redis is almost full" in banner


def test_tasks_queued_on_every_master_are_counted(
    viewer: Client, site_cluster: OwnCluster, stripe: FlowDefinition, make_user
):
    operator: User = make_user("Operator")
    keys = Keys(settings.FLOWS_KEY_PREFIX, partitions_of(site_cluster.engine_url))
    owners: set[int] = set()
    launched = 0
    while len(owners) < len(site_cluster.masters):
        flow_id = launching.launch(stripe, {}, operator).flow_id
        launched += 1
        owners.add(async_to_sync(site_cluster.owner_of)(keys.flow(flow_id)).port)
    beat(site_cluster.engine_url, "gone-runner", lease_seconds=0.001)

    [banner] = banners(viewer)
    assert NO_RUNNER in banner
    assert f"{launched} tasks wait" in banner


def test_with_the_cluster_stopped_pages_and_probe_say_so_and_launch_answers_503_at_once(
    operator: Client,
    tmp_path: Path,
    use_redis: Callable[[str], None],
    stripe: FlowDefinition,
    make_user,
):
    cluster = start_own_cluster(tmp_path)
    try:
        use_redis(cluster.engine_url)
        launched = launching.launch(stripe, {}, make_user("Admin")).flow_id
    finally:
        cluster.stop()

    assert_pages_tell_redis_is_unreachable(operator, stripe.name, launched)
    assert operator.get("/readyz").json()["redis"] == "unreachable"
