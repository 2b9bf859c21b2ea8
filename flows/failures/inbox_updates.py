"""The failure inbox pushed to the pages open on it: by the live feeds after archived batches
(runs failed, or were retried out of their group), and at once after a dismissal, which
changes no run.

Its groups carry action buttons only for those who may act, so it is rendered once per
may-act and sent to the groups of viewers with that ability.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from flows.failures.inbox import render_inbox
from flows.runs.groups import EVERY_ABILITIES, group_name

INBOX_GROUPS = {group_name("inbox", abilities): abilities for abilities in EVERY_ABILITIES}


async def publish_inbox(watched: set[str]) -> None:
    """Render the inbox for the watched inbox groups (in the database thread) and send it."""
    groups = sorted(watched & INBOX_GROUPS.keys())
    frames: dict[bool, str] = {}
    for can_act in {INBOX_GROUPS[group].can_retry for group in groups}:
        frames[can_act] = await database_sync_to_async(render_inbox)(can_act)
    await _send(groups, frames)


def send_inbox() -> None:
    """Push the inbox to every inbox group (actions are rare: no watcher check). Rendered in
    the caller's thread, on its database connection, before sending."""
    frames = {can_act: render_inbox(can_act) for can_act in (False, True)}
    async_to_sync(_send)(sorted(INBOX_GROUPS), frames)


async def _send(groups: list[str], frames: dict[bool, str]) -> None:
    layer = get_channel_layer()
    for group in groups:
        frame = frames[INBOX_GROUPS[group].can_retry]
        await layer.group_send(group, {"type": "live.html", "frames": [frame]})
