"""Store.recover: what a SIGKILLed process leaves behind is cleaned up, a live process is never touched.

The killed process is real: a child Python process opens the same store, starts a training
run, writes a photo file it never commits and a half-written temporary part, and is then
killed with SIGKILL while it works.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from edu_core.store import SCHEMA_VERSION, StoreConfig, open_store

pytestmark = pytest.mark.timeout(120)
FAST = StoreConfig(scrypt_n=2**4)

CHILD = textwrap.dedent(
    """
    import hashlib, os, time
    from edu_core.store import StoreConfig, open_store

    db = open_store({data!r}, StoreConfig(scrypt_n=2**4))
    run_id = db.start_run({student}, config={{"kind": "pieces"}})
    data = b"uncommitted photo bytes"
    sha = hashlib.sha256(data).hexdigest()
    db._write_file(sha, "bin", data)  # the file of an upload whose row never committed
    part = db.files / "tmp" / f"{{'0' * 64}}.{{os.getpid()}}-abcdef.part"
    with open(part, "wb") as fh:  # a photo still being written when the kill comes
        fh.write(b"half a photo")
        fh.flush()
        print(run_id, sha, part.name, flush=True)
        while True:
            time.sleep(0.1)
    """
)


@pytest.fixture()
def lab(tmp_path):
    db = open_store(tmp_path / "lab", FAST)
    klass, session = db.create_class("6-1", "4321")
    student = db.join(klass.id, "토끼")
    return db, session, student


def _child(db, student_id: int) -> tuple[subprocess.Popen, int, str, str]:
    code = CHILD.format(data=str(db.root), student=student_id)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    assert len(line) == 3, "child did not start"
    return proc, int(line[0]), line[1], line[2]


def test_schema_records_who_runs_each_training(lab):
    db, _, student = lab
    assert db.schema_version() == SCHEMA_VERSION >= 2  # the runner column came with version 2
    run_id = db.start_run(student.id, config={})
    (runner,) = db._read("SELECT runner FROM runs WHERE id = ?", (run_id,))[0]
    host, pid, start = runner.split(":")
    assert host == platform.node() and int(pid) == os.getpid() and start


def test_sigkilled_trainer_run_is_marked_failed_and_its_leftovers_removed(lab):
    db, session, student = lab
    proc, run_id, orphan_sha, part_name = _child(db, student.id)
    part = db.files / "tmp" / part_name
    try:
        # While the child lives, its run and the part it is writing are left alone.
        report = db.recover()
        assert report.interrupted_runs == ()
        assert db.run(student.id, run_id).status == "running"
        assert part.exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    report = db.recover()  # what a server restart does
    assert report.interrupted_runs == (run_id,)
    run = db.run(student.id, run_id)
    assert run.status == "failed" and run.metrics == {"error": "training_interrupted"}
    assert run.finished_at is not None
    assert not part.exists() and report.removed_temps == 1  # its writer is gone: no grace needed
    assert not any(db.files.rglob(f"{orphan_sha}.*"))
    check = db.check(grace_s=0)
    assert check.ok and check.temp_files == 0 and check.orphan_files == ()
    assert db.recover() == type(report)()  # a second recovery finds nothing left to do


def test_runs_of_live_processes_are_never_touched(lab):
    db, session, student = lab
    mine = db.start_run(student.id, config={})  # this process: alive
    other_host = db.start_run(session, config={})
    db._conn().execute("UPDATE runs SET runner = 'another-server:1:1' WHERE id = ?", (other_host,))
    assert db.recover().interrupted_runs == ()
    assert [(r.id, r.status) for r in db.list_runs(session)] == [(mine, "running"), (other_host, "running")]


def test_a_reused_pid_or_a_run_without_runner_counts_as_dead(lab):
    db, session, student = lab
    reused = db.start_run(student.id, config={})
    # The same pid, but a different start time: the process that started the run is gone.
    runner = f"{platform.node()}:{os.getpid()}:1"
    db._conn().execute("UPDATE runs SET runner = ? WHERE id = ?", (runner, reused))
    legacy = db.start_run(student.id, config={})
    db._conn().execute("UPDATE runs SET runner = NULL WHERE id = ?", (legacy,))
    done = db.start_run(student.id, config={})
    db.finish_run(student.id, done, metrics={"accuracy": 0.5})
    assert set(db.recover().interrupted_runs) == {reused, legacy}
    assert db.run(student.id, done).status == "done"  # finished runs are history, left alone


def test_removing_an_orphan_mid_upload_loses_nothing(lab):
    """A concurrent recovery may delete a file whose row is not committed yet: the upload rewrites it."""
    from edu_core.faces import FaceResult

    db, _, student = lab
    data = b"\x89PNG\r\n\x1a\n" + b"photo" * 50
    sha = hashlib.sha256(data).hexdigest()
    db._write_file(sha, "png", data)  # first half of add_image: the file, before the lock
    assert db.recover().removed_orphans == (f"{sha}.png",)
    face = FaceResult(status="rejected", reason="unreadable")
    rec = db.add_image(student.id, data, filename="a.png", source="upload", face=face)
    assert db.original_bytes(student.id, rec.id) == data
    assert db.check(grace_s=0).ok


def test_old_parts_of_unknown_writers_wait_for_the_grace(lab):
    db, _, _ = lab
    fresh = db.files / "tmp" / "abc.0123456789ab.part"  # an older name without the writer's pid
    fresh.write_bytes(b"x")
    assert db.recover().removed_temps == 0 and fresh.exists()
    old = time.time() - 3600
    os.utime(fresh, (old, old))
    assert db.recover().removed_temps == 1 and not fresh.exists()


def test_version_1_database_is_upgraded_and_its_stuck_runs_recovered(tmp_path):
    db = open_store(tmp_path / "lab", FAST)
    klass, _ = db.create_class("6-1", "4321")
    student = db.join(klass.id, "곰")
    run_id = db.start_run(student.id, config={})
    db.close()
    conn = sqlite3.connect(tmp_path / "lab" / "lab.sqlite3")
    conn.execute("ALTER TABLE runs DROP COLUMN runner")  # what a version-1 store looked like
    conn.execute("DROP TABLE kept_faces")  # (added by version 3)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    db = open_store(tmp_path / "lab", FAST)
    assert db.schema_version() == SCHEMA_VERSION
    assert db.recover().interrupted_runs == (run_id,)
    assert json.loads(db._read("SELECT metrics FROM runs")[0][0]) == {"error": "training_interrupted"}
