"""A queue that runs training jobs one (or N) at a time on background threads.

A whole class pressing *train* together must not exhaust the GPU or the CPU, so jobs wait
their turn in the order they came.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from edu_core.devices import choose_device
from edu_core.embeddings import EmbeddingCache
from edu_core.priority import background_thread
from edu_core.train import TrainResult, train
from edu_core.trainconfig import EpochCallback, TrainConfig
from edu_core.trainjob import TrainingJob


class TrainingQueue:
    """Runs training jobs ``max_workers`` at a time on background threads, in order.

    The queue lives as long as the server, so it forgets finished jobs it no longer needs:
    a new job of an owner replaces that owner's finished ones (the page shows only the
    latest), and at most ``keep_finished`` finished jobs are kept in all.
    """

    def __init__(self, max_workers: int = 1, keep_finished: int = 256) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be >= 1")
        self.max_workers = max_workers
        self.keep_finished = keep_finished
        self._cond = threading.Condition()
        self._waiting: deque[TrainingJob] = deque()
        self._jobs: dict[str, TrainingJob] = {}
        self._threads: list[threading.Thread] = []
        self._ids = itertools.count(1)
        self._closed = False

    def submit_call(
        self,
        fn: Callable[[EpochCallback, threading.Event], Any],
        *,
        total_epochs: int = 1,
        owner: str | None = None,
    ) -> TrainingJob:
        """Queue ``fn(on_epoch_end, cancel_event)``; its return value becomes ``job.result``."""
        with self._cond:
            if self._closed:
                raise RuntimeError("queue is shut down")
            job = TrainingJob(f"job-{next(self._ids)}", fn, total_epochs, owner)
            self._forget_finished(owner)
            self._jobs[job.id] = job
            self._waiting.append(job)
            if len(self._threads) < self.max_workers:
                t = threading.Thread(
                    target=self._worker, name=f"training-{len(self._threads) + 1}", daemon=True
                )
                self._threads.append(t)
                t.start()
            self._cond.notify()
        return job

    def submit(
        self,
        kind: str,
        faces: Sequence[Any],
        labels: Sequence[str],
        cfg: TrainConfig = TrainConfig(),
        *,
        class_names: Sequence[str],
        owner: str | None = None,
        embedding_cache: EmbeddingCache | None = None,
    ) -> TrainingJob:
        """Queue a :func:`train` run; ``job.result`` is its :class:`TrainResult`."""
        faces, labels = list(faces), list(labels)
        epochs = cfg.resolved(kind, choose_device(cfg.device)).epochs or 1

        def run(cb: EpochCallback, cancel: threading.Event) -> TrainResult:
            return train(
                kind,
                faces,
                labels,
                cfg,
                class_names=class_names,
                on_epoch_end=cb,
                cancel=cancel,
                embedding_cache=embedding_cache,
            )

        return self.submit_call(run, total_epochs=epochs, owner=owner)

    def _forget_finished(self, owner: str | None) -> None:
        # Called with the lock held, before a new job of ``owner`` is added.
        finished = [j for j in self._jobs.values() if j._done.is_set()]
        drop = {j.id for j in finished if owner is not None and j.owner == owner}
        rest = [j for j in finished if j.id not in drop]
        drop |= {j.id for j in rest[: max(0, len(rest) - self.keep_finished)]}  # oldest first
        for job_id in drop:
            del self._jobs[job_id]

    def place(self, job: TrainingJob) -> int | None:
        """0 while running, 1.. = position among waiting jobs, None once finished."""
        with self._cond:
            if job.state == "running":
                return 0
            for i, waiting in enumerate(self._waiting):
                if waiting is job:
                    return i + 1
            return None

    def get(self, job_id: str) -> TrainingJob | None:
        """The kept job with this id, or None once it was forgotten."""
        with self._cond:
            return self._jobs.get(job_id)

    def jobs(self, owner: str | None = None) -> list[TrainingJob]:
        """The kept jobs (of ``owner`` only, when given), oldest first."""
        with self._cond:
            return [j for j in self._jobs.values() if owner is None or j.owner == owner]

    def shutdown(self, wait: bool = True, cancel_running: bool = False) -> None:
        """Cancel waiting jobs, optionally stop running ones, and end the workers."""
        with self._cond:
            self._closed = True
            while self._waiting:
                job = self._waiting.popleft()
                job.cancel()
                job._run()  # marks it cancelled without running
            for job in self._jobs.values():
                if cancel_running and job.state == "running":
                    job.cancel()
            self._cond.notify_all()
            threads = list(self._threads)
        if wait:
            for t in threads:
                t.join()

    def _worker(self) -> None:
        background_thread()  # pages first: training may take longer, a page load may not
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if not self._waiting:
                    return
                job = self._waiting.popleft()
            job._run()
