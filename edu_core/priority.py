"""Background work yields the CPU to pages: face finding and training run at a lower priority.

With a class online the server's cores are shared by page runs (what a student waits for
when a page loads) and batch work (finding faces in a batch of photos, training). On Linux
priority is per thread, so the worker threads lower their own and everything they start
(MediaPipe's and PyTorch's helper threads) inherits it; page threads keep the normal one.
Elsewhere this does nothing.
"""

from __future__ import annotations

import os
import threading

BACKGROUND_NICE = 10


def background_thread() -> None:
    """Lower the calling thread's CPU priority (once; never raises)."""
    if getattr(_state, "lowered", False):
        return
    _state.lowered = True
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, max(current, BACKGROUND_NICE))
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed: the work still runs, only without the courtesy


def thread_nice() -> int | None:
    """The calling thread's nice value (None where it cannot be read)."""
    try:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    except (AttributeError, OSError):
        return None


_state = threading.local()
