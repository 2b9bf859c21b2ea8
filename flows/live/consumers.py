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

from flows import history
from flows.live import feeds, pages, watchers
from flows.live.groups import VIEW_PERMISSION, Abilities, group_name, is_run_id
from flows.live.shared_reads import SharedReads
from flows.middleware import REDIS_DOWN

logger = logging.getLogger(__name__)

SHARED_READS: SharedReads[list[str] | None] = SharedReads()
NO_RUNS_GONE = '<tr id="no-runs" hx-swap-oob="delete"></tr>'
ROW_GONE = '<tr id="run-row-{}" hx-swap-oob="delete"></tr>'
INSERTED = '<tbody hx-swap-oob="{}">{}</tbody>'
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
    # Whether every socket of the group gets the same state (not so for filtered lists).
    shared_state = True
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
        state = await self._read_state(abilities)
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

    async def _read_state(self, abilities: Abilities) -> list[str] | None:
        def read() -> Awaitable[list[str] | None]:
            return database_sync_to_async(self.current_state)(abilities)

        # Same group, same state: sockets connecting together share a read (see shared_reads).
        return await (SHARED_READS.read(self.live_group, read) if self.shared_state else read())

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
        """HTML frames of everything live on the page; None refuses the connection."""
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
    shared_state = False

    def current_state(self, abilities: Abilities) -> list[str] | None:
        query = QueryDict(self.scope["query_string"])
        self.filter = history.RunFilter(
            query.get("flow", ""), query.get("status", ""), query.get("cursor", "")
        )
        try:
            runs, _next = history.runs_page(self.filter)
        except history.BadCursor:
            return None
        # The rows shown, top to bottom: where each sorts, and its cursor (for the pager).
        self.shown = {
            run.flow_id: (history.sort_key(run), history.encode_cursor(run)) for run in runs
        }
        return [feeds.render_run_rows(runs, abilities)]

    async def runs_rows(self, event: dict[str, Any]) -> None:
        """Rows of runs this page shows replace theirs. A run it does not show but would (on
        the first page, matching its filter: launched since, or just come to match a status)
        goes in where it sorts; the rows this pushes past a page leave it, and the pager then
        links past the last row shown."""
        replaced, added = [], {}
        for row in event["rows"]:
            if row["flow_id"] in self.shown:
                replaced.append(row["html"])
            elif self._belongs(row):
                added[row["flow_id"]] = row
        if added and not self.shown:
            replaced.append(NO_RUNS_GONE)
        # Rows and a <tbody> cannot share a frame: a parser wraps the rows in a tbody of its own.
        await self.send_frames(["".join(replaced)])
        if added:
            # Of a burst of new runs, only as many as fit on the page.
            newest_first = sorted(added.values(), key=_sort_key, reverse=True)[: history.PAGE_SIZE]
            await self._insert(newest_first)

    def _belongs(self, row: dict[str, Any]) -> bool:
        if not self.filter.first_page or not self.filter.matches(row["name"], row["status"]):
            return False
        if len(self.shown) < history.PAGE_SIZE:
            return True
        last_key, _cursor = next(reversed(self.shown.values()))
        return _sort_key(row) > last_key

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        """Each row goes before the first row shown that sorts after it, else at the end."""
        places: dict[str, list[str]] = {}
        for row in rows:
            key = _sort_key(row)
            before = next((fid for fid, (shown, _) in self.shown.items() if shown < key), None)
            place = f"beforebegin:#run-row-{before}" if before else "beforeend:#run-rows"
            places.setdefault(place, []).append(row["html"])
        await self.send_frames(
            [INSERTED.format(place, "".join(html)) for place, html in places.items()]
        )
        shown = self.shown | {row["flow_id"]: (_sort_key(row), row["cursor"]) for row in rows}
        ordered = sorted(shown.items(), key=lambda item: item[1][0], reverse=True)
        self.shown = dict(ordered[: history.PAGE_SIZE])
        pushed_out = [flow_id for flow_id, _sorted in ordered[history.PAGE_SIZE :]]
        if pushed_out:
            gone = "".join(ROW_GONE.format(flow_id) for flow_id in pushed_out)
            _last_key, last_cursor = ordered[history.PAGE_SIZE - 1][1]
            await self.send_frames([gone, feeds.render_runs_pager(self.filter, last_cursor)])


def _sort_key(row: dict[str, Any]) -> tuple[float, str]:
    """A row's sort key as sent (a channel layer message turns tuples into lists)."""
    return tuple(row["key"])


class DashboardConsumer(LiveConsumer):
    page = "dashboard"
    by_abilities = False

    def current_state(self, abilities: Abilities) -> list[str] | None:
        return [feeds.render_dashboard()]


class NoSuchPage(AsyncWebsocketConsumer):
    """A socket to any other path (`/ws/runs/a%2Fb/`, say) is refused, rather than raising
    Channels' "No route found" error."""

    async def connect(self) -> None:
        await self.close()
