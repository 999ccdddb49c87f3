"""AppTest for the teacher page: create a class, PIN login, overview, pooling, wiping, the join QR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from edu_core.i18n import reason_message, t

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


PASSWORD = "door-of-the-staff-room"


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    from webui import resources

    monkeypatch.setenv("EXPRESSION_LAB_DATA", str(tmp_path / "lab"))
    monkeypatch.setenv("EXPRESSION_LAB_TEACHER_PASSWORD", PASSWORD)
    resources._password_failures.clear()  # the server-wide brake is per process: start each test clean
    yield tmp_path / "lab"
    resources._password_failures.clear()


def _enter_password(at: AppTest, password: str) -> AppTest:
    at.text_input(key="teacher_password").input(password)
    return next(b for b in at.button if b.label == t("teacher.door_button")).click().run()


def _teacher_page(password: str | None = PASSWORD, **params: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(params)
    at.run()
    at.switch_page("views/teacher.py").run()
    return _enter_password(at, password) if password is not None else at


def _press(at: AppTest, key: str) -> AppTest:
    return next(b for b in at.button if b.label == t(key)).click().run()


def test_create_class_opens_teacher_mode_with_join_code_and_qr(data_dir):
    from edu_core.store import open_store

    at = _teacher_page()
    assert not at.exception
    assert at.selectbox(key="login_class").proto.placeholder == t("teacher.no_classes")  # not "No options"
    at.text_input(key="new_class_name").input("5학년 3반")
    at.text_input(key="new_pin").input("7777")
    _press(at, "teacher.create_button")
    assert not at.exception
    klass = open_store(data_dir).list_classes()[0]
    assert klass.name == "5학년 3반"
    headings = [m.value for m in at.markdown]
    assert any(t("teacher.join_code", code=klass.join_code) in h for h in headings)
    assert any(f"?join={klass.join_code}" in c.value for c in at.code)  # the link the QR code encodes
    assert len(at.image) >= 1  # the QR code
    assert at.session_state["teacher_session"].class_id == klass.id


def test_short_pin_and_wrong_pin_are_explained(data_dir):
    from edu_core.store import open_store

    at = _teacher_page()
    at.text_input(key="new_class_name").input("x")
    at.text_input(key="new_pin").input("12")
    _press(at, "teacher.create_button")
    assert reason_message("pin_too_short") in [e.value for e in at.error]

    open_store(data_dir).create_class("6-1", "4321")
    at = _teacher_page()
    at.text_input(key="login_pin").input("0000")
    _press(at, "teacher.login_button")
    assert not at.exception
    assert reason_message("bad_pin") in [e.value for e in at.error]
    at.text_input(key="login_pin").input("4321")
    _press(at, "teacher.login_button")
    assert any(t("teacher.join_code", code="")[:4] in m.value for m in at.markdown)


def test_overview_pool_and_wipe(data_dir):
    import face_variants as fv

    from edu_core import faces
    from edu_core.store import open_store

    db = open_store(data_dir)
    klass, _ = db.create_class("6-1", "4321")
    sharer = db.join(klass.id, "공유함")
    private = db.join(klass.id, "비공개")
    db.set_pool_consent(sharer.id, True)
    data = fv.to_jpeg(fv.astronaut())
    face = faces.extract(data)
    for sid in (sharer.id, private.id):
        db.add_image(sid, data, filename="a.jpg", source="upload", face=face, label="joy")

    at = _teacher_page()
    at.text_input(key="login_pin").input("4321")
    _press(at, "teacher.login_button")
    assert not at.exception
    shown = "\n".join(m.value for m in at.markdown)
    assert t("teacher.summary", students=2, sharing=1, images=2, accepted=2, rejected=0) in shown
    assert any(
        "공유함" in w.value and "비공개" not in w.value for w in at.warning
    )  # stuck, and only the sharer named
    assert t("teacher.pool", n=1) in shown
    assert not any(b.label == t("teacher.train_class") for b in at.button)  # nothing pooled and split yet

    # the retention button names what it does; "saved" appears only once something was saved
    assert at.button(key="save_retention").label == t("teacher.retention_button")
    assert not [s for s in at.success if s.value == t("common.saved")]
    at.number_input(key="retention_days").set_value(30).run()
    at.button(key="save_retention").click().run()
    assert t("teacher.retention_saved", days=30) in [s.value for s in at.success]
    assert db.get_class(klass.id).retention_days == 30

    at.checkbox(key="wipe_ok").check().run()
    next(b for b in at.button if b.label == t("teacher.wipe_button")).click().run()
    assert not at.exception
    assert db.list_images(sharer.id) == [] and db.list_images(private.id) == []
    assert t("teacher.wiped", n=2) in [s.value for s in at.success]  # a sentence, not a bare "(2)"
    assert db.get_class(klass.id).name == "6-1"  # the class itself stays for the next lesson


def _as_teacher(data_dir: Path, *, pin: str = "4321") -> tuple[AppTest, object, object]:
    """The teacher page of a new class, opened by a browser already in teacher mode."""
    from edu_core.store import open_store

    db = open_store(data_dir)
    klass, session = db.create_class("6-2", pin)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["teacher_session"] = session
    at.session_state["mode"] = "teacher"
    at.run()
    return at, db, session


def _shown(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.success] + [e.value for e in at.caption]
    parts += [e.value for e in at.warning] + [e.value for e in at.info] + [e.value for e in at.error]
    return "\n".join(str(p) for p in parts)


def test_pool_tab_shows_only_the_class_models_result(data_dir):
    at, db, session = _as_teacher(data_dir)
    student = db.join(session.class_id, "공유함")
    db.set_pool_consent(student.id, True)
    run = db.start_run(student.id, config={"kind": "cnn"})
    db.finish_run(student.id, run, metrics={"accuracy": 0.91, "history": []})
    at = at.switch_page("views/teacher.py").run()
    assert not at.exception
    assert t("train.done", acc=0.91) not in _shown(at)  # a student's CNN is not the class result
    run = db.start_run(session, config={"kind": "pieces"})
    db.finish_run(session, run, metrics={"accuracy": 0.55, "history": []})
    at.run()
    assert t("train.done", acc=0.55) in _shown(at)
    assert t("train.done", acc=0.91) not in _shown(at)


def test_overview_counts_accepted_and_rejected_apart(data_dir):
    import face_variants as fv

    from edu_core import faces

    at, db, session = _as_teacher(data_dir)
    student = db.join(session.class_id, "하나")
    good = fv.to_jpeg(fv.astronaut())
    face = faces.extract(good)
    db.add_image(student.id, good, filename="a.jpg", source="upload", face=face, label="joy")
    db.add_image(student.id, fv.with_orientation(3), filename="b.jpg", source="upload", face=face)  # no label
    masked = fv.mask()
    db.add_image(
        student.id, masked, filename="m.jpg", source="upload", face=faces.extract(masked), label="joy"
    )
    at = at.switch_page("views/teacher.py").run()
    assert not at.exception
    shown = _shown(at)
    assert t("teacher.summary", students=1, sharing=0, images=3, accepted=2, rejected=1) in shown
    chart = next(c for c in at.get("plotly_chart") if "class_counts" in c.proto.id)
    spec = json.loads(chart.proto.spec)
    assert t("teacher.class_counts", n=1) in json.dumps(spec["layout"]["title"], ensure_ascii=False)
    assert sum(sum(trace["y"]) for trace in spec["data"]) == 1  # the title's number is what is drawn


def _data_zip(data_dir: Path) -> bytes:
    """A data-set zip with two labelled photos, exported by a student of another class."""
    import face_variants as fv

    from edu_core import faces, photosets
    from edu_core.store import open_store

    db = open_store(data_dir)
    other, _ = db.create_class("other", "9999")
    sid = db.join(other.id, "보냄").id
    for name, data in (("a.jpg", fv.to_jpeg(fv.astronaut())), ("b.jpg", fv.with_orientation(6))):
        db.add_image(sid, data, filename=name, source="upload", face=faces.extract(data), label="joy")
    return photosets.export_zip(db, sid)


def _model_zip() -> bytes:
    import io
    import zipfile

    from edu_core import models
    from edu_core.labels import LESSON_CLASSES

    net = models.ExpressionModel("pieces", len(LESSON_CLASSES), pretrained=False)
    bundle = models.ModelBundle(model=net, kind="pieces", class_names=tuple(LESSON_CLASSES))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("model.pt", models.save_bundle(bundle))
    return buf.getvalue()


def _import(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="teacher_import").set_value((name, data, "application/zip"))
    at.run()
    return at.button(key="do_import").click().run()


def test_zip_import_shows_in_the_overview_at_once(data_dir):
    at, db, session = _as_teacher(data_dir)
    at = at.switch_page("views/teacher.py").run()
    assert t("teacher.summary", students=0, sharing=0, images=0, accepted=0, rejected=0) in _shown(at)
    at = _import(at, "data.zip", _data_zip(data_dir))
    assert not at.exception
    shown = _shown(at)
    assert t("teacher.import_done", n=2, skipped=0) in shown  # the message survives the rerun
    assert t("teacher.summary", students=1, sharing=1, images=2, accepted=2, rejected=0) in shown
    assert t("teacher.pool", n=2) in shown
    at.run()
    assert t("teacher.import_done", n=2, skipped=0) not in _shown(at)  # said once


def test_model_import_replaces_no_model_yet(data_dir):
    at, db, session = _as_teacher(data_dir)
    at = at.switch_page("views/teacher.py").run()
    assert t("teacher.no_model") in _shown(at)
    at = _import(at, "class-model.zip", _model_zip())
    assert not at.exception
    shown = _shown(at)
    assert t("teacher.import_model_done", name="class-model") in shown
    assert t("teacher.no_model") not in shown
    assert any(b.label == t("teacher.export_model") for b in at.get("download_button"))


def test_student_models_are_not_the_class_model(data_dir):
    at, db, session = _as_teacher(data_dir)
    student = db.join(session.class_id, "혼자")
    db.add_model(student.id, name="mine", kind="pieces", labels=("joy", "anger"))
    at = at.switch_page("views/teacher.py").run()
    assert t("teacher.no_model") in _shown(at)


def test_wipe_empties_the_overview_in_the_same_click(data_dir):
    import face_variants as fv

    from edu_core import faces

    at, db, session = _as_teacher(data_dir)
    student = db.join(session.class_id, "하나")
    data = fv.to_jpeg(fv.astronaut())
    db.add_image(student.id, data, filename="a.jpg", source="upload", face=faces.extract(data), label="joy")
    at = at.switch_page("views/teacher.py").run()
    assert t("teacher.summary", students=1, sharing=0, images=1, accepted=1, rejected=0) in _shown(at)
    at.checkbox(key="wipe_ok").check().run()
    next(b for b in at.button if b.label == t("teacher.wipe_button")).click().run()
    assert not at.exception
    shown = _shown(at)
    assert t("teacher.wiped", n=1) in shown
    assert t("teacher.summary", students=1, sharing=0, images=0, accepted=0, rejected=0) in shown
    assert not at.checkbox(key="wipe_ok").value  # the next wipe needs a fresh tick


def _everything_shown(at: AppTest) -> str:
    """Every text the page (main area and sidebar) hands to the browser, widget options included."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "code", "info", "error", "warning", "success", "subheader", "title"):
        parts += [str(e.value) for e in at.get(kind)]
    for box in (*at.selectbox, *at.radio, *at.multiselect):
        parts += [str(o) for o in box.options]
    parts += [str(w.label) for w in (*at.text_input, *at.button, *at.selectbox)]
    return "\n".join(parts)


