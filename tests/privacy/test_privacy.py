"""Privacy and access (issue 9): one student never reaches another's photos, teacher actions need
the PIN, "delete" really removes files, and no file name can write outside the data folder.

Everything is real: the app through AppTest, a real SQLite store and real files in a tmp folder.
Student B's photos and crops are pure magenta, so a leak is caught even after resizing or
re-encoding: every picture student A's browser receives is decoded and checked for magenta.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path

import pytest
from privacy_world import (
    B_MODEL,
    PAGES,
    ROOT,
    TEACHER_PASSWORD,
    World,
    assert_nothing_of_b,
    hostile_params,
    magenta_share,
    open_page,
)
from streamlit.testing.v1 import AppTest

from edu_core.errors import EduError
from edu_core.i18n import reason_message, t

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def test_student_a_never_sees_b_through_any_page_or_url_parameter(world, media):
    from webui import resources

    hostile = hostile_params(world)
    for page in PAGES:
        for params in hostile:
            resources._resume_failures.clear()
            media.clear()
            at = open_page(page, params)
            assert_nothing_of_b(at, world, media, f"{page} {sorted(params)} s={params['s'][:20]}")
            if params["s"] == world.a.resume_code:
                assert at.session_state["student_id"] == world.a.id  # A's own workspace did open
            else:
                assert "student_id" not in at.session_state  # no stranger's code opens a workspace
    # A as the teacher, without the password: the teacher page shows only the password box.
    media.clear()
    at = open_page("teacher", {"s": world.a.resume_code}, {"mode": "teacher"})
    assert_nothing_of_b(at, world, media, "teacher mode without password")
    assert "teacher_session" not in at.session_state
    assert at.text_input(key="teacher_password") is not None
    assert not [w for w in at.text_input if w.key == "login_pin"]


def test_collect_and_label_pages_show_a_her_own_photos(world, media):
    """The check above is not vacuous: A's own pictures do reach A's browser."""
    at = open_page("collect", {"s": world.a.resume_code})
    assert_nothing_of_b(at, world, media, "collect")
    pictures = [d for d, mime in media if mime.startswith("image/")]
    assert len(pictures) >= len(world.a_images)
    # And B's own session does get the magenta crops, so the detector would see a leak.
    media.clear()
    at = open_page("collect", {"s": world.b.resume_code})
    assert any(magenta_share(d) > 0.5 for d, _ in media)


def test_store_refuses_every_b_object_to_a(world):
    from edu_core import photosets

    db, a, b = world.db, world.a.id, world.b.id
    img = world.b_images[0]
    calls = {
        "image": lambda: db.image(a, img),
        "original_bytes": lambda: db.original_bytes(a, img),
        "crop_bytes": lambda: db.crop_bytes(a, img),
        "face": lambda: db.face(img, a),
        "faces": lambda: db.faces(a, [world.a_images[0], img]),
        "label_history": lambda: db.label_history(a, img),
        "set_label": lambda: db.set_label(a, img, "anger"),
        "set_labels": lambda: db.set_labels(a, {img: None}),
        "delete_image": lambda: db.delete_image(a, img),
        "save_split": lambda: db.save_split(a, [world.a_images[0], img], [], seed=0, test_ratio=0.2),
        "get_split": lambda: db.get_split(a, world.b_split),
        "model": lambda: db.model(a, world.b_model),
        "model_bytes": lambda: db.model_bytes(a, world.b_model),
        "model_path": lambda: db.model_path(a, world.b_model),
        "delete_model": lambda: db.delete_model(a, world.b_model),
        "run": lambda: db.run(a, world.b_run),
        "finish_run": lambda: db.finish_run(a, world.b_run, metrics={}),
        "start_run(split)": lambda: db.start_run(a, config={}, split_id=world.b_split),
        "start_run(model)": lambda: db.start_run(a, config={}, model_id=world.b_model),
        "teacher image": lambda: db.image(world.c.id, img),  # another class's student
    }
    for name, call in calls.items():
        with pytest.raises(EduError) as err:
            call()
        assert err.value.code in ("forbidden", "not_found"), name
    own_run = db.start_run(a, config={})
    with pytest.raises(EduError):
        db.finish_run(a, own_run, metrics={}, model_id=world.b_model)
    # Listing calls simply never include B's things.
    assert db.list_images(a, student_id=b) == []
    assert {r.id for r in db.list_images(a)} == set(world.a_images)
    assert db.list_models(a) == [] and all(r.student_id == a for r in db.list_runs(a))
    assert all(s.id != world.b_split for s in db.list_splits(a))
    export = photosets.export_zip(db, a, image_ids=world.b_images)
    with zipfile.ZipFile(io.BytesIO(export)) as zf:
        assert [n for n in zf.namelist() if n.startswith("images/")] == []
    # B's things are untouched by all of that.
    assert len(db.list_images(b)) == len(world.b_images)
    assert db.model(b, world.b_model).name == B_MODEL
    # A teacher of another class sees nothing of this class either.
    other = db.teacher_login(world.other_class.id, "8765")
    assert db.list_images(other) == []
    with pytest.raises(EduError):
        db.image(other, img)


# --- resume codes: guessing is braked -------------------------------------------------------------


def test_wrong_resume_codes_are_braked_per_session(world):
    from webui import session

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    form_input = next(ti for ti in at.text_input if ti.label == t("home.resume_code"))
    button = next(b for b in at.button if b.label == t("home.resume_button"))
    for k in range(session.RESUME_SESSION_TRIES):
        form_input.set_value(f"ZZZZZZ{k:02d}")
        button.click()
        at.run()
        assert reason_message("not_found") in [e.value for e in at.error]
        form_input = next(ti for ti in at.text_input if ti.label == t("home.resume_code"))
        button = next(b for b in at.button if b.label == t("home.resume_button"))
    form_input.set_value(world.a.resume_code)  # even the right code waits now
    button.click()
    at.run()
    assert not at.exception
    assert reason_message("resume_wait") in [e.value for e in at.error]
    assert "student_id" not in at.session_state
    # Another browser is not affected by this one's guesses.
    at2 = open_page("collect", {"s": world.a.resume_code})
    assert at2.session_state["student_id"] == world.a.id


def test_wrong_resume_codes_are_braked_across_the_server(world, monkeypatch):
    from webui import resources, session

    assert session.RESUME_SERVER_TRIES == 120
    monkeypatch.setattr(session, "RESUME_SERVER_TRIES", 8)  # the same brake, reached in fewer page loads
    for k in range(session.RESUME_SERVER_TRIES):  # a guesser opening a fresh tab for every try
        at = open_page("collect", {"s": f"QQQQQQ{k:02d}"})
        assert "student_id" not in at.session_state
    at = open_page("collect", {"s": world.a.resume_code})
    assert not at.exception
    assert "student_id" not in at.session_state
    assert reason_message("resume_wait") in [e.value for e in at.error]
    assert world.a.resume_code in str(at.query_params.get("s"))  # kept: it works again after the pause
    resources._resume_failures.clear()  # the minute passes
    at = open_page("collect", {"s": world.a.resume_code})
    assert at.session_state["student_id"] == world.a.id
    assert "1분" in reason_message("resume_wait", "ko")


# --- teacher: the PIN, and its lock ---------------------------------------------------------------


def _teacher_page() -> AppTest:
    """The teacher page past the server's teacher password: the class list and the PIN box."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("views/teacher.py").run()
    at.text_input(key="teacher_password").input(TEACHER_PASSWORD)
    return next(b for b in at.button if b.label == t("teacher.door_button")).click().run()


