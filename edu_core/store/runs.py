"""Trained models (checkpoints kept as content-addressed files) and training runs."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edu_core.store.blobs import BlobsMixin
from edu_core.store.db import NotFound, _json, _now
from edu_core.store.maintenance import runner_id
from edu_core.store.records import (
    MODEL_COLUMNS,
    RUN_COLUMNS,
    ModelRecord,
    RunRecord,
    TeacherSession,
    model_record,
    run_record,
)


class RunsMixin(BlobsMixin):
    """Models and runs belong to a student, or to the class when the teacher made them."""

    def add_model(
        self,
        viewer: int | TeacherSession,
        *,
        name: str,
        kind: str,
        labels: Sequence[str],
        config: Mapping[str, Any] | None = None,
        file_bytes: bytes | None = None,
    ) -> ModelRecord:
        """Keep a trained model (its checkpoint bytes go to the content-addressed files)."""
        class_id = self._class_of(viewer)
        student_id = None if isinstance(viewer, TeacherSession) else int(viewer)
        sha = hashlib.sha256(file_bytes).hexdigest() if file_bytes else None
        if file_bytes and sha:
            self._write_file(sha, "pt", file_bytes)
        with self._tx() as conn:
            if file_bytes and sha:
                self._ensure_blob(conn, sha, "pt", file_bytes)
            cur = conn.execute(
                "INSERT INTO models(class_id, student_id, name, kind, labels, config, file_sha, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    class_id,
                    student_id,
                    name,
                    kind,
                    _json(list(labels)),
                    _json(dict(config or {})),
                    sha,
                    _now(),
                ),
            )
            model_id = int(cur.lastrowid)
        return self.model(viewer, model_id)

    def model(self, viewer: int | TeacherSession, model_id: int) -> ModelRecord:
        """One model's record, if the viewer owns it (or is the class's teacher)."""
        rows = self._read(f"SELECT {MODEL_COLUMNS} FROM models WHERE id = ?", (model_id,))
        if not rows:
            raise NotFound(detail=f"model {model_id}")
        rec = model_record(rows[0])
        self._check_owner(viewer, rec.class_id, rec.student_id)
        return rec

    def list_models(self, viewer: int | TeacherSession) -> list[ModelRecord]:
        """The viewer's models (a teacher sees every model of the class; models hold no photos)."""
        class_id = self._class_of(viewer)
        if isinstance(viewer, TeacherSession):
            rows = self._read(
                f"SELECT {MODEL_COLUMNS} FROM models WHERE class_id = ? ORDER BY id", (class_id,)
            )
        else:
            rows = self._read(
                f"SELECT {MODEL_COLUMNS} FROM models WHERE student_id = ? ORDER BY id", (int(viewer),)
            )
        return [model_record(r) for r in rows]

    def model_bytes(self, viewer: int | TeacherSession, model_id: int) -> bytes:
        """The model's checkpoint file contents."""
        rec = self.model(viewer, model_id)
        if rec.file_sha is None:
            raise NotFound("file_missing", f"model {model_id} has no file")
        return self._blob_bytes(rec.file_sha, "pt")

    def model_path(self, viewer: int | TeacherSession, model_id: int) -> Path:
        """Path of the model's checkpoint file (read-only: it is shared by content)."""
        rec = self.model(viewer, model_id)
        if rec.file_sha is None:
            raise NotFound("file_missing", f"model {model_id} has no file")
        path = self.blob_path(rec.file_sha, "pt")
        if not path.is_file():
            raise NotFound("file_missing", rec.file_sha)
        return path

    def delete_model(self, viewer: int | TeacherSession, model_id: int) -> None:
        """Remove a model; its file goes when no other model uses the same bytes."""
        rec = self.model(viewer, model_id)
        with self._tx() as conn:
            conn.execute("DELETE FROM models WHERE id = ?", (model_id,))
            if rec.file_sha:
                self._collect(conn, {rec.file_sha})
        self.empty_trash()

    def start_run(
        self,
        viewer: int | TeacherSession,
        *,
        config: Mapping[str, Any],
        split_id: int | None = None,
        model_id: int | None = None,
    ) -> int:
        """Record that training started; returns the run id."""
        class_id = self._class_of(viewer)
        student_id = None if isinstance(viewer, TeacherSession) else int(viewer)
        # A run may only point at the viewer's own split and model (pages follow these links).
        if split_id is not None:
            self.get_split(viewer, split_id)
        if model_id is not None:
            self.model(viewer, model_id)
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO runs(class_id, student_id, model_id, split_id, config, started_at, runner) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (class_id, student_id, model_id, split_id, _json(dict(config)), _now(), runner_id()),
            )
            return int(cur.lastrowid)

    def finish_run(
        self,
        viewer: int | TeacherSession,
        run_id: int,
        *,
        metrics: Mapping[str, Any],
        status: str = "done",
        model_id: int | None = None,
    ) -> RunRecord:
        """Store a run's final metrics (``status``: done, cancelled or failed)."""
        self.run(viewer, run_id)
        if model_id is not None:
            self.model(viewer, model_id)
        with self._tx() as conn:
            conn.execute(
                "UPDATE runs SET metrics = ?, status = ?, finished_at = ?, model_id = COALESCE(?, model_id) "
                "WHERE id = ?",
                (_json(dict(metrics)), status, _now(), model_id, run_id),
            )
        return self.run(viewer, run_id)

    def run(self, viewer: int | TeacherSession, run_id: int) -> RunRecord:
        """One training run, if the viewer owns it (or is the class's teacher)."""
        rows = self._read(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise NotFound(detail=f"run {run_id}")
        rec = run_record(rows[0])
        self._check_owner(viewer, rec.class_id, rec.student_id)
        return rec

    def list_runs(self, viewer: int | TeacherSession) -> list[RunRecord]:
        """The viewer's runs (a teacher sees the whole class's), oldest first."""
        class_id = self._class_of(viewer)
        if isinstance(viewer, TeacherSession):
            rows = self._read(f"SELECT {RUN_COLUMNS} FROM runs WHERE class_id = ? ORDER BY id", (class_id,))
        else:
            rows = self._read(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE student_id = ? ORDER BY id", (int(viewer),)
            )
        return [run_record(r) for r in rows]
