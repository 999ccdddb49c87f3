"""Plain progress reporting between worker threads and whoever draws the progress bar."""

from __future__ import annotations

import threading


class ProgressState:
    """A thread-safe (done, total) pair that worker threads update and the page thread reads.

    Streamlit elements may only be updated from the script thread, while edu_core calls
    ``progress(done, total)`` from its worker threads, so the two meet here.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done, self._total = 0, 0

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            self._done, self._total = done, total

    def read(self) -> tuple[int, int]:
        """The last ``(done, total)`` reported (``(0, 0)`` before the first report)."""
        with self._lock:
            return self._done, self._total
