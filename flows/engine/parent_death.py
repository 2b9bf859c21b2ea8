"""Child processes that do not outlive their parent, even one killed with SIGKILL."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGKILL, parent_pid: int | None = None) -> None:
    """Linux: have the kernel send `signum` to this process when its parent exits.

    Strictly, when the parent *thread* that started this process exits: start children from
    a thread that lives as long as they should. If `parent_pid` is given and this process's
    parent is no longer that process, the parent died before this call and the signal is
    sent at once. Elsewhere than Linux this does nothing.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signum)
    except (OSError, AttributeError):
        return  # not Linux
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), signum)
