"""Content-addressed files: ``files/<sha[:2]>/<sha>.<ext>``, written before their rows, collected after.

* every file is written to ``files/tmp/``, fsynced and renamed to its checksum name *before*
  its row is committed; identical bytes are stored once however many rows point at them;
* a file is only unlinked while holding the write lock and after checking that no row points
  at it any more, so a concurrent upload of the same photo cannot lose it (rows go to the
  ``trash`` table first, and :meth:`BlobsMixin.empty_trash` unlinks their files).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from edu_core.fsutil import atomic_write, fsync_dir
from edu_core.store.db import NotFound, StoreBase, _now, _translate

# Blobs that no row points at any more (the candidates the garbage collector may delete).
_UNREFERENCED_BLOBS = """
    SELECT b.sha AS sha, b.ext AS ext FROM blobs b
    WHERE b.sha IN ({marks})
      AND NOT EXISTS (SELECT 1 FROM images WHERE images.sha = b.sha)
      AND NOT EXISTS (SELECT 1 FROM faces WHERE faces.sha = b.sha)
      AND NOT EXISTS (SELECT 1 FROM faces WHERE faces.crop_sha = b.sha)
      AND NOT EXISTS (SELECT 1 FROM kept_faces WHERE kept_faces.crop_sha = b.sha)
      AND NOT EXISTS (SELECT 1 FROM models WHERE models.file_sha = b.sha)
"""
_CHUNK = 500  # SQLite's default limit on ? parameters is 999 on old builds


def _sniff_ext(data: bytes) -> str:
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return "avif" if head[8:12] == b"avif" else "heic"
    if head[:3] == b"GIF":
        return "gif"
    if head[:2] == b"BM":
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tif"
    # Decided by the bytes alone, so the same content always maps to the same file name.
    return "bin"


def _part_pid(name: str) -> int | None:
    """The writer's pid in a ``….<pid>-<token>.part`` name in ``files/tmp/`` (None for older names)."""
    parts = name.split(".")
    middle = parts[-2] if len(parts) >= 3 else ""
    pid = middle.partition("-")[0]
    return int(pid) if pid.isdigit() and "-" in middle else None


class BlobsMixin(StoreBase):
    """Writing, reading and garbage-collecting the content-addressed files."""

    def blob_path(self, sha: str, ext: str) -> Path:
        """Where the file with this SHA-256 lives."""
        return self.files / sha[:2] / f"{sha}.{ext}"

    def _write_files(self, files: Mapping[tuple[str, str], bytes]) -> None:
        """:meth:`_write_file` for many files; fsyncs overlap in a few threads (they release the GIL)."""
        if len(files) <= 2:
            for (sha, ext), data in files.items():
                self._write_file(sha, ext, data)
            return
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(self._write_file, sha, ext, data) for (sha, ext), data in files.items()]
            for f in futures:
                f.result()

    def _write_file(self, sha: str, ext: str, data: bytes) -> None:
        """Write ``data`` durably under its checksum name (part in ``tmp/``, fsync, rename, fsync dir)."""
        path = self.blob_path(sha, ext)
        if path.is_file() and path.stat().st_size == len(data):
            return  # renames are atomic, so a file under its final name is always complete
        try:
            if not path.parent.is_dir():
                path.parent.mkdir(parents=True, exist_ok=True)
                if self.cfg.durable:
                    fsync_dir(self.files)  # the new shard folder itself must survive a power cut
            # The part sits in tmp/ with the writer's pid in its name, so a restart drops the parts of
            # a killed process at once (see recover).
            atomic_write(path, data, durable=self.cfg.durable, tmp_dir=self.files / "tmp")
        except OSError as exc:
            raise _translate(exc) from exc

    def _ensure_blob(self, conn: sqlite3.Connection, sha: str, ext: str, data: bytes) -> str:
        """Inside the write lock: make sure the blob row and its file exist; return its ext."""
        row = conn.execute("SELECT ext FROM blobs WHERE sha = ?", (sha,)).fetchone()
        if row is not None:
            ext = row["ext"]
        if not self.blob_path(sha, ext).is_file():
            # A delete that held the lock just before us removed it; write it again.
            self._write_file(sha, ext, data)
        conn.execute(
            "INSERT OR IGNORE INTO blobs(sha, ext, size, created_at) VALUES (?, ?, ?, ?)",
            (sha, ext, len(data), _now()),
        )
        conn.execute("DELETE FROM trash WHERE sha = ?", (sha,))
        return ext

    def _collect(self, conn: sqlite3.Connection, shas: set[str]) -> None:
        """Inside a transaction: drop blob rows nobody references and queue their files."""
        if not shas:
            return
        shas_list = sorted(shas)
        for start in range(0, len(shas_list), _CHUNK):
            chunk = shas_list[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            # Face data is biometric: drop it with the last photo that used it, except samples.
            conn.execute(
                f"DELETE FROM faces WHERE sha IN ({marks}) AND keep = 0 "
                "AND NOT EXISTS (SELECT 1 FROM images WHERE images.sha = faces.sha)",
                chunk,
            )
        for start in range(0, len(shas_list), _CHUNK):
            chunk = shas_list[start : start + _CHUNK]
            rows = conn.execute(
                _UNREFERENCED_BLOBS.format(marks=",".join("?" * len(chunk))), chunk
            ).fetchall()
            for row in rows:
                conn.execute("DELETE FROM blobs WHERE sha = ?", (row["sha"],))
                conn.execute("INSERT OR REPLACE INTO trash(sha, ext) VALUES (?, ?)", (row["sha"], row["ext"]))

    def empty_trash(self) -> int:
        """Unlink files whose rows are gone; returns how many files were removed.

        Runs under the write lock so an upload of the same bytes cannot slip in
        between the check and the unlink.
        """
        removed = 0
        if not self._read("SELECT EXISTS (SELECT 1 FROM trash)")[0][0]:
            return 0  # the usual case: no write lock needed
        with self._tx() as conn:
            for row in conn.execute("SELECT sha, ext FROM trash").fetchall():
                sha = row["sha"]
                if conn.execute("SELECT 1 FROM blobs WHERE sha = ?", (sha,)).fetchone() is None:
                    path = self.blob_path(sha, row["ext"])
                    if path.exists():
                        path.unlink()
                        removed += 1
                conn.execute("DELETE FROM trash WHERE sha = ?", (sha,))
        return removed

    def _blob_bytes(self, sha: str, ext: str) -> bytes:
        try:
            return self.blob_path(sha, ext).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound("file_missing", sha) from exc

    def _stored_files(self) -> dict[str, Path]:
        """Every complete file under ``files/<shard>/`` by name (temporary parts left out)."""
        return {
            f.name: f
            for sub in self.files.iterdir()
            if sub.is_dir() and sub.name != "tmp"
            for f in sub.iterdir()
        }
