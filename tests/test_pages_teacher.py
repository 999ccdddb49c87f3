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
    assert at.selectbox(key="login_class").proto.placeholder == t("teacher.no_classes")  # not "No options"
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
