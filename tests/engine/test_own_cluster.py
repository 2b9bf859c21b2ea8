"""tests/own_cluster.py forms a real cluster, stops it whole, moves a slot under live clients."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from pathlib import Path

import pytest
import redis
from redis.asyncio import RedisCluster
from redis.crc import REDIS_CLUSTER_HASH_SLOTS

from tests import own_cluster
from tests.own_cluster import OwnCluster, migrate_slot_of, move_slot_of, start_own_cluster


def test_three_masters_each_own_about_a_third_of_the_slots(cluster: OwnCluster) -> None:
    with cluster.masters[0].client() as seed:
        slots = seed.execute_command("CLUSTER", "SLOTS")
    owned = Counter()
    for first, last, master, *_replicas in slots:
        owned[master[1]] += last - first + 1
    assert sorted(owned) == sorted(master.port for master in cluster.masters)
    assert all(abs(count - REDIS_CLUSTER_HASH_SLOTS / 3) < 2 for count in owned.values())


def test_every_node_reports_the_cluster_ok(cluster: OwnCluster) -> None:
    for master in cluster.masters:
        with master.client() as node:
            assert b"cluster_state:ok" in node.execute_command("CLUSTER", "INFO")


async def test_keys_set_through_redis_cluster_read_back_from_every_master(
    cluster: OwnCluster, cluster_client: RedisCluster
) -> None:
    tags = [f"{{p{number}}}" for number in range(12)]
    for tag in tags:
        await cluster_client.set(f"{tag}:value", tag)
    assert [await cluster_client.get(f"{tag}:value") for tag in tags] == tags
    owners = {(await cluster.owner_of(tag)).port for tag in tags}
    assert owners == {master.port for master in cluster.masters}


async def test_a_moved_slot_is_served_by_the_new_master_and_a_connected_client_follows(
    cluster: OwnCluster, cluster_client: RedisCluster
) -> None:
    await cluster_client.set(
        "{moved}:value", "before"
    )  # the cluster_client knows the old owner now
    source = await cluster.owner_of("{moved}")

    target = await move_slot_of(cluster, "{moved}")

    assert target != source
    assert await cluster.owner_of("{moved}") == target
    with target.client() as new_owner:
        assert new_owner.get("{moved}:value") == b"before"
    with (
        source.client() as old_owner,
        pytest.raises(redis.exceptions.MovedError) as redirect,
    ):
        old_owner.get("{moved}:value")
    assert redirect.value.node_addr == ("127.0.0.1", target.port)
    assert await cluster_client.get("{moved}:value") == "before"
    await cluster_client.set("{moved}:value", "after")
    assert await cluster_client.get("{moved}:value") == "after"


@pytest.mark.parametrize("move", [move_slot_of, migrate_slot_of], ids=["key_by_key", "atomic"])
async def test_a_slot_moves_while_a_client_keeps_writing_to_it(
    cluster: OwnCluster, cluster_client: RedisCluster, move
) -> None:
    """Writes during the move meet ASK (keys already moved, key by key) and then MOVED; none
    is lost."""
    keys = [f"{{busy}}:counter:{number}" for number in range(300)]
    await cluster_client.mset(
        dict.fromkeys(keys, 0)
    )  # enough keys that the move takes several batches
    moved = asyncio.Event()
    written = Counter()

    async def keep_writing() -> None:
        while not moved.is_set():
            for key in keys[::30]:
                await cluster_client.incr(key)
                written[key] += 1

    writer = asyncio.create_task(keep_writing(), name="writer-during-move")
    await move(cluster, "{busy}")
    moved.set()
    await writer

    assert all(written[key] > 0 for key in keys[::30])
    assert {key: int(await cluster_client.get(key)) for key in keys[::30]} == written


def test_a_failed_start_stops_the_nodes_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started_ports: list[int] = []

    def meeting_fails(cluster: OwnCluster) -> None:
        started_ports.extend(master.port for master in cluster.masters)
        raise RuntimeError("the nodes could not meet")

    monkeypatch.setattr(own_cluster, "_meet", meeting_fails)
    with pytest.raises(RuntimeError, match="could not meet"):
        start_own_cluster(tmp_path)

    assert len(started_ports) == 3
    for port in started_ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
