"""The class data store: one SQLite file plus content-addressed image files.

About thirty students and a teacher write at the same time on one school server,
and nothing acknowledged may be lost. So:

* every photo is written to a temporary file, fsynced and renamed to
  ``files/<sha[:2]>/<sha>.<ext>`` *before* its row is committed; identical bytes
  are stored once however many rows point at them;
* SQLite runs in WAL mode with a long ``busy_timeout``; every write is one short
  ``BEGIN IMMEDIATE`` transaction, so writers queue instead of failing;
* a file is only unlinked while holding the write lock and after checking that no
  row points at it any more, so a concurrent upload of the same photo cannot lose it;
* each thread gets its own connection (Streamlit serves each browser tab from its
  own thread, and a sqlite3 connection must never cross threads).
* a killed process leaves at most files without rows and training runs stuck in
  ``running``; :meth:`Store.recover` (run once per server start) removes the first and
  marks the second ``failed`` — only for processes that are really gone (see ``runs.runner``).

Privacy: every read that returns a photo names who is asking (a student id or a
verified :class:`TeacherSession`) and is refused with ``forbidden`` otherwise.
Nothing here ever touches the network.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import hmac
import json
import os
import platform
import secrets
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from edu_core import dataset
from edu_core.errors import StoreError
from edu_core.faces import FaceResult
from edu_core.labels import LESSON_CLASSES, korean_name
from edu_core.labels import normalize_label as _normalize_any

DATA_ENV = "EXPRESSION_LAB_DATA"
#: The server's teacher password, set by whoever starts the server (wins over the stored one).
TEACHER_PASSWORD_ENV = "EXPRESSION_LAB_TEACHER_PASSWORD"
TEACHER_PASSWORD_FILE = "teacher_password.json"  # in the data folder: a salted scrypt hash only
TEACHER_PASSWORD_MIN = 8
#: The join code of the practice class behind "start alone". Lower case: find_class upper-cases
#: what is typed and _code never makes it, so nobody joins it by a code; it has no teacher PIN.
SOLO_JOIN_CODE = "solo"
SOLO_CLASS_NAME = "혼자 연습 · Practice"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = REPO_ROOT / "data"
DB_NAME = "lab.sqlite3"
SCHEMA_VERSION = 3
SOURCES = ("upload", "camera", "sample")
# Letters and digits that cannot be mistaken for each other when read off a board.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

Source = Literal["upload", "camera", "sample"]


class NotFound(StoreError):
    code = "not_found"


class Forbidden(StoreError):
    code = "forbidden"


class BadPin(StoreError):
    code = "bad_pin"


class PinLocked(StoreError):
    code = "pin_locked"


class StorageFull(StoreError):
    code = "disk_full"


class ReadOnly(StoreError):
    code = "read_only"


@dataclass(frozen=True)
class StoreConfig:
    """Tunables of the store; the defaults suit one classroom on one server."""

    busy_timeout_s: float = 60.0
    pin_max_failures: int = 5  # wrong PINs in a row before the class is locked
    pin_lock_s: float = 60.0
    teacher_session_s: float = 12 * 3600.0
    scrypt_n: int = 2**14
    orphan_grace_s: float = 600.0  # unreferenced files younger than this may be an upload in flight
    # Acknowledged writes survive a power cut. ``durable=False`` skips every fsync: only for
    # tests and benchmarks that measure locking, never for class data.
    durable: bool = True


@dataclass(frozen=True)
class ClassRecord:
    id: int
    name: str
    join_code: str
    labels: tuple[str, ...]
    display_names: dict[str, str]
    retention_days: int | None
    created_at: float


@dataclass(frozen=True)
class StudentRecord:
    id: int
    class_id: int
    nickname: str
    resume_code: str
    pool_consent: bool
    created_at: float


@dataclass(frozen=True)
class TeacherSession:
    """Proof that the teacher typed the class PIN; pass it to teacher-only calls."""

    class_id: int
    token: str
    expires_at: float


@dataclass(frozen=True)
class NewImage:
    """A photo to store with :meth:`Store.add_images` (same fields as :meth:`Store.add_image`)."""

    data: bytes
    filename: str
    source: Source
    face: FaceResult
    person: str | None = None
    group: str | None = None
    label: str | None = None
    face_version: str = ""


@dataclass(frozen=True)
class ImageRecord:
    """One photo in a workspace (no pixels: ask the store for those)."""

    id: int
    student_id: int
    class_id: int
    sha: str
    ext: str
    filename: str
    source: str
    status: str
    reason: str | None
    label: str | None
    injected: bool
    person: str | None
    group: str | None
    crop_sha: str | None
    created_at: float
    kept: bool = False  # rejected by the face gate, kept by the student ("it isn't covered")
    kept_accepted: bool = False  # ... and accepted by the teacher for the class pool


@dataclass(frozen=True)
class LabelEvent:
    image_id: int
    old_label: str | None
    new_label: str | None
    actor: str
    injected: bool
    at: float


@dataclass(frozen=True)
class SavedSplit:
    id: int
    seed: int
    test_ratio: float
    by_person: bool
    train_ids: tuple[int, ...]
    test_ids: tuple[int, ...]
    created_at: float


@dataclass(frozen=True)
class ModelRecord:
    id: int
    class_id: int
    student_id: int | None
    name: str
    kind: str
    labels: tuple[str, ...]
    config: dict[str, Any]
    file_sha: str | None
    created_at: float


@dataclass(frozen=True)
class RunRecord:
    id: int
    class_id: int
    student_id: int | None
    model_id: int | None
    split_id: int | None
    status: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    started_at: float
    finished_at: float | None


@dataclass(frozen=True)
class CheckReport:
    """Result of :meth:`Store.check`: the database and the files agree when ``ok``."""

    integrity: str
    missing_files: tuple[str, ...] = ()
    orphan_files: tuple[str, ...] = ()
    removed_orphans: tuple[str, ...] = ()
    temp_files: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.integrity == "ok" and not self.missing_files and not self.orphan_files


@dataclass(frozen=True)
class RecoveryReport:
    """What :meth:`Store.recover` cleaned up after a crash."""

    interrupted_runs: tuple[int, ...] = ()
    removed_orphans: tuple[str, ...] = ()
    removed_temps: int = 0


# Forward-only migrations: index i upgrades user_version i to i+1. Never edit a
# published step; append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE classes(
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        join_code TEXT NOT NULL UNIQUE,
        labels TEXT NOT NULL,
        display_names TEXT NOT NULL DEFAULT '{}',
        pin_salt BLOB NOT NULL,
        pin_hash BLOB NOT NULL,
        pin_failures INTEGER NOT NULL DEFAULT 0,
        pin_locked_until REAL NOT NULL DEFAULT 0,
        retention_days INTEGER,
        created_at REAL NOT NULL
    );
    CREATE TABLE teacher_sessions(
        token TEXT PRIMARY KEY,
        class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
        expires_at REAL NOT NULL
    );
    CREATE TABLE students(
        id INTEGER PRIMARY KEY,
        class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
        nickname TEXT NOT NULL,
        resume_code TEXT NOT NULL UNIQUE,
        pool_consent INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        last_seen REAL
    );
    CREATE INDEX students_class ON students(class_id);
    CREATE TABLE blobs(
        sha TEXT PRIMARY KEY,
        ext TEXT NOT NULL,
        size INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE trash(sha TEXT PRIMARY KEY, ext TEXT NOT NULL);
    CREATE TABLE faces(
        sha TEXT PRIMARY KEY REFERENCES blobs(sha),
        version TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL CHECK (status IN ('ok', 'rejected')),
        reason TEXT,
        detail TEXT NOT NULL DEFAULT '',
        image_size TEXT,
        box TEXT,
        crop_box TEXT,
        crop_sha TEXT REFERENCES blobs(sha),
        landmarks BLOB,
        blendshapes TEXT NOT NULL DEFAULT '{}',
        pose TEXT,
        quality TEXT NOT NULL DEFAULT '{}',
        keep INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE INDEX faces_crop ON faces(crop_sha);
    CREATE TABLE images(
        id INTEGER PRIMARY KEY,
        student_id INTEGER NOT NULL REFERENCES students(id) ON DELETE CASCADE,
        class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
        sha TEXT NOT NULL REFERENCES blobs(sha),
        filename TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('upload', 'camera', 'sample')),
        person TEXT,
        grp TEXT,
        label TEXT,
        injected INTEGER NOT NULL DEFAULT 0,
        label_before_injection TEXT,
        created_at REAL NOT NULL,
        UNIQUE(student_id, sha)
    );
    CREATE INDEX images_class ON images(class_id, label);
    CREATE INDEX images_sha ON images(sha);
    CREATE INDEX images_created ON images(class_id, created_at);
    CREATE TABLE label_events(
        id INTEGER PRIMARY KEY,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        old_label TEXT,
        new_label TEXT,
        actor TEXT NOT NULL,
        injected INTEGER NOT NULL DEFAULT 0,
        at REAL NOT NULL
    );
    CREATE INDEX label_events_image ON label_events(image_id);
    CREATE TABLE splits(
        id INTEGER PRIMARY KEY,
        class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
        student_id INTEGER REFERENCES students(id) ON DELETE CASCADE,
        seed INTEGER NOT NULL,
        test_ratio REAL NOT NULL,
        by_person INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE TABLE split_items(
        split_id INTEGER NOT NULL REFERENCES splits(id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        part TEXT NOT NULL CHECK (part IN ('train', 'test')),
        PRIMARY KEY(split_id, image_id)
    ) WITHOUT ROWID;
    CREATE INDEX split_items_image ON split_items(image_id);
    CREATE TABLE models(
        id INTEGER PRIMARY KEY,
        class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
        student_id INTEGER REFERENCES students(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        labels TEXT NOT NULL,
        config TEXT NOT NULL DEFAULT '{}',
        file_sha TEXT REFERENCES blobs(sha),
        created_at REAL NOT NULL
    );
    CREATE INDEX models_file ON models(file_sha);
    CREATE TABLE runs(
        id INTEGER PRIMARY KEY,
        class_id INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
        student_id INTEGER REFERENCES students(id) ON DELETE CASCADE,
        model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
        split_id INTEGER REFERENCES splits(id) ON DELETE SET NULL,
        status TEXT NOT NULL DEFAULT 'running',
        config TEXT NOT NULL DEFAULT '{}',
        metrics TEXT NOT NULL DEFAULT '{}',
        started_at REAL NOT NULL,
        finished_at REAL
    );
    """,
    # Which process trains a run (host:pid:process start time, see _runner_id), so a restart can
    # tell a run whose process was killed from one that another live process is still training.
    """
    ALTER TABLE runs ADD COLUMN runner TEXT;
    """,
    # A rejected photo the student kept anyway ("it isn't covered"): the row is the flag, the
    # rejection reason stays in faces.reason, and the face is the one cut for this photo. Kept
    # photos stay out of the class pool until the teacher accepts them (accepted = 1).
    """
    CREATE TABLE kept_faces(
        image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        detail TEXT NOT NULL DEFAULT '',
        box TEXT,
        crop_box TEXT,
        crop_sha TEXT REFERENCES blobs(sha),
        landmarks BLOB,
        blendshapes TEXT NOT NULL DEFAULT '{}',
        pose TEXT,
        quality TEXT NOT NULL DEFAULT '{}',
        accepted INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE INDEX kept_faces_crop ON kept_faces(crop_sha);
    """,
)

