"""Connections, pragmas and transactions, and the reason codes of SQLite and OS failures.

SQLite runs in WAL mode with a long ``busy_timeout``; every write is one short ``BEGIN
IMMEDIATE`` transaction, so writers queue instead of failing. Each thread gets its own
connection (Streamlit serves each browser tab from its own thread, and a sqlite3 connection
must never cross threads), and a forked child opens its own.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edu_core.errors import StoreError
from edu_core.store import migrations

DB_NAME = "lab.sqlite3"


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


def _now() -> float:
    return time.time()


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


# SQLite's primary result codes (the low byte of an extended code, e.g. SQLITE_READONLY_DBMOVED).
_FULL = {sqlite3.SQLITE_FULL}
_READ_ONLY = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN}
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_CORRUPT = {sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT}


def _translate(exc: BaseException) -> StoreError:
    """Turn sqlite3/OS failures into reason codes the pages can explain.

    SQLite errors are told apart by their result code, never by their message text (which
    changes between SQLite versions); OS errors by ``errno``.
    """
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageFull(detail=str(exc))
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return ReadOnly(detail=str(exc))
        return StoreError("io_error", str(exc))
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in _FULL:
        return StorageFull(detail=str(exc))
    if primary in _READ_ONLY:
        return ReadOnly(detail=str(exc))
    if primary in _BUSY:
        return StoreError("busy", str(exc))
    if primary in _CORRUPT:
        return StoreError("corrupt", str(exc))
    return StoreError("store_error", str(exc))


def is_unique_violation(exc: StoreError) -> bool:
    """Whether a translated error was a UNIQUE constraint (a join code or resume code already taken)."""
    cause = exc.__cause__
    return getattr(cause, "sqlite_errorcode", None) in (
        sqlite3.SQLITE_CONSTRAINT_UNIQUE,
        sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY,
    )


class StoreBase:
    """The store's root, settings and per-thread connection; every room builds on it."""

    root: Path
    cfg: StoreConfig
    db_path: Path
    files: Path

    def __init__(self, root: Path, cfg: StoreConfig = StoreConfig()) -> None:
        self.root = Path(root)
        self.cfg = cfg
        self.db_path = self.root / DB_NAME
        self.files = self.root / "files"
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        try:
            conn = sqlite3.connect(
                self.db_path, timeout=self.cfg.busy_timeout_s, isolation_level=None, check_same_thread=True
            )
            conn.row_factory = sqlite3.Row
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

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def _migrate(self) -> None:
        with self._tx() as conn:
            migrations.migrate(conn)

    def schema_version(self) -> int:
        """The ``PRAGMA user_version`` of the database."""
        return int(self._read("PRAGMA user_version")[0][0])