def test_every_teacher_action_needs_the_server_password(data_dir):
    from edu_core.store import open_store

    db = open_store(data_dir)
    klass, _ = db.create_class("6-1 비밀반", "4321")
    kid = db.join(klass.id, "여우")
    for params in ({}, {"s": kid.resume_code}, {"mode": "teacher"}):
        at = _teacher_page(password=None, **params)
        assert not at.exception
        shown = _everything_shown(at)
        assert klass.join_code not in shown  # not even the student's own class code
        assert "6-1 비밀반" not in shown.replace("여우 · 6-1 비밀반", "")  # no class is listed
        keys = {w.key for w in (*at.text_input, *at.selectbox, *at.button, *at.checkbox)}
        assert keys.isdisjoint({"new_class_name", "new_pin", "login_class", "login_pin", "wipe_ok"})
        assert "teacher_session" not in at.session_state

    # The teacher-only parts of other pages stay shut too: renaming the expressions, the 7-class set-up.
    for page in ("views/label.py", "views/korean7.py"):
        other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        other.query_params.update({"s": kid.resume_code, "mode": "teacher"})
        other.run()
        other.switch_page(page).run()
        assert not other.exception
        keys = {w.key or "" for w in (*other.text_input, *other.button, *other.file_uploader)}
        assert not {k for k in keys if k.startswith(("rename_", "k7_path", "k7_load", "k7_upload"))}, page

    _enter_password(at, "not-the-password")
    assert reason_message("bad_password") in [e.value for e in at.error]
    assert not any(w.key == "new_class_name" for w in at.text_input)
    assert at.sidebar.info and t("sidebar.teacher_hint") in [i.value for i in at.sidebar.info]

    _enter_password(at, PASSWORD)  # the door opens: creating and opening classes, but no class yet
    assert not at.exception and "teacher_session" not in at.session_state
    assert klass.join_code not in _everything_shown(at)  # the list names classes, not their codes
    assert any("6-1 비밀반" in o for o in at.selectbox(key="login_class").options)
    at.text_input(key="login_pin").input("0000")
    _press(at, "teacher.login_button")
    assert (
        reason_message("bad_pin") in [e.value for e in at.error] and "teacher_session" not in at.session_state
    )
    at.text_input(key="login_pin").input("4321")
    _press(at, "teacher.login_button")
    assert at.session_state["teacher_session"].class_id == klass.id
    assert any(t("teacher.join_code", code=klass.join_code) in m.value for m in at.markdown)

    _press(at, "teacher.logout")  # logging out closes the door too
    assert at.text_input(key="teacher_password") is not None
    assert klass.join_code not in _everything_shown(at)


