"""The schema as numbered ``.sql`` files, applied in order by :func:`migrate`.

``NNNN_name.sql`` upgrades ``PRAGMA user_version`` NNNN-1 to NNNN. Steps are forward only:
never edit a published file (databases out there already ran it); add the next number.
"""

from __future__ import annotations

import sqlite3
from importlib import resources

from edu_core.errors import StoreError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate", "statements"]


def _load() -> tuple[str, ...]:
    files = sorted(
        (f for f in resources.files(__name__).iterdir() if f.name.endswith(".sql")), key=lambda f: f.name
    )
    steps = []
    for number, f in enumerate(files, start=1):
        if not f.name.startswith(f"{number:04d}_"):
            raise RuntimeError(f"migration {f.name} is out of sequence: expected {number:04d}_….sql")
        steps.append(f.read_text(encoding="utf-8"))
    if not steps:  # an install that left the package data out would otherwise make empty databases
        raise RuntimeError(f"no migration .sql files next to {__file__}")
    return tuple(steps)


#: The SQL text of every step; index i upgrades user_version i to i+1.
MIGRATIONS: tuple[str, ...] = _load()
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """Split a migration into single statements (a ``;`` inside a string or comment stays put)."""
    out: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            code = [line for line in buf.splitlines() if line.strip() and not line.lstrip().startswith("--")]
            if "".join(code).strip(";").strip():
                out.append(buf.strip())
            buf = ""
    if buf:
        raise ValueError(f"unfinished SQL statement at the end of a migration: {buf.strip()[:80]}")
    return out


def migrate(conn: sqlite3.Connection) -> int:
    """Inside the caller's write transaction: run every step newer than the database; returns its version.

    ``executescript`` would commit the caller's ``BEGIN IMMEDIATE``, so each statement runs on its own
    and the version moves with its step in the same transaction.
    """
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise StoreError("schema_too_new", f"database version {version}, app knows {SCHEMA_VERSION}")
    for step in range(version, SCHEMA_VERSION):
        for statement in statements(MIGRATIONS[step]):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {step + 1}")
    return SCHEMA_VERSION
