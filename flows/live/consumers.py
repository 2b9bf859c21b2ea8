"""WebSocket consumers of the live pages: thin. Each checks login and the view permission on
connect (closing otherwise), joins its group and its watchers, FIRST sends the current state of
what the page shows (so whatever happened while it was away is repaired), then forwards live
HTML. Should Redis go away (down, or restarting), the socket closes saying so, with the code on
which the page reconnects (and is sent the current state again)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import QueryDict

from flows.failures.inbox import render_inbox
from flows.live import watchers
from flows.live.shared_reads import SharedReads
from flows.middleware import REDIS_DOWN
from flows.runs import list_fragments, pages
from flows.runs.groups import VIEW_PERMISSION, Abilities, group_name, is_run_id
from flows.runs.runs_list import LiveRow, RunsList, take_rows

logger = logging.getLogger(__name__)

SHARED_READS: SharedReads[list[str] | None] = SharedReads()
# RFC 6455's "Try Again Later": the page's WebSocket extension reconnects on it.
TRY_AGAIN_LATER = 1013
REDIS_UNREACHABLE = "Redis is unreachable"


def _in_thread(function: Callable[..., None]) -> Callable[..., Awaitable[None]]:
    """Redis-only work, run off the loop without queueing behind the database thread."""
    return sync_to_async(function, thread_sensitive=False)


@database_sync_to_async
def _abilities(user: Any) -> Abilities | None:
    """The user's abilities, or None when they may not watch runs at all."""
    if not user.is_authenticated or not user.has_perm(VIEW_PERMISSION):
        return None
    return Abilities.of(user)


class LiveConsumer(AsyncWebsocketConsumer):
    page: str
    # Whether the page's fragments differ by what the viewer may do (action buttons).
    by_abilities = True
    accepted = False

    async def connect(self) -> None:
        abilities = await _abilities(self.scope["user"])
        if abilities is None:
            await self.close()
            return
        group_abilities = abilities if self.by_abilities else None
        self.live_group = group_name(self.page, group_abilities, self.flow_id())
        await self.channel_layer.group_add(self.live_group, self.channel_name)
        await self._watch()
        # Watched from here on, and read after that: nothing in between is missed.
        state = await self.read_state(abilities)
        if state is None:
            await self.close()
            return
        await self.accept()
        self.accepted = True
        self.rejoining = asyncio.create_task(
            self._keep_joined(), name=f"rejoin {self.channel_name}"
        )
        await self.send_frames(state)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        try:
            await super().__call__(scope, receive, send)
        except REDIS_DOWN as error:
            # The channel layer's receive or a read lost Redis: what this page was sent may
            # be stale, and what it was to be sent may be lost. Closing makes it reconnect and
            # be sent the current state, once Redis answers again.
            logger.warning("Redis is unreachable (%s): closing %s", error, scope["path"])
            if not self.accepted:
                await self.accept()  # a refused handshake could not say why
            await self.close(TRY_AGAIN_LATER, REDIS_UNREACHABLE)
        finally:
            # However the socket ends (closed, refused, a channel-layer error, the server's
            # shutdown), it stops watching: `disconnect` is not called on every path, and a
            # rejoin task left behind would keep it watching.
            if hasattr(self, "rejoining"):
                self.rejoining.cancel()
            if hasattr(self, "live_group"):
                # Without Redis it cannot leave; its entries expire (watchers.EXPIRE_SECONDS,
                # the layer's group_expiry) and messages to its channel with them.
                with contextlib.suppress(*REDIS_DOWN):
                    await self._leave()

    async def read_state(self, abilities: Abilities) -> list[str] | None:
        """HTML frames of everything live on the page; None refuses the connection."""

        def read() -> Awaitable[list[str] | None]:
            return database_sync_to_async(self.current_state)(abilities)

        # Same group, same state: sockets connecting together share a read (see shared_reads).
        return await SHARED_READS.read(self.live_group, read)

    async def _keep_joined(self) -> None:
        """Channels drops group members after its group_expiry (a day), and watchers expire
        too: a page left open for days stays live by joining again."""
        while True:
            await asyncio.sleep(watchers.REJOIN_SECONDS)
            await self.channel_layer.group_add(self.live_group, self.channel_name)
            await self._watch()

    async def _watch(self) -> None:
        await _in_thread(watchers.join)(
            self.page, self.flow_id(), self.live_group, self.channel_name
        )

    async def _leave(self) -> None:
        await self.channel_layer.group_discard(self.live_group, self.channel_name)
        await _in_thread(watchers.leave)(
            self.page, self.flow_id(), self.live_group, self.channel_name
        )

    def flow_id(self) -> str:
        return ""

    def current_state(self, abilities: Abilities) -> list[str] | None:
        """read_state's frames, read in the database thread."""
        raise NotImplementedError

    async def send_frames(self, frames: list[str]) -> None:
        for frame in frames:
            if frame:
                await self.send(text_data=frame)

    async def live_html(self, event: dict[str, Any]) -> None:
        await self.send_frames(event["frames"])


class RunConsumer(LiveConsumer):
    page = "run"

    async def connect(self) -> None:
        if not is_run_id(self.flow_id()):
            await self.close()  # no run has it, and it may not even make a group name
            return
        await super().connect()

    def flow_id(self) -> str:
        return self.scope["url_route"]["kwargs"]["flow_id"]

    def current_state(self, abilities: Abilities) -> list[str] | None:
        return pages.run_state_frames(self.flow_id(), abilities)


class RunsConsumer(LiveConsumer):
    page = "runs"
    runs_list: RunsList

    async def read_state(self, abilities: Abilities) -> list[str] | None:
        """Read for this socket alone: what a Runs page shows depends on its query string."""
        query = QueryDict(self.scope["query_string"])
        state = await database_sync_to_async(pages.runs_list_state)(query, abilities)
        if state is None:
            return None
        self.runs_list, frames = state
        return frames

    async def runs_rows(self, event: dict[str, Any]) -> None:
        """Archived runs' rows: each goes where runs_list places it on this page, if anywhere."""
        update = take_rows(self.runs_list, [LiveRow.from_message(row) for row in event["rows"]])
        self.runs_list = update.page
        await self.send_frames(list_fragments.render_rows_update(update))


class DashboardConsumer(LiveConsumer):
    page = "dashboard"
    by_abilities = False

    def current_state(self, abilities: Abilities) -> list[str] | None:
        return [list_fragments.render_dashboard()]


class InboxConsumer(LiveConsumer):
    page = "inbox"

    def current_state(self, abilities: Abilities) -> list[str] | None:
        return [render_inbox(abilities.can_retry)]


class NoSuchPage(AsyncWebsocketConsumer):
    """A socket to any other path (`/ws/runs/a%2Fb/`, say) is refused, rather than raising
    Channels' "No route found" error."""

    async def connect(self) -> None:
        await self.close()
