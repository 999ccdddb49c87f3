"""The class data store: schema, PINs, privacy, labels, deletion, models and the CLI."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from edu_core import store as store_mod
from edu_core.faces import FaceResult
from edu_core.store import (
    CODE_ALPHABET,
    SCHEMA_VERSION,
    Forbidden,
    Store,
    StoreConfig,
    StoreError,
    TeacherSession,
    open_store,
)
from edu_core.store import cli as store_cli
from edu_core.store.db import _now, _translate

CLASSES = ["joy", "sadness", "surprise", "anger", "neutral"]
FAST = StoreConfig(scrypt_n=2**10, pin_max_failures=3, pin_lock_s=30.0)


def face(seed: int, status: str = "ok") -> FaceResult:
    rng = np.random.default_rng(seed)
    if status != "ok":
        return FaceResult(status="rejected", reason="occluded_mouth", detail="mask", image_size=(640, 480))
    return FaceResult(
        status="ok",
        image_size=(640, 480),
        box=(100, 80, 300, 320),
        crop_box=(60, 40, 340, 360),
        crop=rng.integers(0, 256, (256, 256, 3), dtype=np.uint8),
        landmarks=rng.random((478, 3), dtype=np.float32) * 256,
        blendshapes={f"shape{k}": float(rng.random()) for k in range(52)},
        pose=(3.5, -2.0, 1.25),
        quality={"sharpness": 40.0, "brightness": 120.0},
    )


def photo(k: int) -> bytes:
    return b"\xff\xd8\xff\xe0" + k.to_bytes(8, "little") * 16


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "data", FAST)


@pytest.fixture
def lesson(store: Store):
    klass, session = store.create_class("5학년 1반", "2468")
    a = store.join(klass.id, "민수")
    b = store.join(klass.id, "지영")
    return klass, session, a, b


def test_schema_pragmas_and_reopen(store: Store, tmp_path: Path) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    conn = sqlite3.connect(store.db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert store._conn().execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store._conn().execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    klass, _ = store.create_class("a", "1234")
    again = Store(tmp_path / "data", FAST)  # migrations run once; reopening keeps the data
    assert again.get_class(klass.id).name == "a"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path / "d", FAST)
    conn = sqlite3.connect(tmp_path / "d" / "lab.sqlite3")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError) as err:
        Store(tmp_path / "d", FAST)
    assert err.value.code == "schema_too_new"


def test_open_store_uses_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(store_mod.DATA_ENV, str(tmp_path / "elsewhere"))
    s = open_store()
    assert s.root == tmp_path / "elsewhere" and (tmp_path / "elsewhere" / "lab.sqlite3").is_file()
    monkeypatch.delenv(store_mod.DATA_ENV)
    assert store_mod.default_root() == store_mod.REPO_ROOT / "data"


def test_pin_is_hashed_and_rate_limited(store: Store) -> None:
    klass, session = store.create_class("pin", "8642")
    raw = store.db_path.read_bytes() + (store.db_path.parent / "lab.sqlite3-wal").read_bytes()
    assert b"8642" not in raw
    assert isinstance(store.teacher_login(klass.id, "8642"), TeacherSession)
    for _ in range(FAST.pin_max_failures):
        with pytest.raises(StoreError) as err:
            store.teacher_login(klass.id, "0000")
        assert err.value.code == "bad_pin"
    with pytest.raises(StoreError) as err:
        store.teacher_login(klass.id, "8642")  # even the right PIN waits out the lock
    assert err.value.code == "pin_locked"
    with pytest.raises(StoreError):
        store.create_class("short", "12")


def test_teacher_password_is_made_once_kept_as_a_hash_and_reset(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import stat

    monkeypatch.delenv(store_mod.TEACHER_PASSWORD_ENV, raising=False)
    assert store.teacher_password_source() is None and not store.check_teacher_password("")
    first = store.ensure_teacher_password()
    assert first and len(first) == 14 and set(first.replace("-", "")) <= set(CODE_ALPHABET)
    assert store.ensure_teacher_password() is None  # made once; only its hash is kept
    kept = store.teacher_password_file
    assert first not in kept.read_text() and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert store.check_teacher_password(first) and not store.check_teacher_password(first.lower())
    assert Store(store.root, FAST).check_teacher_password(first)  # another process reads the same file
    stamp = store.teacher_password_stamp()

    klass, session = store.create_class("door", "2468")
    assert store.session_alive(session)
    root = ["--root", str(store.root), "--json"]
    assert store_cli.main([*root, "teacher-password"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == str(kept)
    assert store_cli.main([*root, "teacher-password", "--reset"]) == 0
    new = json.loads(capsys.readouterr().out)["teacher_password"]
    assert store.check_teacher_password(new) and not store.check_teacher_password(first)
    assert store.teacher_password_stamp() != stamp
    assert not store.session_alive(session)  # a reset ends every open teacher session

    monkeypatch.setattr("sys.stdin", io.StringIO("chosen by me\n"))
    assert store_cli.main([*root, "teacher-password", "--set"]) == 0
    assert store.check_teacher_password("chosen by me")
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert store_cli.main([*root, "teacher-password", "--set"]) == 2
    assert json.loads(capsys.readouterr().out)["error"] == "password_too_short"
    assert store.check_teacher_password("chosen by me")  # a refused one changes nothing

    monkeypatch.setenv(store_mod.TEACHER_PASSWORD_ENV, "from the environment")
    assert store.teacher_password_source() == "env" and store.ensure_teacher_password() is None
    assert store.check_teacher_password("from the environment")
    assert not store.check_teacher_password("chosen by me")  # the variable wins over the stored one


def test_teacher_session_must_be_real(store: Store, lesson) -> None:
    klass, session, a, _ = lesson
    forged = TeacherSession(klass.id, "made-up-token", session.expires_at)
    with pytest.raises(Forbidden):
        store.pool(forged)
    other, other_session = store.create_class("other", "1357")
    with pytest.raises(Forbidden):
        store.pool(TeacherSession(klass.id, other_session.token, other_session.expires_at))
    store.teacher_logout(session)
    with pytest.raises(Forbidden):
        store.class_summary(session)


def test_resume_codes(store: Store, lesson) -> None:
    klass, _, a, b = lesson
    assert len(a.resume_code) == 8 and set(a.resume_code) <= set(CODE_ALPHABET)
    assert a.resume_code != b.resume_code
    assert store.resume(a.resume_code.lower()).id == a.id
    assert store.resume(f"{a.resume_code[:4]}-{a.resume_code[4:]}").id == a.id
    with pytest.raises(StoreError) as err:
        store.resume("AAAAAAAA")
    assert err.value.code == "not_found"
    assert store.find_class(klass.join_code.lower()).id == klass.id


def test_add_image_round_trips_the_face_and_dedups(store: Store, lesson) -> None:
    _, _, a, b = lesson
    f = face(1)
    rec = store.add_image(a.id, photo(1), filename="smile.jpg", source="camera", face=f, label="기쁨")
    assert rec.label == "joy" and rec.status == "ok" and rec.ext == "jpg" and rec.source == "camera"
    back = store.face(rec.id, a.id)
    assert np.array_equal(back.crop, f.crop)
    assert back.landmarks.dtype == np.float32 and np.array_equal(back.landmarks, f.landmarks)
    assert back.blendshapes == f.blendshapes and back.pose == f.pose and back.box == f.box
    assert back.crop_box == f.crop_box and back.image_size == f.image_size and back.quality == f.quality
    assert store.original_bytes(a.id, rec.id) == photo(1)
    same = store.add_image(a.id, photo(1), filename="again.jpg", source="upload", face=f, label="joy")
    assert same.id == rec.id and len(store.list_images(a.id)) == 1
    # Another student uploading the same photo gets their own row but no second file.
    theirs = store.add_image(b.id, photo(1), filename="b.jpg", source="upload", face=f)
    assert theirs.id != rec.id
    assert store.check(grace_s=0).counts["blobs"] == 2  # one original + one crop
    bad = store.add_image(a.id, photo(2), filename="mask.jpg", source="upload", face=face(2, "rejected"))
    assert bad.status == "rejected" and bad.reason == "occluded_mouth" and bad.crop_sha is None
    assert store.face(bad.id, a.id).crop is None
    assert [r.id for r in store.list_images(a.id, status="rejected")] == [bad.id]
    with pytest.raises(StoreError):
        store.add_image(a.id, photo(3), filename="x.jpg", source="upload", face=f, label="dog")
    with pytest.raises(ValueError):
        store.add_image(a.id, photo(3), filename="x.jpg", source="web", face=f)  # type: ignore[arg-type]


def test_students_never_see_each_others_photos(store: Store, lesson) -> None:
    _, session, a, b = lesson
    rec = store.add_image(a.id, photo(1), filename="a.jpg", source="upload", face=face(1), label="joy")
    for call in (
        lambda: store.image(b.id, rec.id),
        lambda: store.face(rec.id, b.id),
        lambda: store.original_bytes(b.id, rec.id),
        lambda: store.crop_bytes(b.id, rec.id),
        lambda: store.set_label(b.id, rec.id, "anger"),
        lambda: store.label_history(b.id, rec.id),
        lambda: store.delete_image(b.id, rec.id),
        lambda: store.faces(b.id, [rec.id]),
        lambda: store.save_split(b.id, [rec.id], [], seed=0, test_ratio=0.2),
    ):
        with pytest.raises(Forbidden):
            call()
    assert store.list_images(b.id) == []
    # The teacher sees a student's photos only after the student agrees to share.
    assert store.pool(session) == []
    with pytest.raises(Forbidden):
        store.face(rec.id, session)
    store.set_pool_consent(a.id, True)
    assert [r.id for r in store.pool(session)] == [rec.id]
    assert store.face(rec.id, session).ok
    store.set_pool_consent(a.id, False)
    assert store.pool(session) == []
    assert store.class_summary(session)["counts"]["joy"] == 1  # numbers only, no photos


def test_labels_history_and_injected_mislabels(store: Store, lesson) -> None:
    _, session, a, _ = lesson
    ids = [
        store.add_image(a.id, photo(k), filename=f"{k}.jpg", source="upload", face=face(k), label="anger").id
        for k in range(10)
    ]
    store.set_label(a.id, ids[0], "surprise")
    hist = store.label_history(a.id, ids[0])
    assert [(e.old_label, e.new_label) for e in hist] == [(None, "anger"), ("anger", "surprise")]
    assert hist[-1].actor == f"student:{a.id}"
    store.set_label(a.id, ids[0], "anger")
    flagged = store.inject_mislabels(a.id, "anger", 0.3, seed=1)
    assert len(flagged) == 3
    for rec in store.list_images(a.id):
        assert rec.injected == (rec.id in flagged)
        assert (rec.label != "anger") == (rec.id in flagged)
    assert store.label_history(a.id, flagged[0])[-1].injected
    assert store.revert_injected(a.id) == 3
    assert all(r.label == "anger" and not r.injected for r in store.list_images(a.id))
    assert store.counts(a.id)["anger"] == 10


def test_splits_are_saved_per_owner(store: Store, lesson) -> None:
    _, _, a, b = lesson
    for k in range(40):
        store.add_image(
            a.id, photo(k), filename=f"{k}.jpg", source="upload", face=face(k), label=CLASSES[k % 5]
        )
    split = store.make_split(a.id, test_ratio=0.2, seed=7)
    assert (len(split.train_ids), len(split.test_ids)) == (32, 8)
    assert store.get_split(a.id, split.id) == split
    assert store.make_split(a.id, test_ratio=0.2, seed=7).test_ids == split.test_ids
    with pytest.raises(Forbidden):
        store.get_split(b.id, split.id)
    store.delete_image(a.id, split.test_ids[0])
    assert len(store.get_split(a.id, split.id).test_ids) == 7
    assert [s.id for s in store.list_splits(a.id)] == [split.id, split.id + 1]


def test_person_keeping_split_groups_uploads_by_student_unless_tagged(store: Store, lesson) -> None:
    """Issue 15.11: every upload counted as its own person, so "keep each person on one side" did
    nothing for uploads. The default person is the student who uploaded the photo."""
    _, session, a, b = lesson
    ids = [
        store.add_image(
            a.id, photo(k), filename=f"{k}.jpg", source="upload", face=face(k), label=CLASSES[k % 5]
        ).id
        for k in range(20)
    ]
    for seed in range(3):
        split = store.make_split(a.id, test_ratio=0.2, seed=seed, by_person=True)
        assert split.test_ids == () and sorted(split.train_ids) == sorted(ids)  # one person: one side
    friend = ids[10:]
    store.set_person(a.id, friend, "  지 영 ")
    assert {store.image(a.id, i).person for i in friend} == {"지 영"}
    assert {store.image(a.id, i).person for i in ids[:10]} == {None}
    for seed in range(3):
        split = store.make_split(a.id, test_ratio=0.5, seed=seed, by_person=True)
        train, test = set(split.train_ids), set(split.test_ids)
        assert test and train and train | test == set(ids)
        # the two people land on different sides, each whole
        assert test in (set(friend), set(ids[:10])) and train in (set(friend), set(ids[:10]))
    store.set_person(a.id, friend[:2], "민수")  # the uploader's own nickname is the default person
    assert {store.image(a.id, i).person for i in friend[:2]} == {None}
    with pytest.raises(Forbidden):
        store.set_person(b.id, ids[:1], "x")  # only one's own photos
    # in the class pool, photos of two students are two people
    for k in range(20, 30):
        store.add_image(
            b.id, photo(k), filename=f"{k}.jpg", source="upload", face=face(k), label=CLASSES[k % 5]
        )
    store.set_pool_consent(a.id, True)
    store.set_pool_consent(b.id, True)
    store.set_person(a.id, friend, None)
    pooled = store.make_split(session, test_ratio=0.33, seed=0, by_person=True)
    owners = {store.image(session, i).student_id for i in pooled.test_ids}
    assert pooled.test_ids and len(owners) == 1


def test_kept_rejected_photos_are_flagged_counted_and_pooled_only_once_accepted(
    store: Store, lesson, tmp_path: Path
) -> None:
    """Issue 15.9: a rejected photo the student keeps is stored with a flag next to its reason; it
    serves the student's own model at once and the class pool only after the teacher accepts it."""
    _, session, a, b = lesson
    store.set_pool_consent(a.id, True)
    good = store.add_image(a.id, photo(1), filename="ok.jpg", source="upload", face=face(1), label="joy")
    bad = store.add_image(a.id, photo(2), filename="mask.jpg", source="upload", face=face(2, "rejected"))
    store.add_image(b.id, photo(2), filename="same.jpg", source="upload", face=face(2, "rejected"))
    store.set_label(a.id, bad.id, "anger")
    assert [r.id for r in store.pool(session)] == [good.id]
    cut = face(99)
    kept = store.keep_rejected(a.id, bad.id, cut)
    assert kept.kept and not kept.kept_accepted and kept.status == "ok" and kept.reason == "occluded_mouth"
    again = Store(tmp_path / "data", FAST)  # survives a restart: it is in the database
    assert again.image(a.id, bad.id).kept
    f = again.face(bad.id, a.id)
    assert f.ok and f.reason == "occluded_mouth" and np.array_equal(f.crop, cut.crop)
    np.testing.assert_allclose(f.landmarks, cut.landmarks)
    assert [r.id for r in again.list_images(a.id, status="ok", labelled=True)] == [good.id, bad.id]
    # the same bytes uploaded by another student stay rejected for that student
    assert [r.status for r in again.list_images(b.id)] == ["rejected"]
    assert [r.id for r in again.pool(session)] == [good.id]  # not in the class pool yet
    assert again.kept_summary(session) == {"occluded_mouth": {"kept": 1, "accepted": 0}}
    assert again.accept_kept(session) == 1
    assert [r.id for r in again.pool(session)] == [good.id, bad.id]
    assert again.kept_summary(session) == {"occluded_mouth": {"kept": 1, "accepted": 1}}
    assert again.check().ok
    with pytest.raises(Forbidden):
        again.keep_rejected(b.id, bad.id, cut)  # only one's own photos
    again.delete_image(a.id, bad.id)  # the kept crop goes with the photo
    assert again.kept_summary(session) == {}
    report = again.check()
    assert report.ok and not report.orphan_files


