"""AppTest: the Start page joins a class; the collect page extracts, shows rejections and skips them."""

from __future__ import annotations

from pathlib import Path

import face_variants as fv
import pytest
from streamlit.testing.v1 import AppTest

from edu_core.i18n import reason_message, t

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


@pytest.fixture()
def lab(tmp_path, monkeypatch):
    """A fresh data folder with one class and one student in it."""
    monkeypatch.setenv("EXPRESSION_LAB_DATA", str(tmp_path / "lab"))
    from edu_core.store import open_store

    db = open_store(tmp_path / "lab")
    klass, _session = db.create_class("6-1", "4321")
    student = db.join(klass.id, "토끼")
    return db, klass, student


def _app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def _open(page: str, **params: str) -> AppTest:
    """A new browser session opening ``page`` with URL query ``params`` (e.g. ``s=<resume code>``)."""
    at = _app()
    at.query_params.update(params)
    at.run()  # st.navigation registers the pages on the first run
    return at.switch_page(page).run()


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.warning] + [e.value for e in at.success]
    parts += [e.value for e in at.info] + [e.value for e in at.error] + [s.value for s in at.subheader]
    return "\n".join(str(p) for p in parts)


def test_join_with_class_code_puts_resume_code_in_url(lab):
    db, klass, _ = lab
    at = _app().run()
    assert not at.exception
    assert at.title[0].value == t("home.title")  # Korean by default
    at.text_input[0].input(klass.join_code.lower())
    at.text_input[1].input("다람쥐")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception
    code = at.query_params["s"]
    student = db.resume(code)
    assert student.nickname == "다람쥐" and student.class_id == klass.id
    assert t("home.joined", nickname="다람쥐") in _texts(at)


def test_wrong_class_code_shows_a_sentence_not_a_traceback(lab):
    at = _app().run()
    at.text_input[0].input("ZZZZZZ")
    at.text_input[1].input("곰")
    at.button[0].click().run()
    assert not at.exception
    assert reason_message("not_found") in [e.value for e in at.error]


def test_collect_page_needs_a_student(lab):
    at = _open("views/collect.py")
    assert not at.exception
    assert t("common.need_join") in [e.value for e in at.info]


def test_upload_extract_gallery_rejection_and_skip(lab):
    db, _, student = lab
    at = _open("views/collect.py", s=student.resume_code)
    assert not at.exception
    files = [
        ("astronaut.jpg", fv.to_jpeg(fv.astronaut()), "image/jpeg"),
        ("masked.jpg", fv.mask(), "image/jpeg"),
        ("notes.txt", b"this is not a photo at all\n" * 10, "text/plain"),
    ]
    at.file_uploader[0].set_value(files)
    at.run()
    extract = next(b for b in at.button if b.label == t("collect.extract_button"))
    extract.click().run()
    assert not at.exception

    records = db.list_images(student.id)
    assert len(records) == 3  # every photo is stored before it is acknowledged
    by_name = {r.filename: r for r in records}
    assert by_name["astronaut.jpg"].status == "ok"
    assert by_name["masked.jpg"].reason == "occluded_mouth"
    assert by_name["notes.txt"].reason == "unsupported_format"
    shown = _texts(at)
    assert t("collect.accepted_title", n=1) in shown
    assert t("collect.rejected_title", n=2) in shown
    assert reason_message("occluded_mouth") in shown
    assert reason_message("unsupported_format") in shown
    assert len(at.image) >= 1  # the gallery grid
    at.toggle(key="show_box").set_value(True).run()  # the originals with the face box drawn
    assert not at.exception and len(at.image) >= 1

    skip = next(b for b in at.button if b.key == f"skip_{by_name['masked.jpg'].id}")
    skip.click().run()
    assert not at.exception
    assert {r.filename for r in db.list_images(student.id)} == {"astronaut.jpg", "notes.txt"}
    assert t("collect.rejected_title", n=1) in _texts(at)

    astronaut = by_name["astronaut.jpg"]
    at.button(key=f"delete_{astronaut.id}").click().run()  # accepted photos can be deleted too
    assert not at.exception
    assert {r.filename for r in db.list_images(student.id)} == {"notes.txt"}