# A kept photo counts as accepted for its student; its reason stays the gate's.
_STATUS = "CASE WHEN k.image_id IS NOT NULL THEN 'ok' ELSE COALESCE(f.status, 'rejected') END"
_IMAGE_COLUMNS = f"""
    i.id, i.student_id, i.class_id, i.sha, b.ext, i.filename, i.source,
    {_STATUS}, f.reason, i.label, i.injected, i.person, i.grp,
    COALESCE(k.crop_sha, f.crop_sha), i.created_at, k.image_id IS NOT NULL, COALESCE(k.accepted, 0)
"""
_IMAGE_FROM = (
    "images i JOIN blobs b ON b.sha = i.sha LEFT JOIN faces f ON f.sha = i.sha "
    "LEFT JOIN kept_faces k ON k.image_id = i.id"
)

# Blobs that no row points at any more (the candidates the garbage collector may delete).
_UNREFERENCED_BLOBS = """
    SELECT b.sha, b.ext FROM blobs b
    WHERE b.sha IN ({marks})
      AND NOT EXISTS (SELECT 1 FROM images WHERE images.sha = b.sha)
      AND NOT EXISTS (SELECT 1 FROM faces WHERE faces.sha = b.sha)
      AND NOT EXISTS (SELECT 1 FROM faces WHERE faces.crop_sha = b.sha)
      AND NOT EXISTS (SELECT 1 FROM kept_faces WHERE kept_faces.crop_sha = b.sha)
      AND NOT EXISTS (SELECT 1 FROM models WHERE models.file_sha = b.sha)
"""


def _now() -> float:
    return time.time()


def _code(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def new_teacher_password() -> str:
    """A random teacher password that is easy to read off a terminal: ``XXXX-XXXX-XXXX`` (about 59 bits)."""
    return "-".join(_code(4) for _ in range(3))


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


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _tuple_or_none(text: str | None) -> tuple | None:
    return None if text is None else tuple(json.loads(text))


def _translate(exc: BaseException) -> StoreError:
    """Turn sqlite3/OS failures into reason codes the pages can explain."""
    msg = str(exc).lower()
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageFull(detail=str(exc))
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return ReadOnly(detail=str(exc))
        return StoreError("io_error", str(exc))
    if "full" in msg:
        return StorageFull(detail=str(exc))
    if "readonly" in msg or "read-only" in msg or "unable to open" in msg:
        return ReadOnly(detail=str(exc))
    if "locked" in msg or "busy" in msg:
        return StoreError("busy", str(exc))
    if "not a database" in msg or "malformed" in msg:
        return StoreError("corrupt", str(exc))
    return StoreError("store_error", str(exc))


def normalize_label(name: str) -> str:
    """:func:`edu_core.labels.normalize_label`, but failing with the ``unknown_class`` reason code."""
    try:
        return _normalize_any(str(name))
    except ValueError as exc:
        raise StoreError("unknown_class", str(name)) from exc


def normalize_group(name: str | None) -> str | None:
    """A group tag as stored: spaces collapsed, at most 40 characters, ``None`` when empty."""
    return " ".join((name or "").split())[:40] or None


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


def _runner_id() -> str:
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


def _part_pid(name: str) -> int | None:
    """The writer's pid in a ``<sha>.<pid>-<token>.part`` name (None for older names)."""
    middle = name.split(".")[1] if name.count(".") >= 2 else ""
    pid = middle.partition("-")[0]
    return int(pid) if pid.isdigit() and "-" in middle else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode_crop(crop: np.ndarray) -> bytes:
    # PNG keeps the crop bit-exact, so training on a reloaded crop equals training on the fresh one.
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(crop, dtype=np.uint8)).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _decode_crop(data: bytes) -> np.ndarray:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