def test_delete_my_photos_removes_rows_and_files(store: Store, lesson) -> None:
    _, _, a, b = lesson
    mine = [
        store.add_image(a.id, photo(k), filename=f"{k}.jpg", source="upload", face=face(k), label="joy")
        for k in range(5)
    ]
    shared = store.add_image(b.id, photo(0), filename="same.jpg", source="upload", face=face(0))
    paths = [store.blob_path(r.sha, r.ext) for r in mine] + [store.blob_path(r.crop_sha, "png") for r in mine]
    assert all(p.is_file() for p in paths)
    assert store.delete_student_photos(a.id) == 5
    assert store.list_images(a.id) == []
    # photo 0 is still used by student b, so its file (and face data) stay.
    assert [p.is_file() for p in paths] == [
        True,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
        False,
        False,
    ]
    assert store.face(shared.id, b.id).ok
    rows = store._read("SELECT COUNT(*) FROM label_events")[0][0]
    assert rows == 0
    report = store.check(grace_s=0)
    assert report.ok and report.counts["images"] == 1 and report.counts["faces"] == 1


def test_wipe_class_and_retention(store: Store, lesson, tmp_path: Path) -> None:
    klass, session, a, b = lesson
    store.add_image(a.id, photo(1), filename="1.jpg", source="upload", face=face(1), label="joy")
    store.add_image(b.id, photo(2), filename="2.jpg", source="sample", face=face(2), label="joy")
    model = store.add_model(
        a.id, name="m", kind="pieces", labels=["joy", "anger"], file_bytes=b"weights" * 10
    )
    assert store.model_bytes(a.id, model.id) == b"weights" * 10
    store.set_retention(session, 7)
    assert store.apply_retention() == 0
    assert store.apply_retention(now=_now() + 8 * 86400) == 1  # samples are not personal data
    assert len(store.list_images(b.id)) == 1
    assert store.wipe_class(session, keep_class=True) == 1
    assert store.get_class(klass.id).name == klass.name
    store.wipe_class(session)
    with pytest.raises(StoreError):
        store.get_class(klass.id)
    report = store.check(grace_s=0)
    assert report.ok and report.counts["images"] == report.counts["students"] == report.counts["models"] == 0
    leftovers = [p for p in (store.files).rglob("*") if p.is_file() and p.parent.name != "tmp"]
    # only the sample's cached face (original + crop) is kept for the next lesson
    assert len(leftovers) == 2