def _login(at: AppTest, pin: str) -> None:
    at.text_input(key="login_pin").input(pin)
    next(b for b in at.button if b.label == t("teacher.login_button")).click().run()


def test_five_wrong_pins_lock_the_class_even_for_the_right_pin(world):
    at = _teacher_page()
    for _ in range(4):
        _login(at, "0000")
        assert reason_message("bad_pin") in [e.value for e in at.error]
    _login(at, "0000")  # the fifth wrong PIN locks the class
    assert reason_message("bad_pin") in [e.value for e in at.error]
    _login(at, "4321")  # the right PIN during the lock is refused too
    assert not at.exception
    assert reason_message("pin_locked") in [e.value for e in at.error]
    assert "잠시 뒤에" in reason_message("pin_locked", "ko")
    assert "teacher_session" not in at.session_state
    # A fresh browser does not get around the lock: it is kept in the database.
    at = _teacher_page()
    _login(at, "4321")
    assert reason_message("pin_locked") in [e.value for e in at.error]
    # Once the lock has passed, the right PIN opens the class.
    with world.db._tx() as conn:
        conn.execute("UPDATE classes SET pin_locked_until = 0 WHERE id = ?", (world.klass.id,))
    _login(at, "4321")
    assert at.session_state["teacher_session"].class_id == world.klass.id


