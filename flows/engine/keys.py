"""Every Redis key and channel name the engine uses, built in one place.

On one Redis server (no partitions, the default) the names are the original schema:
`flow:{flow_id}`, `step:{flow_id}:{step_id}`, `flows:queue`... A prefix lets several Flowsite
installations share one Redis.

On a Redis or Valkey Cluster, runs are spread over a fixed number of partitions (docs/scaling.md).
A run's partition is crc32(flow_id) % partitions, so any process derives a run's keys from its id
alone, and every key a transition of the run touches carries the partition's hash tag:
`flow:{p3}:<id>`, `step:{p3}:<id>:<step>`, `flows:queue:{p3}`, `flows:events:{p3}`... One
transition, one slot: the cluster serves each script on one node. The partition count is fixed
for an installation's life (it is in every name); resharding moves slots, never names.
"""

from __future__ import annotations

import hashlib
import uuid
import zlib
from dataclasses import dataclass
from functools import cached_property

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

RUNNER_GROUP = "runners"
MAX_PARTITIONS = 1024


def partition_tags(count: int) -> tuple[str, ...]:
    """The hash tags of `count` partitions: partition i's is the first of `{pi}`, `{pi.1}`,
    `{pi.2}`... whose slot lies in the i-th of `count` equal shares of the cluster's slots, so
    that partitions spread evenly over masters that split the slots evenly (plain `{p0}` to
    `{p15}` would put 4, 5 and 7 partitions on three masters). Deterministic: the tags of an
    installation never change (tests/engine/test_keys.py pins the default 16)."""
    tags = []
    for number in range(count):
        low = number * REDIS_CLUSTER_HASH_SLOTS // count
        high = (number + 1) * REDIS_CLUSTER_HASH_SLOTS // count
        candidate, attempt = f"p{number}", 0
        while not low <= key_slot(candidate.encode()) < high:
            attempt += 1
            candidate = f"p{number}.{attempt}"
        tags.append(f"{{{candidate}}}")
    return tuple(tags)


def _fixed(name: str, doc: str) -> property:
    """A key of the partition: the prefix, `name`, then the partition's tag if it has one."""
    return property(lambda keys: keys.named(name), doc=doc)


@dataclass(frozen=True)
class Partition:
    """The keys of one partition: its runs' keys, and the queue, events and indexes its runs'
    transitions write. Without partitions there is one, with no tag: the original names."""

    prefix: str = ""
    number: int = 0
    tag: str = ""  # "{p3}" on a cluster, "" on one server

    def named(self, name: str) -> str:
        return f"{self.prefix}{name}:{self.tag}" if self.tag else f"{self.prefix}{name}"

    @property
    def _runs_scope(self) -> str:
        """What comes between a run key's kind and the run's id: the tag and ':', or nothing."""
        return f"{self.tag}:" if self.tag else ""

    def flow(self, flow_id: str) -> str:
        """Hash with the run's state and its own copy of the flow definition."""
        return f"{self.prefix}flow:{self._runs_scope}{flow_id}"

    def step(self, flow_id: str, step_id: str) -> str:
        """Hash with one step's state within a run."""
        return f"{self.prefix}step:{self._runs_scope}{flow_id}:{step_id}"

    queue = _fixed(
        "flows:queue",
        "Stream of step tasks, read by runners through the `runners` consumer group.",
    )

    delayed = _fixed(
        "flows:delayed",
        "Sorted set of runs whose step waits to be retried, scored by when it is due; due "
        "ones get a new task in the queue (promote.lua).",
    )

    events = _fixed(
        "flows:events",
        "Capped stream of every transition, for the live pages.",
    )

    @property
    def changed_runs(self) -> str:
        """Sorted set of the runs changed since the archive last took them, scored by their
        latest event's time (changes.py). The scripts reach it as the events key + ':changed'
        (prelude.lua): keep the two in step."""
        return f"{self.events}:changed"

    @property
    def counters(self) -> str:
        """Hash of the counters /metrics reads (metrics.py): runs launched and ended, lease
        takeovers, step durations in histogram buckets, by flow (and step), kept by the
        transition scripts. They reach it as the events key + ':counters' (prelude.lua's
        tally): keep the two in step."""
        return f"{self.events}:counters"

    runs = _fixed(
        "flows:runs",
        "Sorted set of run ids scored by creation time, newest last.",
    )

    def idempotency(self, flow_name: str, key: str) -> str:
        """String holding the id of the run launched of a flow with an idempotency key, for the
        key's window (create.lua). The name's length keeps `a:b` + `c` apart from `a` + `b:c`."""
        scope = self._runs_scope
        return f"{self.prefix}flows:idempotency:{scope}{len(flow_name)}:{flow_name}:{key}"

    def limit_slots(self, flow_name: str, per: str = "", value: str = "") -> str:
        """Where a concurrency limit counts its runs (concurrency.py): this name + ':running'
        is the sorted set of the runs holding a slot, + ':waiting' that of the runs queued for
        one, scored by launch time (prelude.lua). Per flow, or per input value of a key `per`
        (a digest of the two: values may be long or hold any character)."""
        name = f"{self.prefix}flows:limit:{self._runs_scope}{len(flow_name)}:{flow_name}"
        if not per:
            return name
        digest = hashlib.sha256(f"{per}\n{value}".encode()).hexdigest()[:32]
        return f"{name}:per:{digest}"

    @property
    def run_page_watchers(self) -> str:
        """Sorted set of the sockets watching the page of one of the partition's runs, as
        'flow_id|group|channel', scored by when each joined: whether anyone follows these runs'
        events at all, read in the script that skips them otherwise (skip_unless_watched.lua),
        so in the partition's slot."""
        return self.named("live:watch:run-pages")

    def flow_channel(self, flow_id: str) -> str:
        """Sharded pub/sub channel carrying one run's transitions (watch_flow listens here)."""
        return f"{self.prefix}flows:events:{self._runs_scope}{flow_id}"

    def flow_end_channel(self, flow_id: str) -> str:
        """Sharded pub/sub channel carrying one run's last transition alone (wait_for_flow
        listens here: a run's hundreds of step events would cost its waiters for nothing). The
        scripts reach it as the run's channel + ':ended' (prelude.lua): keep the two in step."""
        return f"{self.flow_channel(flow_id)}:ended"

    def script_key_prefixes(self) -> list[str]:
        """What take.lua (and promote.lua, the first two) prepends to a flow id to reach the
        keys of a run it has just read: the flow hash, the step hashes (then ':' and the step
        id) and the run's channel.
        Must agree with flow(), step() and flow_channel() above."""
        return [self.flow(""), f"{self.prefix}step:{self._runs_scope}", self.flow_channel("")]