def test_reload_restores_the_workspace_from_the_store(lab):
    db, _, student = lab
    from edu_core import faces

    data = fv.to_jpeg(fv.astronaut())
    db.add_image(student.id, data, filename="kept.jpg", source="upload", face=faces.extract(data))
    at = _open("views/collect.py", s=student.resume_code)  # a brand-new session, as after a reload
    assert not at.exception
    assert t("collect.accepted_title", n=1) in _texts(at)


def test_english_from_url(lab):
    _, _, student = lab
    at = _open("views/collect.py", s=student.resume_code, lang="en")
    assert not at.exception
    assert at.title[0].value == t("collect.title", "en")


def test_language_switch_in_sidebar(lab):
    at = _app().run()
    assert at.title[0].value == t("home.title", "ko")
    at.segmented_control[0].set_value("en").run()
    assert not at.exception
    assert at.title[0].value == t("home.title", "en")


def test_camera_burst_stores_each_shot_and_rearms_the_camera(lab):
    db, _, student = lab
    at = _open("views/collect.py", s=student.resume_code)
    at.selectbox(key="collect_label").set_value("joy").run()
    for n, data in enumerate((fv.to_jpeg(fv.astronaut()), fv.darkened()), start=1):
        camera = at.camera_input[0]
        assert camera.key == f"camera_{n - 1}"  # a fresh camera widget after every shot
        camera.set_value(("shot.jpg", data, "image/jpeg"))
        at.run()
        assert not at.exception
        assert len(db.list_images(student.id)) == n
    records = db.list_images(student.id)
    assert {r.source for r in records} == {"camera"}
    assert [r.label for r in records if r.status == "ok"] == ["joy"]
    assert reason_message("too_dark") in _texts(at)


def test_every_bad_input_through_the_page_gets_a_sentence_and_nothing_is_lost(lab, tmp_path):
    """The generated bad-input corpus, uploaded in one batch with two good photos."""
    from bad_inputs import corpus

    db, _, student = lab
    items = [(name, payload) for name, payload, _ in corpus(tmp_path) if isinstance(payload, bytes)]
    good = [("good_1.jpg", fv.to_jpeg(fv.astronaut())), ("good_2.jpg", fv.big_photo(1600))]
    files = [(name, data, "application/octet-stream") for name, data in good + items]
    at = _open("views/collect.py", s=student.resume_code)
    at.file_uploader[0].set_value(files)
    at.run()
    next(b for b in at.button if b.label == t("collect.extract_button")).click().run()
    assert not at.exception

    records = db.list_images(student.id)
    # identical bytes are stored once; every distinct non-empty upload is there, the good ones
    # accepted; the empty file cannot be stored and is named with its reason instead
    assert len(records) == len({data for _, data, _ in files if data})
    accepted = {r.filename for r in records if r.status == "ok"}
    assert "good_2.jpg" in accepted and accepted & {"good_1.jpg", "duplicate_of_first_face.jpg"}
    shown = _texts(at)
    assert reason_message("empty_file") in shown and "empty.jpg" in shown
    for r in records:
        if r.status != "ok":
            assert reason_message(r.reason) in shown, r.reason
    # a name with path separators never leaves the data folder
    assert not (tmp_path / "etc").exists() and not Path("/etc/passwd.jpg").exists()


def test_a_photo_over_its_limit_is_refused_with_a_sentence_while_teachers_get_a_bigger_one(lab):
    """The server's upload limit is the teachers' (class zips, models); photos keep 25 MB, checked by us."""
    import tomllib

    from edu_core import ingest
    from edu_core.images import DecodeConfig

    server_mb = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    assert server_mb * 1024 * 1024 > 27 * 1024 * 1024  # the 27 MB class zip of the lesson goes through
    assert ingest.PHOTO_MAX_BYTES == DecodeConfig().max_bytes == 25 * 1024 * 1024
    db, _, student = lab
    good = fv.to_jpeg(fv.astronaut())
    huge = good + bytes(ingest.PHOTO_MAX_BYTES)  # a real JPEG, padded past the photo limit
    at = _open("views/collect.py", s=student.resume_code)
    at.file_uploader[0].set_value([("huge.jpg", huge, "image/jpeg"), ("fine.jpg", good, "image/jpeg")])
    at.run()
    next(b for b in at.button if b.label == t("collect.extract_button")).click().run()
    assert not at.exception
    assert [r.filename for r in db.list_images(student.id)] == ["fine.jpg"]  # the big one is not stored
    for lang in ("ko", "en"):
        assert "25 MB" in reason_message("photo_too_large", lang)
    assert any("huge.jpg" in w.value and reason_message("photo_too_large") in w.value for w in at.warning)


