"""Who may do what on a live page, and the Channels group names: built here and nowhere else.

Fragments with action buttons differ by what the viewer may do, so each is rendered once per
Abilities and sent to the group of viewers with those abilities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

VIEW_PERMISSION = "flows.view_runrecord"
# The engine's run ids are uuid4().hex (FlowExecutor.execute_flow). Anything else names no run,
# and could make an invalid group name (Channels allows < 100 ASCII letters, digits, -_.).
RUN_ID = re.compile(r"[0-9a-f]{32}")
Page = Literal["run", "runs", "dashboard", "inbox"]


@dataclass(frozen=True)
class Abilities:
    can_cancel: bool = False
    can_retry: bool = False

    @classmethod
    def of(cls, user: AbstractBaseUser | AnonymousUser) -> Abilities:
        return cls(user.has_perm("flows.cancel_run"), user.has_perm("flows.retry_step"))

    @property
    def key(self) -> str:
        return f"c{int(self.can_cancel)}r{int(self.can_retry)}"


EVERY_ABILITIES = [Abilities(cancel, retry) for cancel in (False, True) for retry in (False, True)]


def group_name(page: Page, abilities: Abilities | None = None, flow_id: str = "") -> str:
    """The group of one page's viewers: one run's page, the runs list, the dashboard, or the
    failure inbox."""
    parts = [page, flow_id, abilities.key if abilities else ""]
    return ".".join(part for part in parts if part)


def is_run_id(text: str) -> bool:
    """Whether the text could be a run's id (a run page's socket is refused at once if not)."""
    return RUN_ID.fullmatch(text) is not None
