"""A brake on guessing: after too many failed attempts within a window, every attempt waits.

Used for students' resume codes and the teacher password. Pure: the caller keeps the
server-wide :class:`FailureLog` (one per server) and the list of one session's failures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, MutableSequence
from typing import TypeVar

from edu_core.errors import EduError

T = TypeVar("T")

#: How long a failed attempt counts against the session and the server, in seconds.
WINDOW_S = 60.0


class FailureLog:
    """Times of failed attempts on the whole server (shared by every session, thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: list[float] = []

    def recent(self, now: float, window_s: float) -> int:
        """How many failures happened within ``window_s`` before ``now`` (older ones are dropped)."""
        with self._lock:
            self._times[:] = [t for t in self._times if now - t < window_s]
            return len(self._times)

    def add(self, now: float) -> None:
        """Count one more failure at ``now``."""
        with self._lock:
            self._times.append(now)


def braked(
    attempt: Callable[[], T],
    *,
    server: FailureLog,
    session: MutableSequence[float],
    tries: tuple[int, int],
    wait_code: str,
    failed: Callable[[EduError], bool],
    window_s: float = WINDOW_S,
) -> T:
    """``attempt()`` unless ``tries`` = (this session's, the server's) failures within
    ``window_s`` are used up: then every attempt, even a right one, is refused with
    ``wait_code`` until the window has passed. A failure is an EduError that ``failed`` accepts;
    it is added to ``session`` (in place, so the caller's list keeps it) and to ``server``.
    """
    now = time.monotonic()
    session[:] = [t for t in session if now - t < window_s]
    crowded = server.recent(now, window_s) >= tries[1]
    if crowded or len(session) >= tries[0]:
        raise EduError(wait_code)
    try:
        return attempt()
    except EduError as exc:
        if failed(exc):
            session.append(now)
            server.add(now)
        raise