class Store:
    """The class data store rooted at ``root`` (``root/lab.sqlite3`` and ``root/files/``).

    Safe to share between threads and to open from several processes at once.
    """

    def __init__(self, root: Path, cfg: StoreConfig = StoreConfig()) -> None:
        self.root = Path(root)
        self.cfg = cfg
        self.db_path = self.root / DB_NAME
        self.files = self.root / "files"
        self._local = threading.local()
        try:
            (self.files / "tmp").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _translate(exc) from exc
        self._migrate()
        self.empty_trash()  # finish deletions a killed process left half done

    # ------------------------------------------------------------------ connections

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        try:
            conn = sqlite3.connect(
                self.db_path, timeout=self.cfg.busy_timeout_s, isolation_level=None, check_same_thread=True
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.cfg.busy_timeout_s * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {'FULL' if self.cfg.durable else 'OFF'}")
        except sqlite3.Error as exc:
            raise _translate(exc) from exc
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; writers queue on the lock instead of failing."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _translate(exc) from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _translate(exc) from exc
            raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def _migrate(self) -> None:
        with self._tx() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreError("schema_too_new", f"database version {version}, app knows {len(MIGRATIONS)}")
            for step in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {step + 1}")

    def schema_version(self) -> int:
        """The ``PRAGMA user_version`` of the database."""
        return int(self._read("PRAGMA user_version")[0][0])

    # ------------------------------------------------------------------ files

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
        """Write ``data`` durably under its checksum name (temp file, fsync, rename, fsync dir)."""
        path = self.blob_path(sha, ext)
        if path.is_file() and path.stat().st_size == len(data):
            return  # renames are atomic, so a file under its final name is always complete
        try:
            if not path.parent.is_dir():
                path.parent.mkdir(parents=True, exist_ok=True)
                if self.cfg.durable:
                    _fsync_dir(self.files)  # the new shard folder itself must survive a power cut
            # The writer's pid in the name lets a restart drop the parts of a killed process at once.
            tmp = self.files / "tmp" / f"{sha}.{os.getpid()}-{secrets.token_hex(6)}.part"
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                if self.cfg.durable:
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
            if self.cfg.durable:
                _fsync_dir(path.parent)
        except OSError as exc:
            if "tmp" in locals():
                tmp.unlink(missing_ok=True)
            raise _translate(exc) from exc

    def _ensure_blob(self, conn: sqlite3.Connection, sha: str, ext: str, data: bytes) -> str:
        """Inside the write lock: make sure the blob row and its file exist; return its ext."""
        row = conn.execute("SELECT ext FROM blobs WHERE sha = ?", (sha,)).fetchone()
        if row is not None:
            ext = row[0]
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
        for start in range(0, len(shas_list), 500):
            chunk = shas_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            # Face data is biometric: drop it with the last photo that used it, except samples.
            conn.execute(
                f"DELETE FROM faces WHERE sha IN ({marks}) AND keep = 0 "
                "AND NOT EXISTS (SELECT 1 FROM images WHERE images.sha = faces.sha)",
                chunk,
            )
        for start in range(0, len(shas_list), 500):
            chunk = shas_list[start : start + 500]
            rows = conn.execute(
                _UNREFERENCED_BLOBS.format(marks=",".join("?" * len(chunk))), chunk
            ).fetchall()
            for sha, ext in rows:
                conn.execute("DELETE FROM blobs WHERE sha = ?", (sha,))
                conn.execute("INSERT OR REPLACE INTO trash(sha, ext) VALUES (?, ?)", (sha, ext))

    def empty_trash(self) -> int:
        """Unlink files whose rows are gone; returns how many files were removed.

        Runs under the write lock so an upload of the same bytes cannot slip in
        between the check and the unlink.
        """
        removed = 0
        if not self._read("SELECT EXISTS (SELECT 1 FROM trash)")[0][0]:
            return 0  # the usual case: no write lock needed
        with self._tx() as conn:
            for sha, ext in conn.execute("SELECT sha, ext FROM trash").fetchall():
                if conn.execute("SELECT 1 FROM blobs WHERE sha = ?", (sha,)).fetchone() is None:
                    path = self.blob_path(sha, ext)
                    if path.exists():
                        path.unlink()
                        removed += 1
                conn.execute("DELETE FROM trash WHERE sha = ?", (sha,))
        return removed

    # ------------------------------------------------------------------ classes and teachers

    def _hash_pin(self, pin: str, salt: bytes) -> bytes:
        return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=self.cfg.scrypt_n, r=8, p=1, dklen=32)

    def create_class(
        self,
        name: str,
        pin: str,
        *,
        labels: Sequence[str] = LESSON_CLASSES,
        display_names: Mapping[str, str] | None = None,
        retention_days: int | None = None,
    ) -> tuple[ClassRecord, TeacherSession]:
        """Create a lesson class; returns it and a teacher session for the creator."""
        if len(pin) < 4:
            raise StoreError("pin_too_short", "at least 4 characters")
        label_ids = tuple(normalize_label(x) for x in labels)
        if len(set(label_ids)) != len(label_ids) or len(label_ids) < 2:
            raise StoreError("bad_labels", ", ".join(label_ids))
        names = {c: korean_name(c) for c in label_ids}
        names.update({normalize_label(k): v for k, v in (display_names or {}).items()})
        salt = secrets.token_bytes(16)
        digest = self._hash_pin(pin, salt)
        now = _now()
        for _ in range(20):
            code = _code(6)
            try:
                with self._tx() as conn:
                    cur = conn.execute(
                        "INSERT INTO classes(name, join_code, labels, display_names, pin_salt, pin_hash, "
                        "retention_days, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (name, code, _json(list(label_ids)), _json(names), salt, digest, retention_days, now),
                    )
                    class_id = int(cur.lastrowid)
                break
            except StoreError as exc:
                if "unique" not in exc.detail.lower():
                    raise
        else:  # pragma: no cover - 31^6 codes
            raise StoreError("store_error", "could not pick a free join code")
        return self.get_class(class_id), self._new_session(class_id)

    def _class_row_to_record(self, row: tuple) -> ClassRecord:
        return ClassRecord(
            id=row[0],
            name=row[1],
            join_code=row[2],
            labels=tuple(json.loads(row[3])),
            display_names=json.loads(row[4]),
            retention_days=row[5],
            created_at=row[6],
        )

    def get_class(self, class_id: int) -> ClassRecord:
        """The class with this id (no secrets in it)."""
        rows = self._read(
            "SELECT id, name, join_code, labels, display_names, retention_days, created_at "
            "FROM classes WHERE id = ?",
            (class_id,),
        )
        if not rows:
            raise NotFound(detail=f"class {class_id}")
        return self._class_row_to_record(rows[0])

    def find_class(self, join_code: str) -> ClassRecord:
        """The class a student joins with this code (case and dashes ignored)."""
        code = join_code.strip().upper().replace("-", "").replace(" ", "")
        rows = self._read("SELECT id FROM classes WHERE join_code = ?", (code,))
        if not rows:
            raise NotFound(detail="join code")
        return self.get_class(rows[0][0])

    def list_classes(self) -> list[ClassRecord]:
        """Every class on this server (names and codes only)."""
        rows = self._read(
            "SELECT id, name, join_code, labels, display_names, retention_days, created_at "
            "FROM classes ORDER BY id"
        )
        return [self._class_row_to_record(r) for r in rows]

    def _new_session(self, class_id: int) -> TeacherSession:
        token = secrets.token_urlsafe(24)
        expires = _now() + self.cfg.teacher_session_s
        with self._tx() as conn:
            conn.execute("DELETE FROM teacher_sessions WHERE expires_at < ?", (_now(),))
            conn.execute(
                "INSERT INTO teacher_sessions(token, class_id, expires_at) VALUES (?, ?, ?)",
                (token, class_id, expires),
            )
        return TeacherSession(class_id, token, expires)

    def teacher_login(self, class_id: int, pin: str) -> TeacherSession:
        """Check the teacher PIN; too many wrong tries lock the class for a while (``pin_locked``)."""
        rows = self._read(
            "SELECT pin_salt, pin_hash, pin_failures, pin_locked_until FROM classes WHERE id = ?", (class_id,)
        )
        if not rows:
            raise NotFound(detail=f"class {class_id}")
        salt, digest, _, locked_until = rows[0]
        if locked_until > _now():
            raise PinLocked(detail=f"{locked_until - _now():.0f} s")
        good = hmac.compare_digest(self._hash_pin(pin, salt), digest)
        with self._tx() as conn:
            if good:
                conn.execute("UPDATE classes SET pin_failures = 0 WHERE id = ?", (class_id,))
            else:
                failures = conn.execute(
                    "SELECT pin_failures FROM classes WHERE id = ?", (class_id,)
                ).fetchone()
                count = failures[0] + 1
                lock = _now() + self.cfg.pin_lock_s if count >= self.cfg.pin_max_failures else 0.0
                conn.execute(
                    "UPDATE classes SET pin_failures = ?, pin_locked_until = ? WHERE id = ?",
                    (0 if lock else count, lock, class_id),
                )
        if not good:
            raise BadPin()
        return self._new_session(class_id)

    def _check_session(self, session: TeacherSession) -> int:
        rows = self._read(
            "SELECT class_id, expires_at FROM teacher_sessions WHERE token = ?", (session.token,)
        )
        if not rows or rows[0][0] != session.class_id or rows[0][1] < _now():
            raise Forbidden(detail="teacher session expired or unknown")
        return session.class_id

    def teacher_logout(self, session: TeacherSession) -> None:
        """End a teacher session (the token stops working at once)."""
        with self._tx() as conn:
            conn.execute("DELETE FROM teacher_sessions WHERE token = ?", (session.token,))

    def change_pin(self, session: TeacherSession, new_pin: str) -> None:
        """Set a new teacher PIN (salted scrypt hash, like the first one)."""
        class_id = self._check_session(session)
        if len(new_pin) < 4:
            raise StoreError("pin_too_short", "at least 4 characters")
        salt = secrets.token_bytes(16)
        digest = self._hash_pin(new_pin, salt)
        with self._tx() as conn:
            conn.execute(
                "UPDATE classes SET pin_salt = ?, pin_hash = ? WHERE id = ?", (salt, digest, class_id)
            )

    def session_alive(self, session: TeacherSession) -> bool:
        """Whether a teacher session still works (not logged out, expired or ended by a password reset)."""
        try:
            self._check_session(session)
        except Forbidden:
            return False
        return True

    # ------------------------------------------------------------------ the server's teacher password
    #
    # The door to everything a teacher does in the app: creating a class, the list of classes and
    # opening one (which then also takes that class's PIN). Students never get past it.

    @property
    def teacher_password_file(self) -> Path:
        return self.root / TEACHER_PASSWORD_FILE

    def _password_record(self) -> dict[str, Any] | None:
        try:
            record = json.loads(self.teacher_password_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreError("store_error", f"{self.teacher_password_file}: {exc}") from exc
        return record if isinstance(record, dict) and "hash" in record else None

    def teacher_password_source(self) -> Literal["env", "file"] | None:
        """Where the teacher password comes from: the environment variable, the data folder, or nowhere."""
        if os.environ.get(TEACHER_PASSWORD_ENV, ""):
            return "env"
        return "file" if self._password_record() is not None else None

    def teacher_password_stamp(self) -> str | None:
        """A value that changes whenever the teacher password changes (None while there is none)."""
        env = os.environ.get(TEACHER_PASSWORD_ENV, "")
        if env:
            return "env:" + hashlib.sha256(env.encode("utf-8")).hexdigest()[:16]
        record = self._password_record()
        return None if record is None else "file:" + str(record["hash"])[:16]

    def check_teacher_password(self, password: str) -> bool:
        """Whether ``password`` is the server's teacher password (False while none is set)."""
        given = password.encode("utf-8")
        env = os.environ.get(TEACHER_PASSWORD_ENV, "")
        if env:
            return hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(env.encode()).digest())
        record = self._password_record()
        if record is None:
            return False
        salt = bytes.fromhex(record["salt"])
        n = int(record.get("scrypt_n", self.cfg.scrypt_n))
        digest = hashlib.scrypt(given, salt=salt, n=n, r=8, p=1, dklen=32)
        return hmac.compare_digest(digest, bytes.fromhex(record["hash"]))

    def _write_password(self, password: str, *, replace: bool) -> bool:
        salt = secrets.token_bytes(16)
        record = {
            "salt": salt.hex(),
            "hash": self._hash_pin(password, salt).hex(),
            "scrypt_n": self.cfg.scrypt_n,
            "set_at": _now(),
        }
        tmp = self.root / f".{TEACHER_PASSWORD_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh)
                fh.flush()
                if self.cfg.durable:
                    os.fsync(fh.fileno())
            if replace:
                os.replace(tmp, self.teacher_password_file)
            else:
                try:  # two servers starting at once: the first one's password stays
                    os.link(tmp, self.teacher_password_file)
                except FileExistsError:
                    return False
            if self.cfg.durable:
                _fsync_dir(self.root)
        except OSError as exc:
            raise _translate(exc) from exc
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def ensure_teacher_password(self) -> str | None:
        """Make a teacher password if there is none yet; returns it (to show once), else None.

        Only its hash is stored, so this is the one time anybody can read it.
        """
        if self.teacher_password_source() is not None:
            return None
        password = new_teacher_password()
        return password if self._write_password(password, replace=False) else None

    def set_teacher_password(self, password: str) -> None:
        """Store a new teacher password (its hash); every open teacher session ends."""
        if len(password) < TEACHER_PASSWORD_MIN:
            raise StoreError("password_too_short", f"at least {TEACHER_PASSWORD_MIN} characters")
        self._write_password(password, replace=True)
        with self._tx() as conn:
            conn.execute("DELETE FROM teacher_sessions")

    def rename_classes(self, session: TeacherSession, display_names: Mapping[str, str]) -> ClassRecord:
        """Let the teacher show other names for the classes (ids stay the same)."""
        class_id = self._check_session(session)
        record = self.get_class(class_id)
        names = dict(record.display_names)
        for key, value in display_names.items():
            cid = normalize_label(key)
            if cid not in record.labels:
                raise StoreError("unknown_class", cid)
            names[cid] = value.strip() or korean_name(cid)
        with self._tx() as conn:
            conn.execute("UPDATE classes SET display_names = ? WHERE id = ?", (_json(names), class_id))
        return self.get_class(class_id)

    def set_retention(self, session: TeacherSession, days: int | None) -> None:
        """Delete this class's photos automatically after ``days`` (``None`` keeps them)."""
        class_id = self._check_session(session)
        if days is not None and days < 1:
            raise StoreError("bad_retention", str(days))
        with self._tx() as conn:
            conn.execute("UPDATE classes SET retention_days = ? WHERE id = ?", (days, class_id))

    # ------------------------------------------------------------------ students

    def _student_row(self, row: tuple) -> StudentRecord:
        return StudentRecord(row[0], row[1], row[2], row[3], bool(row[4]), row[5])

    def join(self, class_id: int, nickname: str) -> StudentRecord:
        """Add a student (nickname only) with a fresh personal resume code."""
        nickname = nickname.strip()[:40]
        if not nickname:
            raise StoreError("empty_nickname")
        self.get_class(class_id)
        for _ in range(20):
            code = _code(8)
            try:
                with self._tx() as conn:
                    cur = conn.execute(
                        "INSERT INTO students(class_id, nickname, resume_code, created_at, last_seen) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (class_id, nickname, code, _now(), _now()),
                    )
                    student_id = int(cur.lastrowid)
                return self.student(student_id)
            except StoreError as exc:
                if "unique" not in exc.detail.lower():
                    raise
        raise StoreError("store_error", "could not pick a free resume code")  # pragma: no cover

    def join_solo(self, nickname: str) -> StudentRecord:
        """A personal workspace outside any class (practice at home, a teacher trying the lesson).

        It lives in the server's practice class, which has no teacher: its PIN hash is random
        bytes that no PIN produces, so nobody sees the class's counts or shared photos, and
        students there see only their own photos, as everywhere.
        """
        return self.join(self.solo_class_id(), nickname)

    def solo_class_id(self) -> int:
        """The practice class of this server (made on first use)."""
        rows = self._read("SELECT id FROM classes WHERE join_code = ?", (SOLO_JOIN_CODE,))
        if rows:
            return int(rows[0][0])
        names = {c: korean_name(c) for c in LESSON_CLASSES}
        try:
            with self._tx() as conn:
                conn.execute(
                    "INSERT INTO classes(name, join_code, labels, display_names, pin_salt, pin_hash, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (SOLO_CLASS_NAME, SOLO_JOIN_CODE, _json(list(LESSON_CLASSES)), _json(names),
                     secrets.token_bytes(16), secrets.token_bytes(32), _now()),
                )  # fmt: skip
        except StoreError as exc:
            if "unique" not in exc.detail.lower():  # another tab made it at the same moment
                raise
        return int(self._read("SELECT id FROM classes WHERE join_code = ?", (SOLO_JOIN_CODE,))[0][0])

    def student(self, student_id: int) -> StudentRecord:
        """The student with this id (``not_found`` when gone)."""
        rows = self._read(
            "SELECT id, class_id, nickname, resume_code, pool_consent, created_at FROM students WHERE id = ?",
            (student_id,),
        )
        if not rows:
            raise NotFound(detail=f"student {student_id}")
        return self._student_row(rows[0])

    def resume(self, code: str) -> StudentRecord:
        """The student whose personal code this is (so a reloaded browser gets the same workspace)."""
        clean = code.strip().upper().replace("-", "").replace(" ", "")
        rows = self._read("SELECT id FROM students WHERE resume_code = ?", (clean,))
        if not rows:
            raise NotFound(detail="resume code")
        try:
            with self._tx() as conn:
                conn.execute("UPDATE students SET last_seen = ? WHERE id = ?", (_now(), rows[0][0]))
        except (StorageFull, ReadOnly):
            pass  # last_seen is only a hint for the teacher: a full disk must not lock students out
        return self.student(rows[0][0])

    def students(self, session: TeacherSession) -> list[StudentRecord]:
        """Teacher: every student of the class, oldest first."""
        class_id = self._check_session(session)
        rows = self._read(
            "SELECT id, class_id, nickname, resume_code, pool_consent, created_at FROM students "
            "WHERE class_id = ? ORDER BY id",
            (class_id,),
        )
        return [self._student_row(r) for r in rows]

    def set_pool_consent(self, student_id: int, consent: bool) -> None:
        """The student agrees (or no longer agrees) that the teacher may use their labelled photos."""
        self.student(student_id)
        with self._tx() as conn:
            conn.execute("UPDATE students SET pool_consent = ? WHERE id = ?", (int(consent), student_id))

    def class_labels(self, viewer: int | TeacherSession) -> tuple[str, ...]:
        """The class ids of the viewer's lesson class, in chart order."""
        return self.get_class(self._class_of(viewer)).labels

    def display_name(self, viewer: int | TeacherSession, class_id_label: str) -> str:
        """The name students see for a class id (teacher-renamed or Korean)."""
        record = self.get_class(self._class_of(viewer))
        return record.display_names.get(class_id_label) or korean_name(class_id_label)

    def _class_of(self, viewer: int | TeacherSession) -> int:
        if isinstance(viewer, TeacherSession):
            return self._check_session(viewer)
        return self.student(int(viewer)).class_id

    # ------------------------------------------------------------------ images

    def add_image(
        self,
        student_id: int,
        data: bytes,
        *,
        filename: str,
        source: Source,
        face: FaceResult,
        person: str | None = None,
        group: str | None = None,
        label: str | None = None,
        face_version: str = "",
    ) -> ImageRecord:
        """Store a photo and its extraction result; returns only once both are durable.

        The same bytes added again by the same student return the existing record.
        ``face_version`` names the extraction settings: a cached result with another
        version is replaced.
        """
        photo = NewImage(data, filename, source, face, person, group, label, face_version)
        return self.add_images(student_id, [photo])[0]

    def add_images(self, student_id: int, photos: Sequence[NewImage]) -> list[ImageRecord]:
        """Store many photos of one student in one transaction (imports, samples).

        Files are written and fsynced in parallel first, then every row is committed at
        once; nothing is acknowledged before that commit.
        """
        student = self.student(student_id)
        labels = self.get_class(student.class_id).labels
        prepared = []
        files: dict[tuple[str, str], bytes] = {}
        for p in photos:
            if p.source not in SOURCES:
                raise ValueError(f"source must be one of {SOURCES}, got {p.source!r}")
            if not p.data:
                raise StoreError("empty_file", p.filename)
            label = None
            if p.label is not None:
                label = normalize_label(p.label)
                if label not in labels:
                    raise StoreError("unknown_class", label)
            sha = hashlib.sha256(p.data).hexdigest()
            ext = _sniff_ext(p.data)
            crop_bytes = _encode_crop(p.face.crop) if p.face.crop is not None else None
            crop_sha = hashlib.sha256(crop_bytes).hexdigest() if crop_bytes is not None else None
            files[(sha, ext)] = p.data
            if crop_bytes is not None and crop_sha is not None:
                files[(crop_sha, "png")] = crop_bytes
            prepared.append((p, label, sha, ext, crop_bytes, crop_sha))
        # The slow part (writing and fsyncing files) happens before taking the lock.
        self._write_files(files)
        now = _now()
        ids: list[int] = []
        with self._tx() as conn:
            crops: set[str] = set()
            for p, label, sha, ext, crop_bytes, crop_sha in prepared:
                existing = conn.execute(
                    "SELECT id FROM images WHERE student_id = ? AND sha = ?", (student_id, sha)
                ).fetchone()
                if crop_bytes is not None and crop_sha is not None:
                    self._ensure_blob(conn, crop_sha, "png", crop_bytes)
                    crops.add(crop_sha)
                if existing is not None:
                    ids.append(int(existing[0]))
                    continue
                ext = self._ensure_blob(conn, sha, ext, p.data)
                self._put_face(conn, sha, p.face, crop_sha, p.face_version, keep=p.source == "sample")
                cur = conn.execute(
                    "INSERT INTO images(student_id, class_id, sha, filename, source, person, grp, label, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        student_id,
                        student.class_id,
                        sha,
                        p.filename[:200],
                        p.source,
                        p.person,
                        normalize_group(p.group),
                        label,
                        now,
                    ),
                )
                image_id = int(cur.lastrowid)
                ids.append(image_id)
                if label is not None:
                    conn.execute(
                        "INSERT INTO label_events(image_id, old_label, new_label, actor, at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (image_id, None, label, f"student:{student_id}", now),
                    )
            # A crop written for nothing (duplicate upload, or an older crop replaced) is queued here.
            self._collect(conn, crops)
            queued = conn.execute("SELECT EXISTS (SELECT 1 FROM trash)").fetchone()[0]
        if queued:
            self.empty_trash()
        found = {r.id: r for r in self._images_by_id(ids)}
        return [found[i] for i in ids]

    def _images_by_id(self, ids: Sequence[int]) -> list[ImageRecord]:
        out: list[ImageRecord] = []
        unique = sorted(set(ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = self._read(
                f"SELECT {_IMAGE_COLUMNS} FROM {_IMAGE_FROM} WHERE i.id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            out.extend(self._image_row(r) for r in rows)
        return out

    def _put_face(
        self,
        conn: sqlite3.Connection,
        sha: str,
        face: FaceResult,
        crop_sha: str | None,
        version: str,
        keep: bool,
    ) -> None:
        """Store (or refresh, when made with other settings) the extraction result for these bytes."""
        row = conn.execute("SELECT version, crop_sha FROM faces WHERE sha = ?", (sha,)).fetchone()
        if row is not None and row[0] == version:
            if keep:
                conn.execute("UPDATE faces SET keep = 1 WHERE sha = ?", (sha,))
            return
        landmarks = None
        if face.landmarks is not None:
            landmarks = np.ascontiguousarray(face.landmarks, dtype=np.float32).reshape(-1, 3).tobytes()
        values = (
            version,
            face.status,
            face.reason,
            face.detail,
            _json(list(face.image_size) if face.image_size else None),
            _json(list(face.box) if face.box else None),
            _json(list(face.crop_box) if face.crop_box else None),
            crop_sha,
            landmarks,
            _json({k: float(v) for k, v in face.blendshapes.items()}),
            _json([float(v) for v in face.pose] if face.pose else None),
            _json({k: float(v) for k, v in face.quality.items()}),
        )
        if row is None:
            conn.execute(
                "INSERT INTO faces(version, status, reason, detail, image_size, box, crop_box, crop_sha, "
                "landmarks, blendshapes, pose, quality, sha, keep, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, sha, int(keep), _now()),
            )
        else:
            conn.execute(
                "UPDATE faces SET version = ?, status = ?, reason = ?, detail = ?, image_size = ?, box = ?, "
                "crop_box = ?, crop_sha = ?, landmarks = ?, blendshapes = ?, pose = ?, quality = ?, "
                "keep = MAX(keep, ?) WHERE sha = ?",
                (*values, int(keep), sha),
            )
            if row[1] and row[1] != crop_sha:
                self._collect(conn, {row[1]})

    def _image_row(self, row: tuple) -> ImageRecord:
        return ImageRecord(
            id=row[0],
            student_id=row[1],
            class_id=row[2],
            sha=row[3],
            ext=row[4],
            filename=row[5],
            source=row[6],
            status=row[7],
            reason=row[8],
            label=row[9],
            injected=bool(row[10]),
            person=row[11],
            group=row[12],
            crop_sha=row[13],
            created_at=row[14],
            kept=bool(row[15]),
            kept_accepted=bool(row[16]),
        )

    def _visible_clause(self, viewer: int | TeacherSession) -> tuple[str, list[Any]]:
        """SQL condition (and params) for the images this viewer may see."""
        if isinstance(viewer, TeacherSession):
            class_id = self._check_session(viewer)
            # Teachers see a student's photos only when that student agreed to share them.
            return (
                "i.class_id = ? AND i.student_id IN "
                "(SELECT id FROM students WHERE class_id = ? AND pool_consent = 1)",
                [class_id, class_id],
            )
        self.student(int(viewer))
        return "i.student_id = ?", [int(viewer)]

    def image(self, viewer: int | TeacherSession, image_id: int) -> ImageRecord:
        """One photo's record, if the viewer may see it (``forbidden`` otherwise)."""
        where, params = self._visible_clause(viewer)
        rows = self._read(
            f"SELECT {_IMAGE_COLUMNS} FROM {_IMAGE_FROM} WHERE i.id = ? AND {where}", [image_id, *params]
        )
        if rows:
            return self._image_row(rows[0])
        if self._read("SELECT 1 FROM images WHERE id = ?", (image_id,)):
            raise Forbidden(detail=f"image {image_id}")
        raise NotFound(detail=f"image {image_id}")

    def list_images(
        self,
        viewer: int | TeacherSession,
        *,
        label: str | None = None,
        status: str | None = None,
        source: str | None = None,
        labelled: bool | None = None,
        student_id: int | None = None,
    ) -> list[ImageRecord]:
        """Photos the viewer may see, oldest first, optionally filtered.

        A student sees their own; a teacher session sees the class pool (photos of
        students who agreed to share), optionally narrowed to one ``student_id``.
        """
        where, params = self._visible_clause(viewer)
        conds = [where]
        if label is not None:
            conds.append("i.label = ?")
            params.append(normalize_label(label))
        if status is not None:
            conds.append(f"{_STATUS} = ?")
            params.append(status)
        if source is not None:
            conds.append("i.source = ?")
            params.append(source)
        if labelled is not None:
            conds.append("i.label IS NOT NULL" if labelled else "i.label IS NULL")
        if student_id is not None:
            conds.append("i.student_id = ?")
            params.append(student_id)
        rows = self._read(
            f"SELECT {_IMAGE_COLUMNS} FROM {_IMAGE_FROM} WHERE {' AND '.join(conds)} ORDER BY i.id", params
        )
        return [self._image_row(r) for r in rows]

    def pool(self, session: TeacherSession) -> list[ImageRecord]:
        """The class data set: labelled, accepted photos of every student who agreed to share.

        A photo the gate rejected and its student kept joins only once the teacher accepted it.
        """
        return [
            r for r in self.list_images(session, status="ok", labelled=True) if r.kept_accepted or not r.kept
        ]

    def keep_rejected(self, student_id: int, image_id: int, face: FaceResult) -> ImageRecord:
        """Keep a rejected photo the student says is fine, with the face cut for it (see edu_core.kept)."""
        rec = self.image(student_id, image_id)
        if rec.kept:
            return rec
        if face.status != "ok" or face.crop is None:
            raise ValueError("a kept photo needs a cut face")
        crop_bytes = _encode_crop(face.crop)
        crop_sha = hashlib.sha256(crop_bytes).hexdigest()
        self._write_files({(crop_sha, "png"): crop_bytes})
        landmarks = None
        if face.landmarks is not None:
            landmarks = np.ascontiguousarray(face.landmarks, dtype=np.float32).reshape(-1, 3).tobytes()
        with self._tx() as conn:
            self._ensure_blob(conn, crop_sha, "png", crop_bytes)
            conn.execute(
                "INSERT OR IGNORE INTO kept_faces(image_id, detail, box, crop_box, crop_sha, landmarks, "
                "blendshapes, pose, quality, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rec.id,
                    face.detail,
                    _json(list(face.box) if face.box else None),
                    _json(list(face.crop_box) if face.crop_box else None),
                    crop_sha,
                    landmarks,
                    _json({k: float(v) for k, v in face.blendshapes.items()}),
                    _json([float(v) for v in face.pose] if face.pose else None),
                    _json({k: float(v) for k, v in face.quality.items()}),
                    _now(),
                ),
            )
        return self.image(student_id, image_id)

    def kept_summary(self, session: TeacherSession) -> dict[str, dict[str, int]]:
        """Per rejection reason: photos students kept anyway, and how many the teacher accepted.

        Counts only (every student, sharing or not): how often each rule of the gate was overruled.
        """
        class_id = self._check_session(session)
        rows = self._read(
            "SELECT COALESCE(f.reason, 'unknown'), COUNT(*), SUM(k.accepted) FROM kept_faces k "
            "JOIN images i ON i.id = k.image_id LEFT JOIN faces f ON f.sha = i.sha "
            "WHERE i.class_id = ? GROUP BY 1 ORDER BY 2 DESC",
            (class_id,),
        )
        return {reason: {"kept": n, "accepted": int(acc or 0)} for reason, n, acc in rows}

    def accept_kept(self, session: TeacherSession) -> int:
        """The teacher lets every kept photo of the class into the class pool; returns how many."""
        class_id = self._check_session(session)
        with self._tx() as conn:
            return conn.execute(
                "UPDATE kept_faces SET accepted = 1 WHERE accepted = 0 AND image_id IN "
                "(SELECT id FROM images WHERE class_id = ?)",
                (class_id,),
            ).rowcount

    def counts(self, viewer: int | TeacherSession) -> dict[str, int]:
        """Accepted, labelled photos per class for the viewer, in chart order."""
        items = self.list_images(viewer, status="ok", labelled=True)
        return dataset.class_counts(items, self.class_labels(viewer))

    def class_summary(self, session: TeacherSession) -> dict[str, Any]:
        """Numbers only (no photos) for the teacher's dashboard, across all students."""
        class_id = self._check_session(session)
        labels = self.get_class(class_id).labels
        per_label = dict(
            self._read(
                "SELECT i.label, COUNT(*) FROM images i JOIN faces f ON f.sha = i.sha "
                "WHERE i.class_id = ? AND f.status = 'ok' AND i.label IS NOT NULL GROUP BY i.label",
                (class_id,),
            )
        )
        totals = self._read(
            "SELECT COUNT(*), COUNT(DISTINCT i.student_id), COALESCE(SUM(f.status = 'ok'), 0), "
            "COALESCE(SUM(f.status = 'ok' AND i.label IS NOT NULL), 0) "
            "FROM images i LEFT JOIN faces f ON f.sha = i.sha WHERE i.class_id = ?",
            (class_id,),
        )[0]
        students = self._read(
            "SELECT COUNT(*), SUM(pool_consent) FROM students WHERE class_id = ?", (class_id,)
        )[0]
        return {
            "class_id": class_id,
            "images": totals[0],
            # the chart counts accepted, labelled photos only: the dashboard says so in numbers
            "accepted": totals[2],
            "rejected": totals[0] - totals[2],
            "accepted_labelled": totals[3],
            "students_with_images": totals[1],
            "students": students[0],
            "students_sharing": students[1] or 0,
            "counts": {c: per_label.get(c, 0) for c in labels},
        }

    def _blob_bytes(self, sha: str, ext: str) -> bytes:
        try:
            return self.blob_path(sha, ext).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound("file_missing", sha) from exc

    def original_bytes(self, viewer: int | TeacherSession, image_id: int) -> bytes:
        """The photo exactly as uploaded."""
        rec = self.image(viewer, image_id)
        return self._blob_bytes(rec.sha, rec.ext)

    def crop_bytes(self, viewer: int | TeacherSession, image_id: int) -> bytes | None:
        """The 256 px face crop as PNG bytes (``None`` for rejected photos)."""
        rec = self.image(viewer, image_id)
        return None if rec.crop_sha is None else self._blob_bytes(rec.crop_sha, "png")

    def _face_from_row(self, row: tuple, *, crop: bool = True) -> FaceResult:
        (status, reason, detail, image_size, box, crop_box, crop_sha, landmarks, blend, pose, quality) = row
        pixels = _decode_crop(self._blob_bytes(crop_sha, "png")) if crop and crop_sha else None
        lm = np.frombuffer(landmarks, dtype=np.float32).reshape(-1, 3).copy() if landmarks else None
        return FaceResult(
            status=status,
            reason=reason,
            detail=detail,
            image_size=_tuple_or_none(image_size),
            box=_tuple_or_none(box),
            crop_box=_tuple_or_none(crop_box),
            crop=pixels,
            landmarks=lm,
            blendshapes=json.loads(blend),
            pose=_tuple_or_none(pose),
            quality=json.loads(quality),
        )

    _FACE_COLUMNS = (
        "f.status, f.reason, f.detail, f.image_size, f.box, f.crop_box, f.crop_sha, f.landmarks, "
        "f.blendshapes, f.pose, f.quality"
    )
    # The same columns where a kept photo's own cut replaces the gate's (its reason stays).
    _KEPT_FACE_COLUMNS = (
        f"{_STATUS}, f.reason, COALESCE(k.detail, f.detail), f.image_size, COALESCE(k.box, f.box), "
        "COALESCE(k.crop_box, f.crop_box), COALESCE(k.crop_sha, f.crop_sha), "
        "CASE WHEN k.image_id IS NULL THEN f.landmarks ELSE k.landmarks END, "
        "COALESCE(k.blendshapes, f.blendshapes), CASE WHEN k.image_id IS NULL THEN f.pose ELSE k.pose END, "
        "COALESCE(k.quality, f.quality)"
    )

    def face(self, image_id: int, viewer: int | TeacherSession) -> FaceResult:
        """Rebuild the extraction result of a photo (crop decoded back to an array)."""
        self.image(viewer, image_id)
        rows = self._read(
            f"SELECT {self._KEPT_FACE_COLUMNS} FROM images i JOIN faces f ON f.sha = i.sha "
            "LEFT JOIN kept_faces k ON k.image_id = i.id WHERE i.id = ?",
            (image_id,),
        )
        if not rows:
            raise NotFound(detail=f"face of image {image_id}")
        return self._face_from_row(rows[0])

    def faces(
        self, viewer: int | TeacherSession, image_ids: Sequence[int], *, crops: bool = True
    ) -> list[FaceResult]:
        """:meth:`face` for many photos in one query (for training).

        ``crops=False`` leaves ``crop`` as None: the pieces model reads only landmarks and
        expression scores, and decoding every crop was most of the cost of starting it.
        """
        where, params = self._visible_clause(viewer)
        found: dict[int, FaceResult] = {}
        ids = list(image_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._read(
                f"SELECT i.id, {self._KEPT_FACE_COLUMNS} FROM images i JOIN faces f ON f.sha = i.sha "
                f"LEFT JOIN kept_faces k ON k.image_id = i.id "
                f"WHERE i.id IN ({','.join('?' * len(chunk))}) AND {where}",
                [*chunk, *params],
            )
            for row in rows:
                found[row[0]] = self._face_from_row(row[1:], crop=crops)
        missing = [i for i in ids if i not in found]
        if missing:
            raise Forbidden(detail=f"images {missing[:5]}")
        return [found[i] for i in ids]

    def cached_face(self, sha: str, version: str = "") -> FaceResult | None:
        """A stored extraction result for these file bytes, if any (the samples' cache)."""
        rows = self._read(
            f"SELECT {self._FACE_COLUMNS} FROM faces f WHERE f.sha = ? AND f.version = ?", (sha, version)
        )
        if not rows:
            return None
        try:
            return self._face_from_row(rows[0])
        except NotFound:
            return None

    # ------------------------------------------------------------------ labels

    def _label_target(self, conn: sqlite3.Connection, viewer: int | TeacherSession, image_id: int) -> tuple:
        row = conn.execute(
            "SELECT i.student_id, i.class_id, i.label, i.injected, i.label_before_injection, s.pool_consent "
            "FROM images i JOIN students s ON s.id = i.student_id WHERE i.id = ?",
            (image_id,),
        ).fetchone()
        if row is None:
            raise NotFound(detail=f"image {image_id}")
        if isinstance(viewer, TeacherSession):
            if row[1] != viewer.class_id or not row[5]:
                raise Forbidden(detail=f"image {image_id}")
        elif row[0] != int(viewer):
            raise Forbidden(detail=f"image {image_id}")
        return row

    def set_person(self, viewer: int | TeacherSession, image_ids: Sequence[int], person: str | None) -> None:
        """Say who is in these photos (a nickname); ``None`` or "" means the student who took them.

        A split that keeps each person's photos on one side groups by this tag, and photos without
        one by the student who uploaded them.
        """
        name = " ".join((person or "").split())[:40] or None
        with self._tx() as conn:
            for image_id in image_ids:
                owner = self._label_target(conn, viewer, int(image_id))[0]
                nickname = conn.execute("SELECT nickname FROM students WHERE id = ?", (owner,)).fetchone()
                # the uploader's own nickname is the default person, not a second person of that name
                tag = None if nickname and name == nickname[0] else name
                conn.execute("UPDATE images SET person = ? WHERE id = ?", (tag, int(image_id)))

    def set_group(self, viewer: int | TeacherSession, image_ids: Sequence[int], group: str | None) -> None:
        """Tag these photos with a group the class chose ("안경", "8-10세", ...); ``None`` or "" clears it.

        Rejected photos take a tag too: the gate's keep rate per group needs them.
        """
        tag = normalize_group(group)
        with self._tx() as conn:
            for image_id in image_ids:
                self._label_target(conn, viewer, int(image_id))
                conn.execute("UPDATE images SET grp = ? WHERE id = ?", (tag, int(image_id)))

    def class_groups(self, viewer: int | TeacherSession) -> list[str]:
        """The group tags already used in the viewer's class, for the next student to pick from."""
        rows = self._read(
            "SELECT DISTINCT grp FROM images WHERE class_id = ? AND grp IS NOT NULL ORDER BY grp",
            (self._class_of(viewer),),
        )
        return [r[0] for r in rows]

    def group_gate_counts(self, session: TeacherSession) -> dict[str | None, tuple[int, int]]:
        """Per group tag (``None``: untagged): ``(photos, passed by the face gate)`` of every student.

        Counts only, sharing or not, like :meth:`kept_summary`: a photo a student kept after the
        gate said no counts as rejected, because that is what the gate did.
        """
        class_id = self._check_session(session)
        rows = self._read(
            "SELECT i.grp, COUNT(*), COALESCE(SUM(f.status = 'ok'), 0) "
            "FROM images i LEFT JOIN faces f ON f.sha = i.sha WHERE i.class_id = ? GROUP BY i.grp",
            (class_id,),
        )
        return {g: (int(n), int(ok)) for g, n, ok in rows}

    def set_labels(
        self,
        viewer: int | TeacherSession,
        labels: Mapping[int, str | None],
        *,
        injected: bool = False,
    ) -> None:
        """Set several labels in one transaction; every change is kept in the history.

        ``injected`` marks planted mistakes (the lesson's label-error experiment);
        :meth:`revert_injected` undoes them.
        """
        if isinstance(viewer, TeacherSession):
            self._check_session(viewer)
            actor = "teacher"
        else:
            actor = f"student:{int(viewer)}"
        allowed = set(self.class_labels(viewer))
        clean = {}
        for image_id, label in labels.items():
            if label is not None:
                label = normalize_label(label)
                if label not in allowed:
                    raise StoreError("unknown_class", label)
            clean[int(image_id)] = label
        now = _now()
        with self._tx() as conn:
            for image_id, label in clean.items():
                row = self._label_target(conn, viewer, image_id)
                old, was_injected, before = row[2], row[3], row[4]
                if old == label and not (was_injected and not injected):
                    continue
                if injected:
                    keep_before = before if was_injected else old
                    conn.execute(
                        "UPDATE images SET label = ?, injected = 1, label_before_injection = ? WHERE id = ?",
                        (label, keep_before, image_id),
                    )
                else:
                    conn.execute(
                        "UPDATE images SET label = ?, injected = 0, label_before_injection = NULL "
                        "WHERE id = ?",
                        (label, image_id),
                    )
                conn.execute(
                    "INSERT INTO label_events(image_id, old_label, new_label, actor, injected, at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (image_id, old, label, actor, int(injected), now),
                )

    def set_label(
        self, viewer: int | TeacherSession, image_id: int, label: str | None, *, injected: bool = False
    ) -> ImageRecord:
        """Change one photo's label (``None`` removes it)."""
        self.set_labels(viewer, {image_id: label}, injected=injected)
        return self.image(viewer, image_id)

    def label_history(self, viewer: int | TeacherSession, image_id: int) -> list[LabelEvent]:
        """Every label change of a photo, oldest first."""
        self.image(viewer, image_id)
        rows = self._read(
            "SELECT image_id, old_label, new_label, actor, injected, at FROM label_events "
            "WHERE image_id = ? ORDER BY id",
            (image_id,),
        )
        return [LabelEvent(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows]

    def recent_label_events(self, viewer: int | TeacherSession, limit: int = 12) -> list[LabelEvent]:
        """The viewer's latest label changes over all their photos, newest first (one query)."""
        where, params = self._visible_clause(viewer)
        rows = self._read(
            "SELECT e.image_id, e.old_label, e.new_label, e.actor, e.injected, e.at FROM label_events e "
            f"JOIN images i ON i.id = e.image_id WHERE {where} ORDER BY e.at DESC, e.id DESC LIMIT ?",
            [*params, int(limit)],
        )
        return [LabelEvent(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows]

    def inject_mislabels(
        self,
        viewer: int | TeacherSession,
        source_class: str,
        fraction: float,
        seed: int = 0,
        targets: Sequence[str] | None = None,
    ) -> list[int]:
        """Plant wrong labels on ``fraction`` of a class (flagged, revertible); returns the image ids."""
        items = self.list_images(viewer, status="ok", labelled=True)
        items = [r for r in items if not r.injected]
        if targets is None:
            targets = self.class_labels(viewer)  # any other class of the lesson, present or not
        targets = [normalize_label(t) for t in targets]
        changed, ids = dataset.inject_mislabels(items, normalize_label(source_class), fraction, seed, targets)
        new = {r.id: r.label for r in changed if r.id in set(ids)}
        self.set_labels(viewer, new, injected=True)
        return list(ids)

    def revert_injected(self, viewer: int | TeacherSession, image_ids: Sequence[int] | None = None) -> int:
        """Put back the true labels of planted mistakes; returns how many were fixed."""
        flagged = [r for r in self.list_images(viewer) if r.injected]
        if image_ids is not None:
            wanted = set(image_ids)
            flagged = [r for r in flagged if r.id in wanted]
        originals = (
            dict(
                self._read(
                    "SELECT id, label_before_injection FROM images "
                    f"WHERE id IN ({','.join('?' * len(flagged))})",
                    [r.id for r in flagged],
                )
            )
            if flagged
            else {}
        )
        self.set_labels(viewer, {r.id: originals.get(r.id) for r in flagged})
        return len(flagged)

    # ------------------------------------------------------------------ splits

    def save_split(
        self,
        viewer: int | TeacherSession,
        train_ids: Sequence[int],
        test_ids: Sequence[int],
        *,
        seed: int,
        test_ratio: float,
        by_person: bool = False,
    ) -> int:
        """Remember a train/test split; returns its id."""
        overlap = set(train_ids) & set(test_ids)
        if overlap:
            raise StoreError("split_overlap", str(sorted(overlap)[:5]))
        visible = {r.id for r in self.list_images(viewer)}
        if not set(train_ids) | set(test_ids) <= visible:
            raise Forbidden(detail="split names photos the viewer cannot see")
        class_id = self._class_of(viewer)
        student_id = None if isinstance(viewer, TeacherSession) else int(viewer)
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO splits(class_id, student_id, seed, test_ratio, by_person, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (class_id, student_id, seed, test_ratio, int(by_person), _now()),
            )
            split_id = int(cur.lastrowid)
            conn.executemany(
                "INSERT INTO split_items(split_id, image_id, part) VALUES (?, ?, ?)",
                [(split_id, i, "train") for i in train_ids] + [(split_id, i, "test") for i in test_ids],
            )
        return split_id

    def make_split(
        self, viewer: int | TeacherSession, *, test_ratio: float = 0.2, seed: int = 0, by_person: bool = False
    ) -> SavedSplit:
        """Split the viewer's accepted, labelled photos (stratified, or by person) and save it."""
        items = (
            self.pool(viewer)
            if isinstance(viewer, TeacherSession)
            else self.list_images(viewer, status="ok", labelled=True)
        )
        fn = dataset.split_by_person if by_person else dataset.split_stratified
        split = fn(items, test_ratio=test_ratio, seed=seed)
        split_id = self.save_split(
            viewer, split.train_ids, split.test_ids, seed=seed, test_ratio=test_ratio, by_person=by_person
        )
        return self.get_split(viewer, split_id)

    def get_split(self, viewer: int | TeacherSession, split_id: int) -> SavedSplit:
        """A saved split (photos deleted since then are simply gone from it)."""
        class_id = self._class_of(viewer)
        rows = self._read(
            "SELECT id, class_id, student_id, seed, test_ratio, by_person, created_at "
            "FROM splits WHERE id = ?",
            (split_id,),
        )
        if not rows:
            raise NotFound(detail=f"split {split_id}")
        _, cls, owner, seed, ratio, by_person, created = rows[0]
        if cls != class_id or (not isinstance(viewer, TeacherSession) and owner != int(viewer)):
            raise Forbidden(detail=f"split {split_id}")
        items = self._read(
            "SELECT image_id, part FROM split_items WHERE split_id = ? ORDER BY image_id", (split_id,)
        )
        return SavedSplit(
            id=split_id,
            seed=seed,
            test_ratio=ratio,
            by_person=bool(by_person),
            train_ids=tuple(i for i, p in items if p == "train"),
            test_ids=tuple(i for i, p in items if p == "test"),
            created_at=created,
        )

    def list_splits(self, viewer: int | TeacherSession) -> list[SavedSplit]:
        """The viewer's saved splits, oldest first."""
        class_id = self._class_of(viewer)
        if isinstance(viewer, TeacherSession):
            rows = self._read(
                "SELECT id FROM splits WHERE class_id = ? AND student_id IS NULL ORDER BY id", (class_id,)
            )
        else:
            rows = self._read("SELECT id FROM splits WHERE student_id = ? ORDER BY id", (int(viewer),))
        return [self.get_split(viewer, r[0]) for r in rows]

    # ------------------------------------------------------------------ models and runs

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

    def _model_row(self, row: tuple) -> ModelRecord:
        return ModelRecord(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            tuple(json.loads(row[5])),
            json.loads(row[6]),
            row[7],
            row[8],
        )

    _MODEL_COLUMNS = "id, class_id, student_id, name, kind, labels, config, file_sha, created_at"

    def model(self, viewer: int | TeacherSession, model_id: int) -> ModelRecord:
        """One model's record, if the viewer owns it (or is the class's teacher)."""
        rows = self._read(f"SELECT {self._MODEL_COLUMNS} FROM models WHERE id = ?", (model_id,))
        if not rows:
            raise NotFound(detail=f"model {model_id}")
        rec = self._model_row(rows[0])
        self._check_owner(viewer, rec.class_id, rec.student_id)
        return rec

    def _check_owner(self, viewer: int | TeacherSession, class_id: int, student_id: int | None) -> None:
        if isinstance(viewer, TeacherSession):
            if self._check_session(viewer) != class_id:
                raise Forbidden()
        elif student_id != int(viewer):
            raise Forbidden()

    def list_models(self, viewer: int | TeacherSession) -> list[ModelRecord]:
        """The viewer's models (a teacher sees every model of the class; models hold no photos)."""
        class_id = self._class_of(viewer)
        if isinstance(viewer, TeacherSession):
            rows = self._read(
                f"SELECT {self._MODEL_COLUMNS} FROM models WHERE class_id = ? ORDER BY id", (class_id,)
            )
        else:
            rows = self._read(
                f"SELECT {self._MODEL_COLUMNS} FROM models WHERE student_id = ? ORDER BY id", (int(viewer),)
            )
        return [self._model_row(r) for r in rows]

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
                (class_id, student_id, model_id, split_id, _json(dict(config)), _now(), _runner_id()),
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

    _RUN_COLUMNS = (
        "id, class_id, student_id, model_id, split_id, status, config, metrics, started_at, finished_at"
    )

    def _run_row(self, r: tuple) -> RunRecord:
        return RunRecord(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), json.loads(r[7]), r[8], r[9])

    def run(self, viewer: int | TeacherSession, run_id: int) -> RunRecord:
        """One training run, if the viewer owns it (or is the class's teacher)."""
        rows = self._read(f"SELECT {self._RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise NotFound(detail=f"run {run_id}")
        rec = self._run_row(rows[0])
        self._check_owner(viewer, rec.class_id, rec.student_id)
        return rec

    def list_runs(self, viewer: int | TeacherSession) -> list[RunRecord]:
        """The viewer's runs (a teacher sees the whole class's), oldest first."""
        class_id = self._class_of(viewer)
        if isinstance(viewer, TeacherSession):
            rows = self._read(
                f"SELECT {self._RUN_COLUMNS} FROM runs WHERE class_id = ? ORDER BY id", (class_id,)
            )
        else:
            rows = self._read(
                f"SELECT {self._RUN_COLUMNS} FROM runs WHERE student_id = ? ORDER BY id", (int(viewer),)
            )
        return [self._run_row(r) for r in rows]

    # ------------------------------------------------------------------ deleting

    def _delete_images_where(self, where: str, params: Sequence[Any]) -> int:
        with self._tx() as conn:
            shas = {r[0] for r in conn.execute(f"SELECT sha FROM images WHERE {where}", params)}
            crops = {
                r[0]
                for r in conn.execute(
                    f"SELECT f.crop_sha FROM faces f WHERE f.crop_sha IS NOT NULL AND f.sha IN "
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

    def delete_student(self, student_id: int) -> None:
        """Remove the student entirely (photos, splits, models, runs)."""
        self.delete_student_photos(student_id)
        shas = {
            r[0]
            for r in self._read("SELECT file_sha FROM models WHERE student_id = ?", (student_id,))
            if r[0]
        }
        with self._tx() as conn:
            conn.execute("DELETE FROM students WHERE id = ?", (student_id,))
            self._collect(conn, shas)
        self.empty_trash()

    def wipe_class(self, session: TeacherSession, *, keep_class: bool = False) -> int:
        """Teacher: delete every photo of the class (and, unless ``keep_class``, the class itself)."""
        class_id = self._check_session(session)
        n = self._delete_images_where("class_id = ?", (class_id,))
        if not keep_class:
            shas = {
                r[0]
                for r in self._read("SELECT file_sha FROM models WHERE class_id = ?", (class_id,))
                if r[0]
            }
            with self._tx() as conn:
                conn.execute("DELETE FROM classes WHERE id = ?", (class_id,))
                self._collect(conn, shas)
            self.empty_trash()
        return n

    def apply_retention(self, now: float | None = None) -> int:
        """Delete photos older than their class's retention setting; returns how many went."""
        now = _now() if now is None else now
        total = 0
        for class_id, days in self._read(
            "SELECT id, retention_days FROM classes WHERE retention_days IS NOT NULL"
        ):
            cutoff = now - days * 86400.0
            total += self._delete_images_where(
                "class_id = ? AND created_at < ? AND source != 'sample'", (class_id, cutoff)
            )
        return total

    # ------------------------------------------------------------------ checking

    def _stored_files(self) -> dict[str, Path]:
        """Every complete file under ``files/<shard>/`` by name (temporary parts left out)."""
        return {
            f.name: f
            for sub in self.files.iterdir()
            if sub.is_dir() and sub.name != "tmp"
            for f in sub.iterdir()
        }

    def check(self, *, repair: bool = False, grace_s: float | None = None) -> CheckReport:
        """Compare database and files: integrity, missing files, orphans (removed with ``repair``).

        Files younger than ``grace_s`` are never called orphans: they may belong to
        an upload in another process that has not committed yet.
        """
        grace = self.cfg.orphan_grace_s if grace_s is None else grace_s
        integrity = self._read("PRAGMA integrity_check")[0][0]
        fk = self._read("PRAGMA foreign_key_check")
        if fk and integrity == "ok":
            integrity = f"foreign keys broken: {fk[:3]}"
        known = {f"{sha}.{ext}" for sha, ext in self._read("SELECT sha, ext FROM blobs")}
        on_disk = self._stored_files()
        missing = tuple(sorted(known - set(on_disk)))
        cutoff = _now() - grace
        orphans = tuple(sorted(n for n in set(on_disk) - known if on_disk[n].stat().st_mtime < cutoff))
        temps = [p for p in (self.files / "tmp").iterdir() if p.stat().st_mtime < cutoff]
        removed: tuple[str, ...] = ()
        if repair:
            self.empty_trash()
            with self._tx() as conn:  # under the lock, so no upload is between file and row
                still_known = {f"{sha}.{ext}" for sha, ext in conn.execute("SELECT sha, ext FROM blobs")}
                gone = [n for n in orphans if n not in still_known]
                for n in gone:
                    on_disk[n].unlink(missing_ok=True)
            for p in temps:
                p.unlink(missing_ok=True)
            removed = tuple(gone)
            orphans = tuple(n for n in orphans if n not in gone)
        counts = {
            t: self._read(f"SELECT COUNT(*) FROM {t}")[0][0]
            for t in ("classes", "students", "images", "faces", "blobs", "label_events", "models", "runs")
        }
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
            run_id
            for run_id, runner in self._read("SELECT id, runner FROM runs WHERE status = 'running'")
            if not _runner_alive(runner)
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
                known = {f"{sha}.{ext}" for sha, ext in conn.execute("SELECT sha, ext FROM blobs")}
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


def default_root() -> Path:
    """Where the data lives: ``$EXPRESSION_LAB_DATA`` or ``<repo>/data``."""
    env = os.environ.get(DATA_ENV, "").strip()
    return Path(env).expanduser() if env else DEFAULT_ROOT


def open_store(root: Path | None = None, cfg: StoreConfig = StoreConfig()) -> Store:
    """Open (creating if needed) the store at ``root`` or :func:`default_root`."""
    return Store(Path(root) if root is not None else default_root(), cfg)


# ---------------------------------------------------------------------- command line


def _print(obj: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            print(f"{k}: {v}")
    else:
        print(obj)


def _teacher(store: Store, args: argparse.Namespace) -> TeacherSession:
    record = store.find_class(args.class_code)
    pin = args.pin if args.pin is not None else os.environ.get("EXPRESSION_LAB_PIN", "")
    return store.teacher_login(record.id, pin)


def _owner(store: Store, args: argparse.Namespace) -> int:
    """The student an import goes to: a resume code, or a new student in the class."""
    if args.student:
        return store.resume(args.student).id
    record = store.find_class(args.class_code)
    _teacher(store, args)  # creating workspaces from the command line is the teacher's job
    return store.join(record.id, args.nickname).id


def _read_new_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("new teacher password: ")
    if getpass.getpass("once more: ") != first:
        raise StoreError("password_mismatch", "the two passwords differ")
    return first


def _teacher_password_command(store: Store, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.reset:
        out["teacher_password"] = new_teacher_password()
        store.set_teacher_password(out["teacher_password"])
        out["note"] = "shown only now; only its hash is kept. Open teacher pages must enter it again."
    elif args.set:
        store.set_teacher_password(_read_new_password())
        out["note"] = "saved (as a hash). Open teacher pages must enter it again."
    source = store.teacher_password_source()
    out["source"] = {
        "env": f"${TEACHER_PASSWORD_ENV} (it wins over a stored one)",
        "file": str(store.teacher_password_file),
        None: "none yet: the app makes one at its next start and prints it",
    }[source]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edu_core.store``: create a class, import, export, count, check, wipe."""
    parser = argparse.ArgumentParser(prog="python -m edu_core.store", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=None, help=f"data folder (default ${DATA_ENV} or ./data)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("create-class", help="create a lesson class and print its join code")
    p.add_argument("--name", required=True)
    p.add_argument("--pin", default=None, help="teacher PIN (or $EXPRESSION_LAB_PIN)")
    p.add_argument("--labels", default=",".join(LESSON_CLASSES), help="comma-separated class names")
    p.add_argument("--retention-days", type=int, default=None)

    sub.add_parser("list-classes", help="classes on this server")

    for name, text in (
        ("import", "import a zip or a folder of class subfolders"),
        ("samples", "load sample faces"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--class", dest="class_code", required=True, help="join code")
        p.add_argument("--pin", default=None)
        p.add_argument("--student", default=None, help="resume code of the workspace (default: a new one)")
        p.add_argument("--nickname", default="teacher")
        if name == "import":
            p.add_argument("path", type=Path)
        else:
            p.add_argument("--per-class", type=int, default=20)

    p = sub.add_parser("export", help="export a workspace or the class pool as a zip")
    p.add_argument("--class", dest="class_code", required=True)
    p.add_argument("--pin", default=None)
    p.add_argument("--student", default=None, help="resume code (default: the class pool)")
    p.add_argument("--split", type=int, default=None, help="split id to record in the zip")
    p.add_argument("--out", type=Path, required=True)

    p = sub.add_parser("counts", help="photos per class")
    p.add_argument("--class", dest="class_code", required=True)
    p.add_argument("--pin", default=None)
    p.add_argument("--student", default=None, help="resume code (default: whole class, teacher PIN)")

    p = sub.add_parser("wipe", help="delete all photos of a class (and the class)")
    p.add_argument("--class", dest="class_code", required=True)
    p.add_argument("--pin", default=None)
    p.add_argument("--keep-class", action="store_true")

    p = sub.add_parser(
        "teacher-password",
        help="the teacher password: where it comes from; --reset makes a new one, --set asks for one",
    )
    how = p.add_mutually_exclusive_group()
    how.add_argument("--reset", action="store_true", help="make a new random password and print it once")
    how.add_argument("--set", action="store_true", help="type a new password (or one line on stdin)")

    sub.add_parser("retention", help="apply every class's retention setting now")
    p = sub.add_parser("check", help="database integrity and file consistency")
    p.add_argument("--repair", action="store_true", help="remove orphan files")

    args = parser.parse_args(argv)
    try:
        store = open_store(args.root)
        if args.cmd == "create-class":
            pin = args.pin if args.pin is not None else os.environ.get("EXPRESSION_LAB_PIN", "")
            labels = [x for x in args.labels.split(",") if x.strip()]
            record, _ = store.create_class(args.name, pin, labels=labels, retention_days=args.retention_days)
            out: Any = {
                "class_id": record.id,
                "name": record.name,
                "join_code": record.join_code,
                "labels": list(record.labels),
                "root": str(store.root),
            }
        elif args.cmd == "list-classes":
            out = [{"class_id": c.id, "name": c.name, "join_code": c.join_code} for c in store.list_classes()]
        elif args.cmd in ("import", "samples"):
            # photosets is built on the store (it stores NewImage rows): imported at load time
            # it would be an import cycle
            from edu_core import photosets

            student_id = _owner(store, args)
            if args.cmd == "samples":
                report = photosets.load_samples(store, student_id, args.per_class)
            elif args.path.is_dir():
                report = photosets.import_folder(store, student_id, args.path)
            else:
                report = photosets.import_zip(store, student_id, args.path)
            out = {
                "student_id": student_id,
                "resume_code": store.student(student_id).resume_code,
                "imported": len(report.image_ids),
                "counts": report.counts,
                "skipped": [list(s) for s in report.skipped],
                "split_id": report.split_id,
            }
        elif args.cmd == "export":
            viewer: int | TeacherSession = (
                store.resume(args.student).id if args.student else _teacher(store, args)
            )
            from edu_core import photosets

            data = photosets.export_zip(store, viewer, args.out, split_id=args.split)
            out = {"out": str(args.out), "bytes": len(data)}
        elif args.cmd == "counts":
            if args.student:
                out = {"counts": store.counts(store.resume(args.student).id)}
            else:
                out = store.class_summary(_teacher(store, args))
        elif args.cmd == "wipe":
            n = store.wipe_class(_teacher(store, args), keep_class=args.keep_class)
            out = {"deleted_images": n, "class_deleted": not args.keep_class}
        elif args.cmd == "teacher-password":
            out = _teacher_password_command(store, args)
        elif args.cmd == "retention":
            out = {"deleted_images": store.apply_retention()}
        else:
            report = store.check(repair=args.repair)
            out = {
                "ok": report.ok,
                "integrity": report.integrity,
                "missing_files": list(report.missing_files),
                "orphan_files": list(report.orphan_files),
                "removed": list(report.removed_orphans),
                "counts": report.counts,
            }
    except StoreError as exc:
        _print({"error": exc.code, "detail": exc.detail}, args.json)
        return 2
    _print(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