def test_a_wrongly_rejected_photo_can_be_kept_and_stays_kept(lab):
    """Issue 15.9: a photo the gate rejected by mistake could only be deleted."""
    from edu_core.train import TrainConfig, train

    db, _, student = lab
    at = _open("views/collect.py", s=student.resume_code)
    files = [
        ("masked.jpg", fv.mask(), "image/jpeg"),
        ("close.jpg", fv.close_up(), "image/jpeg"),
        ("empty_room.jpg", fv.no_face(), "image/jpeg"),
        ("notes.txt", b"not a photo\n" * 10, "text/plain"),
    ]
    at.file_uploader[0].set_value(files)
    at.run()
    next(b for b in at.button if b.label == t("collect.extract_button")).click().run()
    by_name = {r.filename: r for r in db.list_images(student.id)}
    assert {r.status for r in by_name.values()} == {"rejected"}
    keep_buttons = {b.key for b in at.button if b.key and b.key.startswith("keep_")}
    assert f"keep_{by_name['notes.txt'].id}" not in keep_buttons  # nothing to cut from a text file
    assert all(b.label == t("collect.keep") for b in at.button if b.key in keep_buttons)

    for name in ("masked.jpg", "close.jpg"):
        at.button(key=f"keep_{by_name[name].id}").click().run()
        assert not at.exception
    at.button(key=f"keep_{by_name['empty_room.jpg'].id}").click().run()
    assert t("collect.keep_failed", name="empty_room.jpg") in _texts(at)  # said plainly, not kept

    # a brand-new session (a reload) finds the kept photos among the accepted ones
    again = _open("views/collect.py", s=student.resume_code)
    assert not again.exception
    assert t("collect.accepted_title", n=2) in _texts(again)
    assert any(c.startswith("🙋") for im in again.image for c in im.captions)
    kept = {r.filename: r for r in db.list_images(student.id, status="ok")}
    assert set(kept) == {"masked.jpg", "close.jpg"}
    assert kept["masked.jpg"].kept and kept["masked.jpg"].reason == "occluded_mouth"  # reason stays
    assert kept["close.jpg"].reason == "close_up"
    # the student's own model can use them: real faces with landmarks and expression scores
    faces = db.faces(student.id, [r.id for r in kept.values()])
    assert all(f.ok and f.crop.shape == (256, 256, 3) and f.landmarks.shape == (478, 3) for f in faces)
    assert all(f.blendshapes for f in faces)
    train("pieces", faces, ["joy", "anger"], TrainConfig(tiny=True), class_names=("joy", "anger"))


def test_a_group_chosen_before_uploading_tags_every_photo_of_the_batch(lab):
    """Issue 13.5: "upload your photos with glasses under group 안경", the rejected ones too."""
    from edu_core import faces
    from edu_core.store import NewImage

    db, klass, student = lab
    other = db.join(klass.id, "여우")
    good = fv.with_orientation(6)
    db.add_images(other.id, [NewImage(good, "f.jpg", "upload", faces.extract(good), group="안경")])
    at = _open("views/collect.py", s=student.resume_code)
    box = at.selectbox(key="collect_group")
    assert box.options == ["안경"] and box.value is None  # the class's tag is offered, nothing preset
    box.set_value("안경").run()
    at.file_uploader[0].set_value(
        [("astronaut.jpg", fv.to_jpeg(fv.astronaut()), "image/jpeg"), ("masked.jpg", fv.mask(), "image/jpeg")]
    )
    at.run()
    next(b for b in at.button if b.label == t("collect.extract_button")).click().run()
    assert not at.exception
    by_name = {r.filename: r for r in db.list_images(student.id)}
    assert by_name["masked.jpg"].status == "rejected"
    assert {r.group for r in by_name.values()} == {"안경"}
