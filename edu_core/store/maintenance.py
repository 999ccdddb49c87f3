"""Deleting (a photo, a student, a class, by retention), checking, and recovering after a crash.

A killed process leaves at most files without rows and training runs stuck in ``running``;
:meth:`MaintenanceMixin.recover` (run once per server start) removes the first and marks the
second ``failed``, only for processes that are really gone: a run records its process as
``host:pid:start time`` (from ``/proc``), which names one process for good.
"""

from __future__ import annotations

import os
import platform
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edu_core.store.blobs import BlobsMixin, _part_pid
from edu_core.store.db import Forbidden, _json, _now, _translate
from edu_core.store.records import CheckReport, RecoveryReport, TeacherSession

_COUNTED_TABLES = ("classes", "students", "images", "faces", "blobs", "label_events", "models", "runs")


def _process_start(pid: int) -> str | None:
    """The kernel's start time of process ``pid`` ("" without /proc), or None once it is gone.

    A pid alone is not an identity: after a crash the system may hand the same pid to a
    new process. Together with the start time it names one process for good.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        stat = ""
    if stat:
        fields = stat.rsplit(")", 1)[1].split()  # the command name may itself hold spaces or ')'
        return None if fields[0] in ("Z", "X") else fields[19]  # a zombie has died already
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return ""


def runner_id() -> str:
    """``host:pid:start`` of this process, stored with each run it trains."""
    pid = os.getpid()
    return f"{platform.node()}:{pid}:{_process_start(pid) or ''}"


def _runner_alive(runner: str | None) -> bool:
    """Whether the process that recorded ``runner`` may still be working on it."""
    if not runner:
        return False  # recorded before runners were kept: no process can still be on it
    host, _, rest = runner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != platform.node() or not pid_text.isdigit():
        return True  # another machine's process cannot be looked at: never touch its runs
    now = _process_start(int(pid_text))
    return now is not None and (not start or not now or now == start)


class MaintenanceMixin(BlobsMixin):
    """Deletion, retention, the integrity check and crash recovery."""

    def _delete_images_where(self, where: str, params: Sequence[Any]) -> int:
        with self._tx() as conn:
            shas = {r["sha"] for r in conn.execute(f"SELECT sha FROM images WHERE {where}", params)}
            crops = {
                r["crop_sha"]
                for r in conn.execute(
                    f"SELECT f.crop_sha AS crop_sha FROM faces f WHERE f.crop_sha IS NOT NULL AND f.sha IN "
                    f"(SELECT sha FROM images WHERE {where}) UNION SELECT k.crop_sha FROM kept_faces k "
                    f"WHERE k.crop_sha IS NOT NULL AND k.image_id IN (SELECT id FROM images WHERE {where})",
                    [*params, *params],
                )
            }
            n = conn.execute(f"DELETE FROM images WHERE {where}", params).rowcount
            self._collect(conn, shas | crops)
        self.empty_trash()
        return n

    def delete_image(self, viewer: int | TeacherSession, image_id: int) -> None:
        """Remove a photo (e.g. one that was rejected); its files go when nothing else uses them."""
        rec = self.image(viewer, image_id)
        if isinstance(viewer, TeacherSession):
            raise Forbidden(detail="only the student deletes single photos")
        self._delete_images_where("id = ?", (rec.id,))

    def delete_student_photos(self, student_id: int) -> int:
        """ "Delete my photos": every photo row, face data and file of this student. Returns the count."""
        self.student(student_id)
        return self._delete_images_where("student_id = ?", (student_id,))

    def _delete_owner(self, table: str, key: str, value: int) -> None:
        """Delete a student or a class row (its splits, models and runs cascade) and the model files."""
        with self._tx() as conn:
            shas = {
                r["file_sha"]
                for r in conn.execute(f"SELECT file_sha FROM models WHERE {key} = ?", (value,))
                if r["file_sha"]
            }
            conn.execute(f"DELETE FROM {table} WHERE id = ?", (value,))
            self._collect(conn, shas)
        self.empty_trash()

    def delete_student(self, student_id: int) -> None:
        """Remove the student entirely (photos, splits, models, runs)."""
        self.delete_student_photos(student_id)
        self._delete_owner("students", "student_id", student_id)

    def wipe_class(self, session: TeacherSession, *, keep_class: bool = False) -> int:
        """Teacher: delete every photo of the class (and, unless ``keep_class``, the class itself)."""
        class_id = self._check_session(session)
        n = self._delete_images_where("class_id = ?", (class_id,))
        if not keep_class:
            self._delete_owner("classes", "class_id", class_id)
        return n

    def apply_retention(self, now: float | None = None) -> int:
        """Delete photos older than their class's retention setting; returns how many went."""
        now = _now() if now is None else now
        total = 0
        for row in self._read("SELECT id, retention_days FROM classes WHERE retention_days IS NOT NULL"):
            cutoff = now - row["retention_days"] * 86400.0
            total += self._delete_images_where(
                "class_id = ? AND created_at < ? AND source != 'sample'", (row["id"], cutoff)
            )
        return total

    # ------------------------------------------------------------------ checking

    def _known_files(self, conn: sqlite3.Connection | None = None) -> set[str]:
        """``<sha>.<ext>`` of every blob row (inside ``conn``'s transaction when given)."""
        rows = (conn.execute if conn is not None else self._read)("SELECT sha, ext FROM blobs")
        return {f"{r['sha']}.{r['ext']}" for r in rows}

    def check(self, *, repair: bool = False, grace_s: float | None = None) -> CheckReport:
        """Compare database and files: integrity, missing files, orphans (removed with ``repair``).

        Files younger than ``grace_s`` are never called orphans: they may belong to
        an upload in another process that has not committed yet.
        """
        grace = self.cfg.orphan_grace_s if grace_s is None else grace_s
        integrity = self._read("PRAGMA integrity_check")[0][0]
        fk = [tuple(r) for r in self._read("PRAGMA foreign_key_check")]
        if fk and integrity == "ok":
            integrity = f"foreign keys broken: {fk[:3]}"
        known = self._known_files()
        on_disk = self._stored_files()
        missing = tuple(sorted(known - set(on_disk)))
        cutoff = _now() - grace
        orphans = tuple(sorted(n for n in set(on_disk) - known if on_disk[n].stat().st_mtime < cutoff))
        temps = [p for p in (self.files / "tmp").iterdir() if p.stat().st_mtime < cutoff]
        removed: tuple[str, ...] = ()
        if repair:
            self.empty_trash()
            with self._tx() as conn:  # under the lock, so no upload is between file and row
                still_known = self._known_files(conn)
                gone = [n for n in orphans if n not in still_known]
                for n in gone:
                    on_disk[n].unlink(missing_ok=True)
            for p in temps:
                p.unlink(missing_ok=True)
            removed = tuple(gone)
            orphans = tuple(n for n in orphans if n not in gone)
        counts = {t: self._read(f"SELECT COUNT(*) FROM {t}")[0][0] for t in _COUNTED_TABLES}
        return CheckReport(integrity, missing, orphans, removed, len(temps), counts)

    def recover(self, *, temp_grace_s: float | None = None) -> RecoveryReport:
        """Clean up after a process that was killed mid-work; safe while other processes work.

        * runs left ``running`` by a process that is gone become ``failed`` with the
          ``training_interrupted`` code (a live process's runs, e.g. the command line training
          at the same time, are never touched);
        * complete files that no row points at are removed at once: an upload that has not
          committed yet writes its file again under the lock (:meth:`_ensure_blob`);
        * temporary parts are removed when their writer is gone, or after ``temp_grace_s``.
        """
        grace = self.cfg.orphan_grace_s if temp_grace_s is None else temp_grace_s
        dead = [
            r["id"]
            for r in self._read("SELECT id, runner FROM runs WHERE status = 'running'")
            if not _runner_alive(r["runner"])
        ]
        if dead:
            metrics = _json({"error": "training_interrupted"})
            with self._tx() as conn:
                for run_id in dead:
                    conn.execute(
                        "UPDATE runs SET status = 'failed', metrics = ?, finished_at = ? "
                        "WHERE id = ? AND status = 'running'",
                        (metrics, _now(), run_id),
                    )
        self.empty_trash()
        removed: list[str] = []
        try:
            with self._tx() as conn:  # under the lock, so no upload is between its file and its row
                known = self._known_files(conn)
                for name, f in self._stored_files().items():
                    if name not in known:
                        f.unlink(missing_ok=True)
                        removed.append(name)
            temps = 0
            cutoff = _now() - grace
            for part in (self.files / "tmp").iterdir():
                pid = _part_pid(part.name)
                writer_gone = pid is not None and pid != os.getpid() and _process_start(pid) is None
                if writer_gone or part.stat().st_mtime < cutoff:
                    part.unlink(missing_ok=True)
                    temps += 1
        except OSError as exc:
            raise _translate(exc) from exc
        return RecoveryReport(tuple(dead), tuple(sorted(removed)), temps)
