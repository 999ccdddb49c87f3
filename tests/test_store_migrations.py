"""The store's schema steps: every older data folder opens and gains the later tables."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edu_core.store import SCHEMA_VERSION, Store, StoreConfig

FAST = StoreConfig(scrypt_n=2**10, pin_max_failures=3, pin_lock_s=30.0)


def test_older_data_folder_gains_the_kept_photos_table(tmp_path: Path) -> None:
    db = Store(tmp_path / "d", FAST)
    klass, _ = db.create_class("a", "1234")
    db.close()
    conn = sqlite3.connect(tmp_path / "d" / "lab.sqlite3")
    conn.execute("DROP TABLE kept_faces")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    again = Store(tmp_path / "d", FAST)
    assert again.schema_version() == SCHEMA_VERSION >= 3
    assert again.get_class(klass.id).name == "a"
    assert again.list_images(again.join(klass.id, "x").id) == []


def test_first_schema_database_migrates_to_the_newest(tmp_path: Path) -> None:
    """A data folder made by the very first release (user_version 1) opens and gains every later step."""
    from edu_core.store.migrations import MIGRATIONS, statements

    (tmp_path / "d").mkdir()
    conn = sqlite3.connect(tmp_path / "d" / "lab.sqlite3", isolation_level=None)
    for statement in statements(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO classes(id, name, join_code, labels, pin_salt, pin_hash, created_at) "
        "VALUES (1, 'old', 'ABCDEF', '[\"joy\", \"anger\"]', x'00', x'00', 0)"
    )
    conn.execute(
        "INSERT INTO students(id, class_id, nickname, resume_code, created_at) VALUES (1, 1, 'a', 'R1', 0)"
    )
    conn.execute("INSERT INTO runs(id, class_id, student_id, started_at) VALUES (1, 1, 1, 0)")
    conn.close()
    db = Store(tmp_path / "d", FAST)
    assert db.schema_version() == SCHEMA_VERSION
    assert db.get_class(1).labels == ("joy", "anger") and db.resume("R1").nickname == "a"
    assert db.list_images(1) == [] and db.check().ok  # kept_faces (step 3) is there
    # step 2's runner column: a run from before it has no process that could still train it
    assert db.recover().interrupted_runs == (1,)
    assert db.run(1, 1).status == "failed"


def test_migration_statements_keep_semicolons_in_strings_and_comments() -> None:
    from edu_core.store.migrations import statements

    script = "-- one; two\nCREATE TABLE a(x TEXT DEFAULT ';');\n/* three; */ CREATE TABLE b(y);\n-- end;\n"
    assert [s.splitlines()[-1] for s in statements(script)] == [
        "CREATE TABLE a(x TEXT DEFAULT ';');",
        "/* three; */ CREATE TABLE b(y);",
    ]
    with pytest.raises(ValueError, match="unfinished"):
        statements("CREATE TABLE c(z TEXT DEFAULT 'open")