def test_wrong_passwords_are_braked_per_browser_and_per_server(data_dir, monkeypatch):
    from webui import resources, teacher

    at = _teacher_page(password=None)
    for _ in range(teacher.PASSWORD_SESSION_TRIES):
        _enter_password(at, "guess-guess")
        assert reason_message("bad_password") in [e.value for e in at.error]
    _enter_password(at, PASSWORD)  # even the right one waits for the minute
    assert reason_message("password_wait") in [e.value for e in at.error]
    assert not any(w.key == "new_class_name" for w in at.text_input)

    resources._password_failures.clear()
    monkeypatch.setattr(teacher, "PASSWORD_SERVER_TRIES", 3)
    for _ in range(3):  # a guesser opening a fresh tab for every try
        _teacher_page("guess-guess")
    at = _teacher_page(PASSWORD)
    assert reason_message("password_wait") in [e.value for e in at.error]
    resources._password_failures.clear()  # the minute passes
    at = _teacher_page(PASSWORD)
    assert not at.error and at.text_input(key="new_class_name") is not None


def test_first_start_makes_a_password_and_a_reset_closes_open_teacher_pages(data_dir, monkeypatch, capsys):
    from edu_core.store import open_store
    from edu_core.store.cli import main
    from webui import resources

    monkeypatch.delenv("EXPRESSION_LAB_TEACHER_PASSWORD")
    db = open_store(data_dir)
    klass, _ = db.create_class("6-1", "4321")
    resources._store_at.clear()  # a fresh server
    at = _teacher_page(password=None)
    printed = capsys.readouterr().out
    password = next(line.split(": ", 1)[1] for line in printed.splitlines() if "Teacher password" in line)
    stored = (data_dir / "teacher_password.json").read_text()
    assert password not in stored and db.check_teacher_password(password)  # only a hash is kept
    _enter_password(at, password)
    at.text_input(key="login_pin").input("4321")
    _press(at, "teacher.login_button")
    assert at.session_state["teacher_session"].class_id == klass.id

    resources._store_at.clear()  # the next start prints no password again
    _teacher_page(password=None)
    again = capsys.readouterr().out
    assert password not in again and "teacher-password --reset" in again

    assert main(["--root", str(data_dir), "--json", "teacher-password", "--reset"]) == 0
    new = json.loads(capsys.readouterr().out)["teacher_password"]
    assert new != password and db.check_teacher_password(new) and not db.check_teacher_password(password)
    at.run()  # the open teacher page (same browser session) is closed by the reset
    assert "teacher_session" not in at.session_state
    assert at.text_input(key="teacher_password") is not None and klass.join_code not in _everything_shown(at)
    _enter_password(at, password)
    assert reason_message("bad_password") in [e.value for e in at.error]


