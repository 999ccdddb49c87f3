"""A whole class writing at once, a killed process and a restart: nothing acknowledged is lost."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edu_core.faces import FaceResult
from edu_core.store import Store, StoreConfig

CLASSES = ["joy", "sadness", "surprise", "anger", "neutral"]
FAST = StoreConfig(scrypt_n=2**10)

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def tiny_face(seed: int) -> FaceResult:
    rng = np.random.default_rng(seed)
    return FaceResult(
        status="ok",
        crop=rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),
        landmarks=rng.random((478, 3), dtype=np.float32),
        blendshapes={"jawOpen": float(rng.random())},
        pose=(0.0, 0.0, 0.0),
    )


def photo(student: int, k: int) -> bytes:
    return b"\xff\xd8\xff\xe0" + f"{student}:{k}".encode() * 20


SHARED = [b"\xff\xd8\xff\xe0shared" + bytes([k]) * 50 for k in range(5)]


def test_thirty_students_writing_and_relabelling_at_once(tmp_path: Path) -> None:
    """30 threads (the class) each add 60 photos and relabel them, on one store object.

    Five photos are uploaded by every student (same bytes, stored once) and some
    students delete and re-add them while others upload them, which races the
    garbage collector against uploads of the same file.
    """
    store = Store(tmp_path / "data", FAST)
    klass, _ = store.create_class("class", "1234")
    students = [store.join(klass.id, f"s{i}") for i in range(30)]
    errors: list[BaseException] = []
    expected: dict[int, dict[bytes, str]] = {}
    start = threading.Barrier(len(students))

    def work(index: int, student_id: int) -> None:
        rng = random.Random(index)
        mine: dict[bytes, str] = {}
        try:
            start.wait()
            batch: dict[int, str] = {}
            for k in range(60):
                data = SHARED[k] if k < len(SHARED) else photo(index, k)
                rec = store.add_image(
                    student_id,
                    data,
                    filename=f"{k}.jpg",
                    source="upload",
                    face=tiny_face(k),
                    label=CLASSES[k % 5],
                )
                new = rng.choice(CLASSES)
                batch[rec.id] = new
                mine[data] = new
                if len(batch) == 10:
                    store.set_labels(student_id, batch)
                    batch = {}
                if index % 3 == 0 and k == 30:
                    # Delete a shared photo while the others are still uploading it, then re-add it.
                    shared = [r for r in store.list_images(student_id) if r.filename == "0.jpg"][0]
                    store.delete_image(student_id, shared.id)
                    again = store.add_image(
                        student_id, SHARED[0], filename="0.jpg", source="upload", face=tiny_face(0)
                    )
                    store.set_label(student_id, again.id, mine[SHARED[0]])
            store.set_labels(student_id, batch)
            expected[student_id] = mine
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, s.id)) for i, s in enumerate(students)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]

    fresh = Store(tmp_path / "data", FAST)
    total = 0
    for s in students:
        records = fresh.list_images(s.id)
        by_sha = {r.sha: r for r in records}
        assert len(records) == len(by_sha) == 60  # every photo exactly once
        for data, label in expected[s.id].items():
            rec = by_sha[hashlib.sha256(data).hexdigest()]
            assert rec.label == label
            assert fresh.original_bytes(s.id, rec.id) == data
        total += len(records)
    assert total == 1800
    report = fresh.check(grace_s=0)
    assert report.ok, report  # integrity ok, no orphan files, no missing files
    # 55 own photos per student + 5 shared ones stored once; crops depend only on k here
    assert report.counts["blobs"] == 30 * 55 + 5 + 60
    assert fresh._read("SELECT COUNT(*) FROM trash")[0][0] == 0


WRITER = r"""
import sys, numpy as np
from pathlib import Path
from edu_core.store import Store, StoreConfig
from edu_core.faces import FaceResult
root, student, start, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
store = Store(root, StoreConfig(scrypt_n=2**10))
rng = np.random.default_rng(student)
k = start
while count < 0 or k < start + count:
    data = b"\xff\xd8\xff\xe0" + f"{student}:{k}".encode() * 20
    face = FaceResult(status="ok", crop=rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
                      landmarks=rng.random((478, 3), dtype=np.float32))
    rec = store.add_image(student, data, filename=f"{k}.jpg", source="camera", face=face, label="joy")
    store.set_label(student, rec.id, "anger" if k % 2 else "joy")
    print(rec.id, rec.sha, flush=True)  # acknowledged: only printed after commit
    k += 1
"""


def _env() -> dict[str, str]:
    return dict(os.environ)


def test_processes_write_at_once_and_a_fresh_process_sees_everything(tmp_path: Path) -> None:
    root = tmp_path / "data"
    store = Store(root, FAST)
    klass, _ = store.create_class("procs", "1234")
    students = [store.join(klass.id, f"p{i}") for i in range(4)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(s.id), "0", "25"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for s in students
    ]
    acked = {}
    for s, p in zip(students, procs, strict=True):
        out, err = p.communicate(timeout=100)
        assert p.returncode == 0, err
        assert "locked" not in err
        acked[s.id] = {line.split()[1] for line in out.splitlines()}
        assert len(acked[s.id]) == 25
    reader = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, json; from pathlib import Path; from edu_core.store import Store;"
            "s = Store(Path(sys.argv[1]));"
            "print(json.dumps({i: [r.sha for r in s.list_images(int(i))] for i in sys.argv[2:]}))",
            str(root),
            *[str(s.id) for s in students],
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=True,
    )
    seen = json.loads(reader.stdout)
    for sid, shas in acked.items():
        assert sorted(seen[str(sid)]) == sorted(shas)
    assert store.check(grace_s=0).ok


def test_sigkill_mid_write_leaves_the_store_consistent(tmp_path: Path) -> None:
    root = tmp_path / "data"
    store = Store(root, FAST)
    klass, _ = store.create_class("kill", "1234")
    student = store.join(klass.id, "k")
    acked: set[str] = set()
    rng = random.Random(0)
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(student.id), str(round_ * 10_000), "-1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        assert proc.stdout is not None
        for _ in range(5 + round_ * 3):  # wait until some writes are acknowledged
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            acked.add(line.split()[1])
        time.sleep(rng.uniform(0.0, 0.05))  # land the kill somewhere inside the next write
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        acked.update(line.split()[1] for line in rest.splitlines() if len(line.split()) == 2)

        fresh = Store(root, FAST)
        report = fresh.check(grace_s=0)
        assert report.integrity == "ok" and not report.missing_files, report
        shas = {r.sha for r in fresh.list_images(student.id)}
        assert acked <= shas  # nothing acknowledged is lost
        # no half rows: every image has its blob, face data and a label event
        half = fresh._read(
            "SELECT COUNT(*) FROM images i LEFT JOIN faces f ON f.sha = i.sha "
            "LEFT JOIN blobs b ON b.sha = i.sha WHERE f.sha IS NULL OR b.sha IS NULL "
            "OR NOT EXISTS (SELECT 1 FROM label_events e WHERE e.image_id = i.id)"
        )[0][0]
        assert half == 0
        # A file written just before the kill may have no row yet: repair removes it.
        repaired = fresh.check(repair=True, grace_s=0)
        assert len(repaired.removed_orphans) <= 2
        assert fresh.check(grace_s=0).ok