def test_models_and_runs(store: Store, lesson) -> None:
    _, session, a, b = lesson
    run_id = store.start_run(a.id, config={"epochs": 3, "per_class": 20})
    model = store.add_model(a.id, name="20장", kind="cnn", labels=["joy", "anger"], config={"lr": 0.01},
                            file_bytes=b"\x00" * 100)  # fmt: skip
    run = store.finish_run(a.id, run_id, metrics={"accuracy": 0.75}, model_id=model.id)
    assert run.status == "done" and run.metrics == {"accuracy": 0.75} and run.model_id == model.id
    assert [m.id for m in store.list_models(a.id)] == [model.id]
    assert store.list_models(b.id) == [] and [m.id for m in store.list_models(session)] == [model.id]
    assert store.model_path(a.id, model.id).read_bytes() == b"\x00" * 100
    with pytest.raises(Forbidden):
        store.model_bytes(b.id, model.id)
    assert [r.id for r in store.list_runs(session)] == [run_id]
    store.delete_model(a.id, model.id)
    assert store.check(grace_s=0).counts["blobs"] == 0


def test_orphans_are_found_and_repaired(store: Store, lesson) -> None:
    _, _, a, _ = lesson
    rec = store.add_image(a.id, photo(1), filename="1.jpg", source="upload", face=face(1))
    stray = store.files / "ab" / ("ab" * 32 + ".jpg")
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"left by a killed upload")
    assert store.check().ok  # young files might be an upload in flight
    report = store.check(grace_s=0)
    assert not report.ok and report.orphan_files == (stray.name,)
    fixed = store.check(repair=True, grace_s=0)
    assert fixed.removed_orphans == (stray.name,) and not stray.exists()
    store.blob_path(rec.sha, rec.ext).unlink()
    assert store.check(grace_s=0).missing_files == (f"{rec.sha}.{rec.ext}",)


