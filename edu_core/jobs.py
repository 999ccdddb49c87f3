"""The training service: a server-wide queue of training jobs and the store runs they close.

A whole class pressing *train* together must not exhaust the GPU or the CPU, so jobs run
``max_workers`` at a time on a :class:`~concurrent.futures.ThreadPoolExecutor`, in the order
they came. A job trains, keeps the model, tests it on the held-back photos and closes the
store's run record itself, so a student who closes the tab mid-training still finds the model.

The service lives as long as the server, so it forgets finished jobs it no longer needs: a new
job of an owner replaces that owner's finished ones (the page shows only the latest), at most
``keep_finished`` finished jobs are kept in all, and a forgotten job's run id goes with it.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from edu_core import evaluate, models
from edu_core.priority import background_thread
from edu_core.train import (
    EmbeddingCache,
    EpochCallback,
    TrainConfig,
    TrainingCancelled,
    TrainingJob,
    TrainResult,
    choose_device,
    train,
)

JobCall = Callable[[EpochCallback, threading.Event], Any]


def split_faces(
    db: Any, viewer: Any, ids: Sequence[int], *, crops: bool = True
) -> tuple[list[int], list, list[str]]:
    """The labelled accepted photos among ``ids``: their ids, faces and labels (same order)."""
    labelled = {r.id: r.label for r in db.list_images(viewer, status="ok", labelled=True)}
    keep = [i for i in ids if i in labelled]
    return keep, db.faces(viewer, keep, crops=crops), [labelled[i] for i in keep]


def run_metrics(db: Any, viewer: Any, model_id: int) -> dict[str, Any]:
    """The test figures stored when the model was trained (empty if none)."""
    runs = [r for r in db.list_runs(viewer) if r.model_id == model_id and r.status == "done"]
    return runs[-1].metrics if runs else {}


class TrainingService:
    """Runs training jobs ``max_workers`` at a time on background threads, in order."""

    def __init__(self, max_workers: int = 1, keep_finished: int = 256) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be >= 1")
        self.max_workers = max_workers
        self.keep_finished = keep_finished
        self._lock = threading.Lock()
        self._waiting: deque[TrainingJob] = deque()
        self._jobs: dict[str, TrainingJob] = {}
        self._runs: dict[str, int] = {}  # job id -> store run id, for jobs still kept
        self._ids = itertools.count(1)
        self._closed = False
        # Pages first: training may take longer, a page load may not.
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="training", initializer=background_thread
        )
        # The executor's threads are joined when the interpreter exits, and a running CNN job
        # would hold a stopping server for minutes: stop the jobs first. Only threading's
        # (private) exit hooks run before that join; atexit runs after it.
        stop = weakref.WeakMethod(self._stop_at_exit)
        threading._register_atexit(lambda: (method := stop()) is not None and method())

    # --- the queue ------------------------------------------------------------------------------

    def submit_call(
        self, fn: JobCall, *, total_epochs: int = 1, owner: str | None = None, run_id: int | None = None
    ) -> TrainingJob:
        """Queue ``fn(on_epoch_end, cancel_event)``; its return value becomes ``job.result``.

        ``run_id`` is the store run the job closes (:meth:`run_of` tells it while the job is kept).
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("queue is shut down")
            job = TrainingJob(f"job-{next(self._ids)}", fn, total_epochs, owner)
            self._forget_finished(owner)
            self._jobs[job.id] = job
            if run_id is not None:
                self._runs[job.id] = run_id
            self._waiting.append(job)
            self._pool.submit(self._run, job)
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
        """Queue a :func:`~edu_core.train.train` run; ``job.result`` is its ``TrainResult``."""
        faces, labels = list(faces), list(labels)
        epochs = cfg.resolved(kind, choose_device(cfg.device)).epochs or 1

        def run(cb: EpochCallback, cancel: threading.Event) -> TrainResult:
            return train(
                kind, faces, labels, cfg, class_names=class_names, on_epoch_end=cb, cancel=cancel,
                embedding_cache=embedding_cache,
            )  # fmt: skip

        return self.submit_call(run, total_epochs=epochs, owner=owner)

    def _forget_finished(self, owner: str | None) -> None:
        # Called with the lock held, before a new job of ``owner`` is added.
        finished = [j for j in self._jobs.values() if j.wait(0)]
        drop = {j.id for j in finished if owner is not None and j.owner == owner}
        rest = [j for j in finished if j.id not in drop]
        drop |= {j.id for j in rest[: max(0, len(rest) - self.keep_finished)]}  # oldest first
        for job_id in drop:
            del self._jobs[job_id]
            self._runs.pop(job_id, None)

    def _run(self, job: TrainingJob) -> None:
        with self._lock:
            if job not in self._waiting:  # shut down before its turn: already marked cancelled
                return
            self._waiting.remove(job)
        job._run()

    def place(self, job: TrainingJob) -> int | None:
        """0 while running, 1.. = position among waiting jobs, None once finished."""
        with self._lock:
            if job.state == "running":
                return 0
            for i, waiting in enumerate(self._waiting):
                if waiting is job:
                    return i + 1
            return None

    def get(self, job_id: str) -> TrainingJob | None:
        """The job with this id, while the service keeps it."""
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self, owner: str | None = None) -> list[TrainingJob]:
        """The kept jobs (of ``owner``, if given), oldest first."""
        with self._lock:
            return [j for j in self._jobs.values() if owner is None or j.owner == owner]

    def latest(self, owner: str) -> TrainingJob | None:
        """The owner's most recent job (queued, running or finished), if any."""
        jobs = self.jobs(owner=owner)
        return max(jobs, key=lambda j: j.created) if jobs else None

    def run_of(self, job_id: str) -> int | None:
        """The store run a kept job closes (None for a job without one or one forgotten)."""
        with self._lock:
            return self._runs.get(job_id)

    def shutdown(self, wait: bool = True, cancel_running: bool = False) -> None:
        """Cancel waiting jobs, optionally stop running ones, and end the workers."""
        with self._lock:
            self._closed = True
            while self._waiting:
                job = self._waiting.popleft()
                job.cancel()
                job._run()  # marks it cancelled without running
            for job in self._jobs.values():
                if cancel_running and job.state == "running":
                    job.cancel()
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def _stop_at_exit(self) -> None:
        self.shutdown(wait=False, cancel_running=True)

    # --- training runs of the store -------------------------------------------------------------

    def start(
        self,
        db: Any,
        viewer: Any,
        split: Any,
        kind: str,
        cfg: TrainConfig,
        *,
        name: str,
        owner: str,
        embedding_cache: EmbeddingCache | None = None,
    ) -> TrainingJob:
        """Queue a training run on the split's training photos, opening its run in the store.

        The job itself keeps the model (as ``name``), tests it on the held-back photos and
        closes the run, so a student who closes the tab mid-training still finds the model.
        ``job.result`` is ``{"model_id", "accuracy"}``.
        """
        class_names = db.class_labels(viewer)
        crops = kind != "pieces"
        _, faces, labels = split_faces(db, viewer, split.train_ids, crops=crops)
        test_ids, test_faces, test_labels = split_faces(db, viewer, split.test_ids, crops=crops)
        run_id = db.start_run(viewer, config={"kind": kind, **asdict(cfg)}, split_id=split.id)

        def work(on_epoch_end: EpochCallback, cancel: threading.Event) -> dict[str, Any]:
            try:
                result = train(
                    kind, faces, labels, cfg, class_names=class_names, on_epoch_end=on_epoch_end,
                    cancel=cancel, embedding_cache=embedding_cache,
                )  # fmt: skip
            except TrainingCancelled:
                db.finish_run(viewer, run_id, metrics={"error": "training_cancelled"}, status="cancelled")
                raise
            except Exception as exc:  # recorded in the run, then re-raised for the job to report
                db.finish_run(
                    viewer, run_id, metrics={"error": getattr(exc, "code", "error")}, status="failed"
                )
                raise
            bundle = result.bundle
            model = db.add_model(
                viewer,
                name=name,
                kind=bundle.kind,
                labels=bundle.class_names,
                config=bundle.config,
                file_bytes=models.save_bundle(bundle),
            )
            metrics = (
                evaluate.evaluate_bundle(bundle, test_faces, test_labels, ids=test_ids)
                if test_faces
                else {"n": 0}
            )
            metrics.update(
                history=result.history,
                device=result.device_name,
                seconds=result.seconds,
                best_epoch=result.best_epoch,
                n_train=result.n_train,
                stopped_early=result.stopped_early,
                planned_epochs=result.config.epochs,
                patience=result.config.patience,
            )
            db.finish_run(viewer, run_id, metrics=metrics, model_id=model.id)
            return {"model_id": model.id, "accuracy": metrics.get("accuracy")}

        epochs = cfg.resolved(kind, choose_device(cfg.device)).epochs or 1
        return self.submit_call(work, total_epochs=epochs, owner=owner, run_id=run_id)

    def summary(self, db: Any, viewer: Any, job: TrainingJob) -> dict[str, Any] | None:
        """How a finished job ended: ``{"state", "accuracy"|"code"}``; None while it runs."""
        if job.state in ("queued", "running"):
            return None
        if job.state == "done":
            return {"state": "done", **(job.result or {})}
        if job.state == "cancelled":
            run_id = self.run_of(job.id)
            # A job cancelled while still queued never ran, so nothing closed its run yet.
            if run_id is not None and db.run(viewer, run_id).status == "running":
                db.finish_run(viewer, run_id, metrics={"error": "training_cancelled"}, status="cancelled")
            return {"state": "cancelled", "code": "training_cancelled"}
        return {"state": job.state, "code": getattr(job.error, "code", "error")}
