"""AppTest for the teacher page: create a class, PIN login, overview, pooling, wiping, the join QR."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from edu_core.i18n import reason_message, t

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(180)


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPRESSION_LAB_DATA", str(tmp_path / "lab"))
    return tmp_path / "lab"


def _teacher_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    return at.switch_page("views/teacher.py").run()


def test_create_class_opens_teacher_mode_with_join_code_and_qr(data_dir):
    from edu_core.store import open_store

    at = _teacher_page()
    assert not at.exception
    at.text_input(key="new_class_name").input("5학년 3반")
    at.text_input(key="new_pin").input("7777")
    at.button[0].click().run()  # the create form's submit button
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
    at.button[0].click().run()
    assert reason_message("pin_too_short") in [e.value for e in at.error]

    open_store(data_dir).create_class("6-1", "4321")
    at = _teacher_page()
    at.text_input(key="login_pin").input("0000")
    at.button[1].click().run()
    assert not at.exception
    assert reason_message("bad_pin") in [e.value for e in at.error]
    at.text_input(key="login_pin").input("4321")
    at.button[1].click().run()
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
    at.button[1].click().run()
    assert not at.exception
    shown = "\n".join(m.value for m in at.markdown)
    assert t("teacher.summary", students=2, sharing=1, images=2) in shown
    assert any(
        "공유함" in w.value and "비공개" not in w.value for w in at.warning
    )  # stuck, and only the sharer named
    assert t("teacher.pool", n=1) in shown
    assert not any(b.label == t("teacher.train_class") for b in at.button)  # nothing pooled and split yet

    at.checkbox(key="wipe_ok").check().run()
    next(b for b in at.button if b.label == t("teacher.wipe_button")).click().run()
    assert not at.exception
    assert db.list_images(sharer.id) == [] and db.list_images(private.id) == []
    assert db.get_class(klass.id).name == "6-1"  # the class itself stays for the next lesson


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