def _sqlite_error(conn: sqlite3.Connection, sql: str) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as err:
        conn.execute(sql)
    return err.value


def test_read_only_and_full_disk_reason_codes(store: Store, tmp_path: Path) -> None:
    assert _translate(OSError(28, "No space left")).code == "disk_full"
    assert _translate(OSError(30, "Read-only file system")).code == "read_only"
    # Real SQLite failures, told apart by their result code (sqlite_errorcode), not their text.
    full = sqlite3.connect(tmp_path / "full.sqlite3", isolation_level=None)
    full.execute("CREATE TABLE t(x BLOB)")
    full.execute("PRAGMA max_page_count = 3")
    assert _translate(_sqlite_error(full, "INSERT INTO t VALUES (zeroblob(100000))")).code == "disk_full"
    ro = sqlite3.connect(f"file:{tmp_path / 'full.sqlite3'}?mode=ro", uri=True)
    assert _translate(_sqlite_error(ro, "INSERT INTO t VALUES (1)")).code == "read_only"
    holder = sqlite3.connect(tmp_path / "busy.sqlite3", isolation_level=None)
    holder.execute("CREATE TABLE t(x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(tmp_path / "busy.sqlite3", timeout=0, isolation_level=None)
    assert _translate(_sqlite_error(waiter, "BEGIN IMMEDIATE")).code == "busy"
    (tmp_path / "junk.sqlite3").write_bytes(b"this is not a database file at all" * 100)
    junk = sqlite3.connect(tmp_path / "junk.sqlite3")
    assert _translate(_sqlite_error(junk, "SELECT * FROM sqlite_master")).code == "corrupt"
    unique = sqlite3.connect(":memory:")
    unique.execute("CREATE TABLE t(x UNIQUE)")
    unique.execute("INSERT INTO t VALUES (1)")
    assert _translate(_sqlite_error(unique, "INSERT INTO t VALUES (1)")).code == "store_error"
    for conn in (full, ro, holder, waiter, junk, unique):
        conn.close()


def test_a_taken_join_code_is_drawn_again(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # The UNIQUE violation is recognised by SQLite's result code, so the store retries instead of failing.
    codes = iter(["AAAAAA", "AAAAAA", "BBBBBB"])
    monkeypatch.setattr("edu_core.store.access._code", lambda length: next(codes))
    first, _ = store.create_class("a", "1234")
    second, _ = store.create_class("b", "1234")
    assert (first.join_code, second.join_code) == ("AAAAAA", "BBBBBB")


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = ["--root", str(tmp_path / "cli"), "--json"]
    assert store_cli.main([*root, "create-class", "--name", "3반", "--pin", "1234"]) == 0
    created = json.loads(capsys.readouterr().out)
    code = created["join_code"]
    assert created["labels"] == ["joy", "sadness", "surprise", "anger", "neutral"]
    folder = tmp_path / "photos" / "기쁨"
    folder.mkdir(parents=True)
    (folder / "a.jpg").write_bytes(photo(5))
    monkeypatch.setattr(
        "edu_core.photosets._default_extractor", lambda blobs, progress=None: [face(9) for _ in blobs]
    )
    assert store_cli.main([*root, "import", "--class", code, "--pin", "1234", str(tmp_path / "photos")]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert imported["imported"] == 1 and imported["counts"] == {"joy": 1}
    resume = imported["resume_code"]
    assert store_cli.main([*root, "counts", "--class", code, "--student", resume]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["joy"] == 1
    out = tmp_path / "set.zip"
    assert store_cli.main([*root, "export", "--class", code, "--student", resume, "--out", str(out)]) == 0
    assert out.is_file() and json.loads(capsys.readouterr().out)["bytes"] == out.stat().st_size
    assert store_cli.main([*root, "counts", "--class", code, "--pin", "9999"]) == 2
    assert json.loads(capsys.readouterr().out)["error"] == "bad_pin"
    assert store_cli.main([*root, "check"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert store_cli.main([*root, "wipe", "--class", code, "--pin", "1234"]) == 0
    assert json.loads(capsys.readouterr().out)["deleted_images"] == 1
    assert store_cli.main([*root, "list-classes"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_batch_add_dedups_within_the_batch(store: Store, lesson) -> None:
    _, _, a, _ = lesson
    photos = [
        store_mod.NewImage(photo(k % 3), f"{k}.jpg", "upload", face(k % 3), label=CLASSES[k % 3])
        for k in range(6)
    ]
    records = store.add_images(a.id, photos)
    assert [r.id for r in records[:3]] == [r.id for r in records[3:]]
    assert len(store.list_images(a.id)) == 3
    assert store.check(grace_s=0).ok


def test_full_disk_leaves_nothing_half_written(store: Store, lesson, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, a, _ = lesson
    store.add_image(a.id, photo(1), filename="1.jpg", source="upload", face=face(1), label="joy")

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StoreError) as err:
        store.add_image(a.id, photo(2), filename="2.jpg", source="upload", face=face(2), label="joy")
    assert err.value.code == "disk_full"
    monkeypatch.undo()
    assert len(store.list_images(a.id)) == 1
    assert not any((store.files / "tmp").iterdir())
    assert store.check(grace_s=0).ok


def test_recent_label_events_are_the_viewers_newest_first(tmp_path):
    store = Store(tmp_path / "d", FAST)
    klass, _ = store.create_class("c", "1234")
    a, b = store.join(klass.id, "a"), store.join(klass.id, "b")
    mine = [
        store.add_image(a.id, photo(i), filename=f"a{i}.jpg", source="upload", face=face(i)) for i in range(3)
    ]
    theirs = store.add_image(b.id, photo(9), filename="b.jpg", source="upload", face=face(9))
    store.set_label(a.id, mine[0].id, "joy")
    store.set_label(b.id, theirs.id, "anger")
    store.set_label(a.id, mine[2].id, "sadness")
    store.set_label(a.id, mine[0].id, "neutral")
    events = store.recent_label_events(a.id, limit=2)
    assert [(e.image_id, e.new_label) for e in events] == [(mine[0].id, "neutral"), (mine[2].id, "sadness")]
    assert all(e.image_id != theirs.id for e in store.recent_label_events(a.id, limit=50))
    assert [e.new_label for e in store.recent_label_events(b.id)] == ["anger"]


def test_start_alone_uses_a_practice_class_nobody_can_join_by_code_or_teach(store: Store) -> None:
    a = store.join_solo("혼자1")
    b = store.join_solo("혼자2")
    assert a.class_id == b.class_id == store.solo_class_id()
    for typed in ("solo", "SOLO", store_mod.SOLO_JOIN_CODE):
        with pytest.raises(StoreError):
            store.find_class(typed)
    for pin in ("", "0000", "solo", store_mod.SOLO_JOIN_CODE):
        with pytest.raises(StoreError) as err:
            store.teacher_login(a.class_id, pin)
        assert err.value.code in ("bad_pin", "pin_locked")
    image = store.add_image(a.id, photo(1), filename="a.jpg", source="upload", face=face(1))
    assert store.list_images(b.id) == [] and [r.id for r in store.list_images(a.id)] == [image.id]


def test_group_tags_count_every_students_photos_for_the_teacher(store: Store, lesson) -> None:
    """Issue 13.5: a group tag per photo, rejected ones included; the teacher gets counts only."""
    _, session, a, b = lesson
    ok = [
        store.add_image(a.id, photo(k), filename=f"{k}.jpg", source="upload", face=face(k)).id
        for k in range(3)
    ]
    bad = store.add_image(a.id, photo(9), filename="m.jpg", source="upload", face=face(9, "rejected")).id
    store.set_group(a.id, [*ok[:2], bad], "  안경  ")
    assert store.image(a.id, bad).group == "안경"  # a rejected photo takes a tag too
    assert store.class_groups(b.id) == ["안경"]  # the class's tags are offered to the next student
    with pytest.raises(Forbidden):
        store.set_group(b.id, ok[:1], "x")  # only one's own photos
    store.add_images(b.id, [store_mod.NewImage(photo(20), "b.jpg", "upload", face(20), group="안경 없음")])
    # b does not share: the counts still include b's photo, as numbers
    assert store.group_gate_counts(session) == {"안경": (3, 2), "안경 없음": (1, 1), None: (1, 1)}
    store.set_group(a.id, ok[:1], "")
    assert store.image(a.id, ok[0]).group is None
    assert store.group_gate_counts(session)["안경"] == (2, 1)