@dataclass(frozen=True)
class Keys:
    """The installation's names: its partitions' (one without partitions), and the few keys
    no transition touches, which have one name for the installation."""

    prefix: str = ""
    partition_count: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.partition_count <= MAX_PARTITIONS:
            raise ValueError(
                f"partitions must be 0 to {MAX_PARTITIONS}, got {self.partition_count}"
            )

    @cached_property
    def partitions(self) -> tuple[Partition, ...]:
        if not self.partition_count:
            return (Partition(self.prefix),)
        tags = partition_tags(self.partition_count)
        return tuple(Partition(self.prefix, number, tag) for number, tag in enumerate(tags))

    def partition_of(self, flow_id: str) -> Partition:
        """The partition holding the run's keys."""
        return self._partition_by(flow_id)

    def partition_of_flow(self, flow_name: str, idempotency_key: str = "") -> Partition:
        """Where a run must live when its keys share a script with other runs' or launches':
        every run of a flow with concurrency limits lives in its flow's partition (a run that
        ends admits the runs queued behind it); a launch with an idempotency key, in that
        key's."""
        return self._partition_by(f"{len(flow_name)}:{flow_name}:{idempotency_key}")

    def _partition_by(self, text: str) -> Partition:
        if not self.partition_count:
            return self.partitions[0]
        return self.partitions[zlib.crc32(text.encode()) % self.partition_count]

    def new_run_id(self, partition: Partition | None = None) -> str:
        """A fresh run id, one whose keys fall in `partition` when given (as many tries as
        there are partitions, on average)."""
        while True:
            flow_id = uuid.uuid4().hex
            if partition is None or self.partition_of(flow_id) == partition:
                return flow_id

    def flow(self, flow_id: str) -> str:
        return self.partition_of(flow_id).flow(flow_id)

    def step(self, flow_id: str, step_id: str) -> str:
        return self.partition_of(flow_id).step(flow_id, step_id)

    def flow_channel(self, flow_id: str) -> str:
        return self.partition_of(flow_id).flow_channel(flow_id)

    def flow_end_channel(self, flow_id: str) -> str:
        return self.partition_of(flow_id).flow_end_channel(flow_id)

    @property
    def secrets(self) -> str:
        """Hash of secret name -> its value encrypted under FLOWS_SECRETS_KEY (secrets.py)."""
        return f"{self.prefix}flows:secrets"

    @property
    def runners(self) -> str:
        """Hash of runner name -> its latest heartbeat, JSON: host, pid, concurrency, lease,
        running steps, version, and started and last beat at by Redis' clock (heartbeats.py,
        heartbeat.lua). A runner removes its own on a graceful stop."""
        return f"{self.prefix}flows:runners"

    def watchers(self, page: str, page_id: str) -> str:
        """Sorted set of the sockets watching one live page of the web app (a run's page, the
        Runs list, the dashboard), as "group|channel", scored by when each joined (watches.py).
        """
        return f"{self.prefix}live:watch:{page}:{page_id}"

    @property
    def cancel_channel(self) -> str:
        """Pub/sub channel telling runners to stop the step of a cancelled run: a plain
        (cluster-wide) channel, which every runner hears on one subscription; cancels are
        rare, so its cost on a cluster does not matter."""
        return f"{self.prefix}flows:cancel"