def test_a_data_folder_that_cannot_keep_a_password_still_serves_students(data_dir, monkeypatch, capsys):
    from edu_core.store import StorageFull, Store
    from webui import resources

    def full(self):
        raise StorageFull(detail="no space left")

    monkeypatch.delenv("EXPRESSION_LAB_TEACHER_PASSWORD")
    monkeypatch.setattr(Store, "ensure_teacher_password", full)
    resources._store_at.clear()  # a fresh server start on a full disk
    home = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not home.exception and not home.error  # the start page works
    assert "could not be stored (disk_full)" in capsys.readouterr().out
    at = _teacher_page("anything")
    assert reason_message("no_teacher_password") in [e.value for e in at.error]
    assert not any(w.key == "new_class_name" for w in at.text_input)
    resources._store_at.clear()


def test_overview_counts_kept_photos_per_reason_and_the_teacher_accepts_them(data_dir):
    """Issue 15.9: kept photos are counted per rejection reason and join the pool once accepted."""
    import face_variants as fv

    from edu_core import faces, kept
    from edu_core.store import open_store

    at = _teacher_page()
    at.text_input(key="new_class_name").input("6-3")
    at.text_input(key="new_pin").input("7777")
    at.button[0].click().run()
    db = open_store(data_dir)
    session = at.session_state["teacher_session"]
    student = db.join(session.class_id, "여우")
    db.set_pool_consent(student.id, True)
    data = fv.mask()
    rec = db.add_image(
        student.id, data, filename="m.jpg", source="upload", face=faces.extract(data), label="joy"
    )
    assert rec.reason == "occluded_mouth"
    with faces.Landmarker() as lm:
        db.keep_rejected(student.id, rec.id, kept.cut_anyway(data, lm))
    assert db.pool(session) == []
    at.run()
    assert not at.exception
    row = t(
        "teacher.kept_row",
        reason="occluded_mouth",
        message=reason_message("occluded_mouth"),
        kept=1,
        accepted=0,
    )
    assert row in [m.value for m in at.markdown]
    at.button(key="accept_kept").click().run()
    assert not at.exception
    assert [r.id for r in db.pool(session)] == [rec.id]
    done = t(
        "teacher.kept_row",
        reason="occluded_mouth",
        message=reason_message("occluded_mouth"),
        kept=1,
        accepted=1,
    )
    assert done in [m.value for m in at.markdown]


