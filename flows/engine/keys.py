"""Every Redis key and channel name the engine uses, built in one place.

The default (empty) prefix keeps the original schema: `flow:{flow_id}` and
`step:{flow_id}:{step_id}`. A prefix lets several Flowsite installations share one Redis.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

RUNNER_GROUP = "runners"


def _fixed(name: str, doc: str) -> property:
    """A key with one name for the whole installation: the prefix, then `name`."""
    return property(lambda keys: f"{keys.prefix}{name}", doc=doc)


@dataclass(frozen=True)
class Keys:
    prefix: str = ""

    def flow(self, flow_id: str) -> str:
        """Hash with the run's state and its own copy of the flow definition."""
        return f"{self.prefix}flow:{flow_id}"

    def step(self, flow_id: str, step_id: str) -> str:
        """Hash with one step's state within a run."""
        return f"{self.prefix}step:{flow_id}:{step_id}"

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

    changed_runs = _fixed(
        "flows:events:changed",
        "Sorted set of the runs changed since the archive last took them, scored by their "
        "latest event's time (changes.py). The scripts reach it as the events key + ':changed' "
        "(prelude.lua): keep the two in step.",
    )

    counters = _fixed(
        "flows:events:counters",
        "Hash of the counters /metrics reads (metrics.py): runs launched and ended, lease "
        "takeovers, step durations in histogram buckets, by flow (and step), kept by the "
        "transition scripts. They reach it as the events key + ':counters' (prelude.lua's "
        "tally): keep the two in step.",
    )

    runs = _fixed(
        "flows:runs",
        "Sorted set of run ids scored by creation time, newest last.",
    )

    def idempotency(self, flow_name: str, key: str) -> str:
        """String holding the id of the run launched of a flow with an idempotency key, for the
        key's window (create.lua). The name's length keeps `a:b` + `c` apart from `a` + `b:c`."""
        return f"{self.prefix}flows:idempotency:{len(flow_name)}:{flow_name}:{key}"

    def limit_slots(self, flow_name: str, per: str = "", value: str = "") -> str:
        """Where a concurrency limit counts its runs (concurrency.py): this name + ':running'
        is the sorted set of the runs holding a slot, + ':waiting' that of the runs queued for
        one, scored by launch time (prelude.lua). Per flow, or per input value of a key `per`
        (a digest of the two: values may be long or hold any character)."""
        name = f"{self.prefix}flows:limit:{len(flow_name)}:{flow_name}"
        if not per:
            return name
        digest = hashlib.sha256(f"{per}\n{value}".encode()).hexdigest()[:32]
        return f"{name}:per:{digest}"

    secrets = _fixed(
        "flows:secrets",
        "Hash of secret name -> its value encrypted under FLOWS_SECRETS_KEY (secrets.py).",
    )

    runners = _fixed(
        "flows:runners",
        "Hash of runner name -> its latest heartbeat, JSON: host, pid, concurrency, lease, "
        "running steps, version, and started and last beat at by Redis' clock "
        "(heartbeats.py, heartbeat.lua). A runner removes its own on a graceful stop.",
    )

    def watchers(self, page: str, page_id: str) -> str:
        """Sorted set of the sockets watching one live page of the web app (a run's page, the
        Runs list, the dashboard), as "group|channel", scored by when each joined (watches.py).
        """
        return f"{self.prefix}live:watch:{page}:{page_id}"

    run_page_watchers = _fixed(
        "live:watch:run-pages",
        "Sorted set of the sockets watching any run's page, as 'flow_id|group|channel', "
        "scored by when each joined: whether anyone follows runs' events at all, in one "
        "command (skip_unless_watched.lua).",
    )

    def flow_channel(self, flow_id: str) -> str:
        """Pub/sub channel carrying one run's transitions (watch_flow listens here)."""
        return f"{self.prefix}flows:events:{flow_id}"

    def flow_end_channel(self, flow_id: str) -> str:
        """Pub/sub channel carrying one run's last transition alone (wait_for_flow listens
        here: a run's hundreds of step events would cost its waiters for nothing). The
        scripts reach it as the run's channel + ':ended' (prelude.lua): keep the two in step."""
        return f"{self.flow_channel(flow_id)}:ended"

    cancel_channel = _fixed(
        "flows:cancel",
        "Pub/sub channel telling runners to stop the step of a cancelled run.",
    )

    def script_key_prefixes(self) -> list[str]:
        """What take.lua (and promote.lua, the first two) prepends to a flow id to reach the
        keys of a run it has just read: the flow hash, the step hashes (then ':' and the step
        id) and the run's channel.
        Must agree with flow(), step() and flow_channel() above."""
        return [self.flow(""), f"{self.prefix}step:", self.flow_channel("")]
