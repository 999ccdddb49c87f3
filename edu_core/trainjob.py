"""One training job as the web page sees it: its state, its epochs so far, its result or error.

Read its fields from any thread. :class:`edu_core.jobs.TrainingService` runs it with
:meth:`TrainingJob._run` on a worker thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from edu_core.trainconfig import EpochCallback, TrainingCancelled

JobState = Literal["queued", "running", "done", "failed", "cancelled"]


class TrainingJob:
    """One queued training run. Read its fields from any thread."""

    def __init__(
        self,
        job_id: str,
        fn: Callable[[EpochCallback, threading.Event], Any],
        total_epochs: int,
        owner: str | None,
    ) -> None:
        self.id = job_id
        self.owner = owner
        self.total_epochs = max(int(total_epochs), 1)
        self.cancel_event = threading.Event()
        self._fn = fn
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._state: JobState = "queued"
        self._history: list[dict[str, float]] = []
        self.result: Any = None
        self.error: BaseException | None = None
        self.created = time.time()
        self.started: float | None = None
        self.finished: float | None = None

    @property
    def state(self) -> JobState:
        """queued, running, done, failed or cancelled."""
        with self._lock:
            return self._state

    @property
    def history(self) -> list[dict[str, float]]:
        """The metrics of every finished epoch so far (a copy)."""
        with self._lock:
            return list(self._history)

    @property
    def progress(self) -> float:
        """0..1: finished epochs / planned epochs (1 once done)."""
        with self._lock:
            if self._state == "done":
                return 1.0
            return min(len(self._history) / self.total_epochs, 1.0)

    def cancel(self) -> None:
        """Ask the job to stop (a queued job never starts)."""
        self.cancel_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until finished; True if it finished within ``timeout``."""
        return self._done.wait(timeout)

    def _record(self, epoch: int, metrics: dict[str, float]) -> None:
        with self._lock:
            self._history.append(dict(metrics, epoch=epoch))

    def _run(self) -> None:
        with self._lock:
            if self.cancel_event.is_set():
                self._state = "cancelled"
            else:
                self._state = "running"
                self.started = time.time()
        if self._state == "running":
            try:
                result = self._fn(self._record, self.cancel_event)
                state: JobState = "done"
            except TrainingCancelled as exc:
                result, state, self.error = None, "cancelled", _without_frames(exc)
            except Exception as exc:  # noqa: BLE001 - recorded for the page to show, never lost
                result, state, self.error = None, "failed", _without_frames(exc)
            with self._lock:
                self.result, self._state = result, state
        # The call holds the training photos (a CNN run's crops are tens of MB); a finished job
        # keeps only its result, history and error for the page.
        self._fn = None
        self.finished = time.time()
        self._done.set()


def _without_frames(exc: BaseException) -> BaseException:
    """``exc`` (and the exceptions chained to it) without tracebacks.

    A traceback keeps every frame of the failed call alive, and with them the training data
    the job's call closed over, for as long as the job is kept.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        e.__traceback__ = None
        todo += [e.__cause__, e.__context__]
    return exc