def test_overview_shows_keep_rate_and_class_model_accuracy_per_group_as_counts_only(data_dir):
    """Issue 13.5: per group the gate's keep rate (every student, numbers only) and the class
    model's accuracy (its test photos: sharing students); no photo or name of a student who
    does not share reaches the page."""
    import face_variants as fv

    from edu_core import faces
    from edu_core.store import NewImage, open_store

    at = _teacher_page()
    at.text_input(key="new_class_name").input("6-4")
    at.text_input(key="new_pin").input("7777")
    at.button[0].click().run()
    db = open_store(data_dir)
    session = at.session_state["teacher_session"]
    assert t("fair.teacher_none") in _shown(at)
    images_before = len(at.image)  # the join QR code

    good, masked = fv.to_jpeg(fv.astronaut()), fv.mask()
    ok_face, bad_face = faces.extract(good), faces.extract(masked)
    sharer, private = db.join(session.class_id, "공유"), db.join(session.class_id, "비공개")
    db.set_pool_consent(sharer.id, True)
    shared = db.add_images(
        sharer.id,
        [
            NewImage(good, "shared-a.jpg", "upload", ok_face, group="안경", label="joy"),
            NewImage(fv.with_orientation(3), "shared-b.jpg", "upload", ok_face, group="안경", label="joy"),
            NewImage(masked, "shared-m.jpg", "upload", bad_face, group="안경", label="joy"),
        ],
    )
    secret = db.add_images(
        private.id,
        [
            NewImage(
                fv.with_orientation(6), "secret-1.jpg", "upload", ok_face, group="안경 없음", label="joy"
            ),
            NewImage(fv.with_orientation(8), "secret-2.jpg", "upload", bad_face, group="안경 없음"),
        ],
    )
    run = db.start_run(session, config={"kind": "pieces"})
    # the class model's test: one shared photo right, one wrong; a private photo's id is never counted
    cells = [[[shared[0].id, secret[0].id], [shared[1].id]], [[], []]]
    db.finish_run(session, run, metrics={"accuracy": 0.5, "history": [], "confusion_ids": cells})
    at.run()
    assert not at.exception
    chart = next(c for c in at.get("plotly_chart") if "class_fairness" in c.proto.id)
    keep, acc = json.loads(chart.proto.spec)["data"]
    assert keep["x"] == ["안경", "안경 없음"]
    assert keep["text"] == ["2/3", "1/2"]  # every student's photos, as counts
    assert acc["text"] == ["1/2", "–"]  # the private student's test photo is not the teacher's to see
    shown = _everything_shown(at)
    assert t("fair.row", group="안경 없음", passed=1, photos=2, correct=0, tested=0) in shown
    assert "secret" not in shown and "secret" not in chart.proto.spec
    assert "비공개" not in shown  # nor the student's nickname
    assert len(at.image) == images_before  # counts only: no photo joined the page
    assert shared[2].status == "rejected" and secret[1].status == "rejected"