def test_teacher_actions_need_a_live_pin_session(world):
    from edu_core.store import TeacherSession

    db = world.db
    forged = TeacherSession(world.klass.id, "not-a-real-token", 9e18)
    for name, call in {
        "students": lambda: db.students(forged),
        "pool": lambda: db.pool(forged),
        "list_images": lambda: db.list_images(forged),
        "class_summary": lambda: db.class_summary(forged),
        "wipe_class": lambda: db.wipe_class(forged, keep_class=True),
        "set_retention": lambda: db.set_retention(forged, 3),
        "change_pin": lambda: db.change_pin(forged, "1111"),
        "rename_classes": lambda: db.rename_classes(forged, {"joy": "x"}),
        "make_split": lambda: db.make_split(forged),
        "add_model": lambda: db.add_model(forged, name="m", kind="pieces", labels=["joy"]),
    }.items():
        with pytest.raises(EduError) as err:
            call()
        assert err.value.code == "forbidden", name
    # A real session stops working at logout; a session of one class never opens another.
    session = db.teacher_login(world.klass.id, "4321")
    assert db.students(session)
    db.teacher_logout(session)
    with pytest.raises(EduError):
        db.students(session)
    other = db.teacher_login(world.other_class.id, "8765")
    with pytest.raises(EduError):
        db.students(dataclasses.replace(other, class_id=world.klass.id))
    assert len(db.list_images(world.b.id)) == len(world.b_images)  # nothing above touched a photo
    # In the app: teacher mode without the PIN session shows the gate only, on every teacher-only part.
    at = open_page("teacher", {}, {"mode": "teacher"})
    assert not at.exception and "teacher_session" not in at.session_state
    assert not any(b.label == t("teacher.wipe_button") for b in at.button)
    at = open_page("korean7", {}, {"mode": "teacher"})
    assert not at.exception
    assert t("k7.teacher_only") in [c.value for c in at.caption]
    assert not [ti for ti in at.text_input if ti.key == "k7_path"]


# --- delete: rows and files ------------------------------------------------------------------------


def _files(root: Path) -> set[Path]:
    return {p for p in (root / "files").rglob("*") if p.is_file() and p.parent.name != "tmp"}


def _student_files(world: World, sid: int) -> set[Path]:
    db = world.db
    paths = set()
    for rec in db.list_images(sid):
        paths.add(db.blob_path(rec.sha, rec.ext))
        if rec.crop_sha:
            paths.add(db.blob_path(rec.crop_sha, "png"))
    for m in db.list_models(sid):
        if m.file_sha:
            paths.add(db.blob_path(m.file_sha, "pt"))
    return paths


def test_delete_me_removes_the_students_files_from_disk(world):
    db = world.db
    b_paths, a_paths = _student_files(world, world.b.id), _student_files(world, world.a.id)
    assert b_paths and all(p.is_file() for p in b_paths) and not b_paths & a_paths
    # B also uploaded the very same file as one of A's photos: that file is A's too and stays.
    shared = db.image(world.a.id, world.a_images[0])
    db.add_image(world.b.id, db.original_bytes(world.a.id, shared.id), filename="copy.jpg", source="upload",
                 face=db.face(shared.id, world.a.id))  # fmt: skip
    at = open_page("home", {"s": world.b.resume_code})
    assert at.session_state["student_id"] == world.b.id
    at.checkbox(key="delete_me_ok").check().run()  # "yes, delete everything"
    at.button(key="delete_me").click().run()
    assert not at.exception
    assert t("home.deleted") in [s.value for s in at.success]
    assert "student_id" not in at.session_state and "s" not in at.query_params
    assert [p for p in b_paths if p.exists()] == []  # every photo, crop and model file of B
    assert all(p.is_file() for p in a_paths)  # A's stay, the shared one included
    assert db.original_bytes(world.a.id, shared.id) and db.crop_bytes(world.a.id, shared.id)
    with pytest.raises(EduError):
        db.student(world.b.id)
    for table in ("images", "models", "runs", "splits"):
        assert db._read(f"SELECT COUNT(*) FROM {table} WHERE student_id = ?", (world.b.id,))[0][0] == 0
    gone = db._read(
        f"SELECT COUNT(*) FROM label_events WHERE image_id IN ({','.join('?' * len(world.b_images))})",
        world.b_images,
    )[0][0]
    assert gone == 0
    report = db.check(grace_s=0)
    assert report.ok, report
    # B's resume code opens nothing any more.
    at = open_page("collect", {"s": world.b.resume_code})
    assert "student_id" not in at.session_state


def test_teacher_wipe_removes_every_photo_file_of_the_class_only(world):
    db = world.db
    class_paths = _student_files(world, world.a.id) | _student_files(world, world.b.id)
    class_photos = {p for p in class_paths if p.suffix != ".pt"}
    c_paths = _student_files(world, world.c.id)
    at = _teacher_page()
    _login(at, "4321")
    at.checkbox(key="wipe_ok").check().run()
    next(b for b in at.button if b.label == t("teacher.wipe_button")).click().run()
    assert not at.exception
    assert [p for p in class_photos if p.exists()] == []
    assert all(p.is_file() for p in c_paths)  # the other class keeps everything
    assert db._read("SELECT COUNT(*) FROM images WHERE class_id = ?", (world.klass.id,))[0][0] == 0
    face_rows = db._read("SELECT COUNT(*) FROM faces")[0][0]
    assert face_rows == len(db.list_images(world.c.id))  # face data (biometric) went with the photos
    report = db.check(grace_s=0)
    assert report.ok, report


# --- file names and zip members never escape the data folder ---------------------------------------
