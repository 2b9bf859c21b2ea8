"""One pub/sub connection shared by every wait and watch of a FlowExecutor.

A wait subscribes to its runs' channels, reads their state, then hears their events: subscribing
first means a transition between the two cannot be missed, and the state read answers a run
that ended before. Thousands of concurrent waits on one executor cost one connection and one
reader task, not a connection each (the pool would run dry).

Races handled here:
- A SUBSCRIBE counts only once the server has confirmed it (the confirmation comes back on the
  pub/sub connection): a state read sent before that could still miss an event.
- A channel given up and then wanted again before the server answered has two SUBSCRIBEs in
  flight: each confirmation settles the oldest one still waiting, in the server's order.
- After the connection drops, events published meanwhile are lost. redis-py reconnects and
  subscribes again; once every channel is confirmed again, each listener is told to RESYNC,
  that is to read the state of its runs afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict, deque
from typing import Any

import redis.asyncio as redis

from flows.engine.keys import Keys

logger = logging.getLogger(__name__)

# Put on a listener's queue after a reconnect: events may have been lost, read the state again.
RESYNC: dict[str, Any] = {"kind": "resync"}
RECONNECT_PAUSE_SECONDS = 0.5


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
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._pubsub: Any = None
        self._reader: asyncio.Task | None = None
        self._listeners: dict[str, set[Listener]] = defaultdict(set)
        # Per channel, the SUBSCRIBEs sent and not yet confirmed, oldest first; `_confirmed`
        # holds the newest one's future, which a listener of that channel waits for.
        self._in_flight: dict[str, deque[asyncio.Future]] = defaultdict(deque)
        self._confirmed: dict[str, asyncio.Future] = {}
        self._resubscribing: set[str] = set()
        self._unheard: set[str] = set()  # channels to leave
        self._unsubscriber: asyncio.Task | None = None
        self._connecting = asyncio.Lock()

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
            loop = asyncio.get_running_loop()
            for channel in new:
                self._confirmed[channel] = future = loop.create_future()
                self._in_flight[channel].append(future)
            await (await self._connected_pubsub()).subscribe(*new)
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
                self._leave(channel)
        listener.channels.clear()

    async def close(self) -> None:
        for task in (self._reader, self._unsubscriber):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._pubsub is not None:
            if self._pubsub.connection is not None:
                self._pubsub.connection.deregister_connect_callback(self._on_reconnect)
            await self._pubsub.aclose()
            self._pubsub = None

    # -- the connection and its reader -----------------------------------------------------

    async def _connected_pubsub(self) -> Any:
        """The pub/sub connection, connected once: redis-py's PubSub would take a connection
        from the pool for each of several concurrent first subscribes, and read only one."""
        async with self._connecting:
            if self._pubsub is None:
                pubsub = self.client.pubsub()
                await pubsub.connect()
                pubsub.connection.register_connect_callback(self._on_reconnect)
                self._pubsub = pubsub
                self._reader = asyncio.get_running_loop().create_task(
                    self._read(), name="flows-subscriptions"
                )
        return self._pubsub

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except redis.ConnectionError:
                # redis-py gave up reconnecting: Redis is down. Waits keep waiting (or time
                # out); try again shortly, and the reconnect resyncs them.
                logger.warning("run subscriptions lost Redis; reconnecting", exc_info=True)
                await asyncio.sleep(RECONNECT_PAUSE_SECONDS)
                with contextlib.suppress(redis.ConnectionError):
                    await self._pubsub.connect()
                continue
            if message is not None:
                self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        if message["type"] == "message":
            event = json.loads(message["data"])
            for listener in self._listeners.get(channel, ()):
                listener.queue.put_nowait(event)
        elif message["type"] == "subscribe":
            self._confirm(channel)

    def _confirm(self, channel: str) -> None:
        in_flight = self._in_flight.get(channel)
        if in_flight:
            future = in_flight.popleft()
            if not future.done():
                future.set_result(None)
            if not in_flight:
                del self._in_flight[channel]
        elif channel not in self._listeners:
            self._leave(channel)  # subscribed again by a reconnect, but nobody listens any more
        if self._resubscribing:
            self._resubscribing.discard(channel)
            if not self._resubscribing:
                self._resync_all()

    async def _on_reconnect(self, _connection: Any) -> None:
        """Called by redis-py after it reconnected and subscribed again to every channel: the
        confirmations now due are those of the re-subscription, so forget what was in flight
        (and release its waiters: they read state next, and hear RESYNC later)."""
        for in_flight in self._in_flight.values():
            for future in in_flight:
                if not future.done():
                    future.set_result(None)
        self._in_flight.clear()
        self._resubscribing = set(self._pubsub.channels) if self._pubsub else set()
        if not self._resubscribing:
            self._resync_all()

    def _resync_all(self) -> None:
        listeners = {listener for group in self._listeners.values() for listener in group}
        for listener in listeners:
            listener.queue.put_nowait(RESYNC)

    def _leave(self, channel: str) -> None:
        self._unheard.add(channel)
        if self._unsubscriber is None:
            self._unsubscriber = asyncio.get_running_loop().create_task(
                self._unsubscribe_unheard(), name="flows-unsubscribe"
            )

    async def _unsubscribe_unheard(self) -> None:
        """Leave the channels nobody listens to any more, many per UNSUBSCRIBE."""
        try:
            while self._unheard and self._pubsub is not None:
                # A channel wanted again meanwhile is listened to: keep it.
                unheard = [c for c in self._unheard if c not in self._listeners]
                self._unheard.clear()
                if unheard:
                    await self._pubsub.unsubscribe(*unheard)
        except redis.ConnectionError:
            pass  # the reconnect subscribes again, and _confirm leaves the unheard channels
        finally:
            self._unsubscriber = None
