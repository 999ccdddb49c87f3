"""AppTest for the start page and the address: language and mode survive a reload, starting alone,
deleting oneself (with a confirmation, leaving nothing on screen), the lesson map's first tick,
and deleting an accepted photo from the collect gallery."""

from __future__ import annotations

from pathlib import Path

import face_variants as fv
import pytest
from streamlit.testing.v1 import AppTest

from edu_core.errors import EduError
from edu_core.i18n import t

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


@pytest.fixture()
def lab(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPRESSION_LAB_DATA", str(tmp_path / "lab"))
    monkeypatch.setenv("EXPRESSION_LAB_TEACHER_PASSWORD", "staff-room-door")
    from edu_core.store import open_store

    db = open_store(tmp_path / "lab")
    klass, _ = db.create_class("6-1", "4321")
    return db, klass


def _open(page: str | None = None, **params: str) -> AppTest:
    """A new browser session (what a reload is) opening the address with these query parameters."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(params)
    at.run()
    return at.switch_page(page).run() if page else at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.warning] + [e.value for e in at.success]
    parts += [e.value for e in at.info] + [e.value for e in at.caption] + [s.value for s in at.subheader]
    return "\n".join(str(p) for p in parts)


def _button(at: AppTest, key: str):
    return next(b for b in at.button if b.label == t(key, at.session_state["lang"]))


def _ticks(at: AppTest) -> list[bool]:
    lg = at.session_state["lang"]
    rows = [m.value for m in at.markdown if any(t(f"home.chapter{i}", lg) in m.value for i in range(1, 6))]
    assert len(rows) == 5
    return [row.startswith("#### ✅") for row in rows]


def test_language_and_mode_stay_in_the_address_and_survive_a_reload(lab):
    at = _open()
    assert "lang" not in at.query_params and at.title[0].value == t("home.title", "ko")
    at.sidebar.segmented_control(key="lang").set_value("en").run()
    at.sidebar.radio(key="mode").set_value("teacher").run()
    assert (at.query_params.get("lang"), at.query_params.get("mode")) == ("en", "teacher")
    at.switch_page("views/collect.py").run()  # a page switch drops the parameters; they come back
    assert (at.query_params.get("lang"), at.query_params.get("mode")) == ("en", "teacher")

    reloaded = _open("views/collect.py", **dict(at.query_params))
    assert not reloaded.exception
    assert reloaded.title[0].value == t("collect.title", "en")
    assert reloaded.session_state["mode"] == "teacher"
    assert t("sidebar.teacher_hint", "en") in [i.value for i in reloaded.sidebar.info]

    reloaded.sidebar.segmented_control(key="lang").set_value("ko").run()  # back to the default
    reloaded.sidebar.radio(key="mode").set_value("student").run()
    assert "lang" not in reloaded.query_params and "mode" not in reloaded.query_params
    assert reloaded.title[0].value == t("collect.title", "ko")


def test_start_alone_makes_a_personal_workspace_outside_any_class(lab):
    db, klass = lab
    at = _open()
    at.text_input[3].input("연습생")  # the "start alone" form: a nickname, no class code
    _button(at, "home.solo_button").click().run()
    assert not at.exception
    code = at.query_params["s"]
    me = db.resume(code)
    assert me.nickname == "연습생" and me.class_id != klass.id
    assert t("home.joined", nickname="연습생") in _texts(at) and code in _texts(at)
    assert t("home.solo_note") in _texts(at)
    assert not [w for w in at.toggle if w.label == t("home.consent")]  # nobody to share with

    again = _open()  # a second student alone: the same practice class, still apart from each other
    again.text_input[3].input("두번째")
    _button(again, "home.solo_button").click().run()
    other = db.resume(again.query_params["s"])
    assert other.class_id == me.class_id and other.id != me.id

    teacher = _open("views/teacher.py")  # the practice class has no teacher: it is not offered
    teacher.text_input(key="teacher_password").input("staff-room-door")
    _button(teacher, "teacher.door_button").click().run()
    options = teacher.selectbox(key="login_class").options
    assert len(options) == 1 and options[0].startswith("6-1 · ")


def test_delete_me_asks_first_and_leaves_nothing_of_the_workspace_on_screen(lab):
    db, klass = lab
    kid = db.join(klass.id, "지울아이")
    data = fv.to_jpeg(fv.astronaut())
    from edu_core import faces

    db.add_image(kid.id, data, filename="me.jpg", source="upload", face=faces.extract(data))
    at = _open(s=kid.resume_code)
    assert _ticks(at)[:2] == [True, True]
    delete = at.button(key="delete_me")
    assert delete.disabled  # nothing happens without the confirmation
    at.checkbox(key="delete_me_ok").check().run()
    at.button(key="delete_me").click().run()
    assert not at.exception
    with pytest.raises(EduError):
        db.resume(kid.resume_code)
    shown = _texts(at) + "\n".join(str(s) for s in at.sidebar.markdown)
    assert t("home.deleted") in shown
    assert "지울아이" not in shown and kid.resume_code not in shown and "s" not in at.query_params
    assert _ticks(at) == [False] * 5
    assert "student_id" not in at.session_state and at.text_input[0].label == t("home.join_code")


def test_chapter_one_is_ticked_for_opening_its_lesson_not_for_joining(lab):
    db, klass = lab
    kid = db.join(klass.id, "새싹")
    at = _open(s=kid.resume_code)
    assert _ticks(at) == [False] * 5  # joining alone is not chapter 1
    at.session_state["lesson_open_1_basics"] = True  # what opening the 📘 box sends
    at.run()
    assert _ticks(at) == [True, False, False, False, False]


def test_each_accepted_photo_has_its_own_delete_button(lab):
    from edu_core import faces

    db, klass = lab
    kid = db.join(klass.id, "토끼")
    data = fv.to_jpeg(fv.astronaut())
    face = faces.extract(data)
    kept = db.add_image(kid.id, data, filename="keep.jpg", source="upload", face=face)
    gone = db.add_image(kid.id, fv.to_jpeg(fv.astronaut(), quality=80), filename="gone.jpg", source="upload",
                        face=face)  # fmt: skip
    at = _open("views/collect.py", s=kid.resume_code)
    buttons = {b.key: b for b in at.button if b.label == t("collect.delete")}
    assert {f"gallery_delete_{kept.id}", f"gallery_delete_{gone.id}"} <= set(buttons)
    buttons[f"gallery_delete_{gone.id}"].click().run()
    assert not at.exception
    assert [r.filename for r in db.list_images(kid.id)] == ["keep.jpg"]
    assert not [b for b in at.button if b.key == f"gallery_delete_{gone.id}"]
