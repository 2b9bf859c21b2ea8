"""Pub/sub shared by every wait and watch of a FlowExecutor: one connection per server.

Runs' channels are sharded channels (SSUBSCRIBE; the scripts SPUBLISH): on one server they
behave as plain ones, and on a cluster each is served by the master owning its slot, so there
is one connection per master serving a subscribed channel (`_ServerSubscriptions`), each with
its reader task. One server needs one connection, as before.

Plain `redis.asyncio` pub/sub connections are used, one per master, rather than redis-py's
`ClusterPubSub`: the latter reads its nodes in turn (a blocking read on one quiet node would
starve the others, so its callers poll), and after a slot moves it resubscribes only once some
other command meets a MOVED, and then raises that MOVED out of the read. Here each connection
has a reader that blocks, and a moved channel is subscribed again at once.

A wait subscribes to its runs' channels, reads their state, then hears their events: subscribing
first means a transition between the two cannot be missed, and the state read answers a run
that ended before. Thousands of concurrent waits on one executor cost one connection and one
reader task per server, not a connection each (the pool would run dry).

Races handled here:
- An SSUBSCRIBE counts only once the server has confirmed it (the confirmation comes back on the
  pub/sub connection): a state read sent before that could still miss an event.
- A channel given up and then wanted again before the server answered has two SSUBSCRIBEs in
  flight: each confirmation settles the oldest one still waiting, in the server's order.
- After a connection drops, events published meanwhile are lost. redis-py reconnects; we then
  subscribe again to that server's channels, and once every one is confirmed, each of their
  listeners is told to RESYNC, that is to read the state of its runs afresh.
- On a cluster, when a channel's slot moves to another master, the old one sends an
  `sunsubscribe` nobody asked for (or answers MOVED to a command about that slot) and events
  published until we subscribe on the new owner are lost. So every channel of that slot is
  subscribed again where the MOVED points (asking the old owner if we did not know it yet) and,
  once confirmed, their listeners are told to RESYNC.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict, deque
from collections.abc import Collection, Iterable
from typing import Any

import redis.asyncio as redis
from redis.crc import key_slot
from redis.exceptions import MovedError

from flows.engine.keys import Keys

logger = logging.getLogger(__name__)

# Put on a listener's queue after a reconnect: events may have been lost, read the state again.
RESYNC: dict[str, Any] = {"kind": "resync"}
RECONNECT_PAUSE_SECONDS = 0.5
# The result of a subscription's future once a later one took it over (see _resubscribe).
HANDED_ON = object()
ONE_SERVER = ""  # the name of the one server's subscriptions; on a cluster, a node's name


class Listener:
    """The events of some runs, in the order they were published, on one queue."""

    def __init__(self, subscriptions: RunSubscriptions) -> None:
        self._subscriptions = subscriptions
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.channels: set[str] = set()

    async def listen_to(self, flow_ids: list[str], *, ends_only: bool = False) -> None:
        """Start hearing these runs (with `ends_only`, their last event alone); returns once
        the server is sure to send their events."""
        await self._subscriptions.add(self, flow_ids, ends_only)

    def close(self) -> None:
        """Hear nothing more. Synchronous, so that it is safe in `finally` and on cancel."""
        self._subscriptions.remove(self)


class RunSubscriptions:
    """Every listener's channels, each subscribed on the server that serves it."""

    def __init__(self, client: redis.Redis | redis.RedisCluster, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self.cluster = isinstance(client, redis.RedisCluster)
        self._listeners: dict[str, set[Listener]] = defaultdict(set)
        # Per channel wanted, the future of its newest SSUBSCRIBE, which its listeners wait for.
        self._confirmed: dict[str, asyncio.Future] = {}
        self._servers: dict[str, _ServerSubscriptions] = {}
        self._connecting = asyncio.Lock()
        self._resubscribers: set[asyncio.Task] = set()

    def listener(self) -> Listener:
        return Listener(self)

    async def add(self, listener: Listener, flow_ids: list[str], ends_only: bool) -> None:
        channel_of = self.keys.flow_end_channel if ends_only else self.keys.flow_channel
        channels = [channel_of(flow_id) for flow_id in flow_ids]
        new = [channel for channel in channels if channel not in self._confirmed]
        for channel in channels:
            self._listeners[channel].add(listener)
            listener.channels.add(channel)
        if new:
            await self._subscribe(new)
        waiting = {self._confirmed[c] for c in channels if not self._confirmed[c].done()}
        if waiting:
            # asyncio.wait, not gather: a cancelled wait must not cancel the shared futures.
            await asyncio.wait(waiting)

    def remove(self, listener: Listener) -> None:
        for channel in listener.channels:
            listeners = self._listeners.get(channel)
            if listeners is None:
                continue
            listeners.discard(listener)
            if not listeners:
                del self._listeners[channel]
                self._confirmed.pop(channel, None)
                for server in self._servers.values():
                    if channel in server.channels:
                        server.leave(channel)
        listener.channels.clear()

    async def close(self) -> None:
        for task in list(self._resubscribers):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for server in self._servers.values():
            await server.close()
        self._servers.clear()

    # -- what the servers' readers call ----------------------------------------------------

    def deliver(self, channel: str, event: dict[str, Any]) -> None:
        for listener in self._listeners.get(channel, ()):
            listener.queue.put_nowait(event)

    def resync(self, channels: Iterable[str]) -> None:
        """Tell each listener of these channels, once, to read its runs' state again."""
        listeners = {listener for c in channels for listener in self._listeners.get(c, ())}
        for listener in listeners:
            listener.queue.put_nowait(RESYNC)

    def batches(self, channels: Collection[str]) -> list[list[str]]:
        """The channels in groups for one SSUBSCRIBE or SUNSUBSCRIBE each: one slot's per
        command on a cluster (which refuses a command across slots: CROSSSLOT), all at once on
        one server."""
        if not self.cluster:
            return [list(channels)] if channels else []
        by_slot: dict[int, list[str]] = defaultdict(list)
        for channel in channels:
            by_slot[slot_of(channel)].append(channel)
        return list(by_slot.values())

    async def moved(self, error: MovedError) -> None:
        """Tell the cluster client where a slot went, as it does on a MOVED reply to its own
        commands, so that the slot's channels are subscribed there next."""
        await self.client.nodes_manager.move_slot(error)

    def rehome(self, channels: set[str], pending: list[asyncio.Future]) -> None:
        """Subscribe again, where they are served now, to channels a server gave up; `pending`
        are the futures of their SSUBSCRIBEs it will never confirm."""
        task = asyncio.get_running_loop().create_task(
            self._resubscribe(channels, pending), name="flows-resubscribe"
        )
        self._resubscribers.add(task)
        task.add_done_callback(self._resubscribers.discard)

    # -- subscribing -----------------------------------------------------------------------

    async def _subscribe(self, channels: list[str]) -> dict[str, asyncio.Future]:
        """Send each channel's SSUBSCRIBE to the server serving it; returns the futures that
        settle on the confirmations (`_confirmed` holds them too)."""
        if self.cluster:
            await self.client.initialize()  # the slot map, on first use; then a no-op
        loop = asyncio.get_running_loop()
        futures = {channel: loop.create_future() for channel in channels}
        self._confirmed.update(futures)
        by_server: dict[str, dict[str, asyncio.Future]] = defaultdict(dict)
        for channel, future in futures.items():
            name = self.client.get_node_from_key(channel).name if self.cluster else ONE_SERVER
            by_server[name][channel] = future
        for name, subscriptions in by_server.items():
            await (await self._server(name)).subscribe(subscriptions)
        return futures

    async def _server(self, name: str) -> _ServerSubscriptions:
        """The server's subscriptions, connected once: redis-py's PubSub would take a
        connection from the pool for each of several concurrent first subscribes, and read
        only one."""
        async with self._connecting:
            server = self._servers.get(name)
            if server is None:
                server = _ServerSubscriptions(self, self._client_of(name), name != ONE_SERVER)
                try:
                    await server.connect()
                except BaseException:
                    await server.close()
                    raise
                self._servers[name] = server
        return server

    def _client_of(self, name: str) -> redis.Redis:
        """A plain client of one server, for its pub/sub connection: the one server's own
        client, or, on a cluster, one with the node's connection settings."""
        if name == ONE_SERVER:
            return self.client
        node = self.client.get_node(node_name=name)
        pool = redis.ConnectionPool(
            connection_class=node.connection_class, **node.connection_kwargs
        )
        return redis.Redis.from_pool(pool)

    async def _resubscribe(self, channels: set[str], pending: list[asyncio.Future]) -> None:
        """Subscribe the channels still wanted where the slot map says they are, then RESYNC
        their listeners. If that server in turn answers MOVED (our map was stale: an
        unasked `sunsubscribe` does not say where the slot went), a next `rehome` follows it
        and marks our futures HANDED_ON: it resyncs them, so listeners hear one per move."""
        try:
            while True:
                wanted = [channel for channel in channels if channel in self._listeners]
                try:
                    futures = await self._subscribe(wanted)
                    break
                except redis.RedisError:
                    # The new owner is unreachable for now: its reader, if it has one,
                    # resubscribes what it was sent; the rest are sent again shortly.
                    logger.warning("run subscriptions could not move", exc_info=True)
                    await asyncio.sleep(RECONNECT_PAUSE_SECONDS)
            if futures:
                await asyncio.wait(futures.values())
        finally:
            _settle(pending, HANDED_ON)  # their waiters read state next, and hear RESYNC
        self.resync(c for c, future in futures.items() if future.result() is not HANDED_ON)


class _ServerSubscriptions:
    """One server's pub/sub connection, the channels subscribed on it, and its reader task.

    `channels` are the channels subscribed (or being subscribed) here by our book, not by
    redis-py's: after a reconnect we subscribe them again ourselves, in batches a cluster
    accepts, where redis-py would send them all in one SSUBSCRIBE, moved slots included."""

    def __init__(self, owner: RunSubscriptions, client: redis.Redis, owns_client: bool) -> None:
        self._owner = owner
        self._client = client
        self._owns_client = owns_client
        self._pubsub = client.pubsub()
        self._reader: asyncio.Task | None = None
        self.channels: set[str] = set()
        # Per channel, the SSUBSCRIBEs sent here and not yet confirmed, oldest first.
        self._in_flight: dict[str, deque[asyncio.Future]] = defaultdict(deque)
        self._resubscribing: set[str] = set()  # after a reconnect, those not yet confirmed
        self._unheard: set[str] = set()  # channels to leave
        self._unsubscriber: asyncio.Task | None = None

    async def connect(self) -> None:
        await self._pubsub.connect()
        connection = self._pubsub.connection
        connection.deregister_connect_callback(self._pubsub.on_connect)
        connection.register_connect_callback(self._on_reconnect)
        self._reader = asyncio.get_running_loop().create_task(
            self._read(), name="flows-subscriptions"
        )

    async def subscribe(self, futures: dict[str, asyncio.Future]) -> None:
        for channel, future in futures.items():
            self.channels.add(channel)
            self._in_flight[channel].append(future)
        for batch in self._owner.batches(futures):
            await self._pubsub.ssubscribe(*batch)

    def leave(self, channel: str) -> None:
        self.channels.discard(channel)
        self._unheard.add(channel)
        if self._unsubscriber is None:
            self._unsubscriber = asyncio.get_running_loop().create_task(
                self._unsubscribe_unheard(), name="flows-unsubscribe"
            )

    async def close(self) -> None:
        for task in (self._reader, self._unsubscriber):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._pubsub.connection is not None:
            self._pubsub.connection.deregister_connect_callback(self._on_reconnect)
        await self._pubsub.aclose()
        if self._owns_client:
            await self._client.aclose()

    # -- the reader ------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except redis.ConnectionError:
                # redis-py gave up reconnecting: the server is down. Waits keep waiting (or
                # time out); try again shortly, and the reconnect resyncs them.
                logger.warning("run subscriptions lost Redis; reconnecting", exc_info=True)
                await asyncio.sleep(RECONNECT_PAUSE_SECONDS)
                with contextlib.suppress(redis.ConnectionError):
                    await self._pubsub.connect()
                continue
            except MovedError as error:
                # An SSUBSCRIBE or SUNSUBSCRIBE of a slot this master no longer serves.
                await self._owner.moved(error)
                self._lose_slot(error.slot_id)
                continue
            except redis.ResponseError:
                # Not expected (a CROSSSLOT, an ACL refusal...): some SSUBSCRIBE failed and its
                # waiters would wait for ever. Start afresh: the next read reconnects, which
                # subscribes every channel again and then resyncs.
                logger.warning("run subscriptions got an error; reconnecting", exc_info=True)
                await asyncio.sleep(RECONNECT_PAUSE_SECONDS)
                await self._pubsub.connection.disconnect()
                continue
            if message is not None:
                self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"]
        if kind == "smessage":
            self._owner.deliver(channel, json.loads(message["data"]))
        elif kind == "ssubscribe":
            self._confirm(channel)
        elif kind == "sunsubscribe" and self._dropped(channel):
            self._lose_slot(slot_of(channel))

    def _dropped(self, channel: str) -> bool:
        """Whether an `sunsubscribe` of `channel` was the server's, not ours: the server drops
        a channel whose slot moved away. One we leave is out of `channels` already, and one
        wanted again since has its SSUBSCRIBE in flight behind our SUNSUBSCRIBE."""
        return channel in self.channels and not self._in_flight.get(channel)

    def _confirm(self, channel: str) -> None:
        in_flight = self._in_flight.get(channel)
        if in_flight:
            _settle([in_flight.popleft()])
            if not in_flight:
                del self._in_flight[channel]
        elif channel not in self.channels:
            self.leave(channel)  # subscribed again by a reconnect, but not wanted here any more
        self._resubscribed({channel})

    def _lose_slot(self, slot: int) -> None:
        """This master no longer serves `slot`: forget its channels here and subscribe them
        where the slot went."""
        lost = {c for c in (*self.channels, *self._in_flight) if slot_of(c) == slot}
        pending: list[asyncio.Future] = []
        for channel in lost:
            self.channels.discard(channel)
            pending.extend(self._in_flight.pop(channel, ()))
        self._resubscribed(lost)
        if lost:
            self._owner.rehome(lost, pending)

    async def _on_reconnect(self, _connection: Any) -> None:
        """Called by redis-py once it reconnected: the confirmations now due are those of
        this resubscription, so forget what was in flight (and release its waiters: they read
        state next, and hear RESYNC later)."""
        for in_flight in self._in_flight.values():
            _settle(in_flight)
        self._in_flight.clear()
        self._resubscribing = set(self.channels)
        if not self._resubscribing:
            return
        for batch in self._owner.batches(self.channels):
            await self._pubsub.ssubscribe(*batch)

    def _resubscribed(self, channels: set[str]) -> None:
        """These channels no longer wait for their resubscription (confirmed, or gone to
        another master); once none does, the channels' listeners read state afresh."""
        if self._resubscribing:
            self._resubscribing -= channels
            if not self._resubscribing:
                self._owner.resync(self.channels)

    async def _unsubscribe_unheard(self) -> None:
        """Leave the channels nobody listens to here any more, many per SUNSUBSCRIBE."""
        try:
            while self._unheard:
                # A channel subscribed here again meanwhile is listened to: keep it.
                unheard = [c for c in self._unheard if c not in self.channels]
                self._unheard.clear()
                for batch in self._owner.batches(unheard):
                    await self._pubsub.sunsubscribe(*batch)
        except redis.ConnectionError:
            pass  # the reconnect subscribes again, and _confirm leaves the unheard channels
        finally:
            self._unsubscriber = None


def slot_of(channel: str) -> int:
    return key_slot(channel.encode())


def _settle(futures: Iterable[asyncio.Future], result: object = None) -> None:
    for future in futures:
        if not future.done():
            future.set_result(result)
