"""Privacy and access (issue 9): one student never reaches another's photos, teacher actions need
the PIN, "delete" really removes files, and no file name can write outside the data folder.

Everything is real: the app through AppTest, a real SQLite store and real files in a tmp folder.
Student B's photos and crops are pure magenta, so a leak is caught even after resizing or
re-encoding: every picture student A's browser receives is decoded and checked for magenta.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path

import face_variants as fv
import numpy as np
import pytest
from PIL import Image
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from edu_core.errors import EduError
from edu_core.i18n import reason_message, t

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]
TEACHER_PASSWORD = "staff-room-door"
PAGES = ["home", "collect", "label", "split", "train", "evaluate", "lab", "korean7", "teacher"]
B_NICK = "비밀벌B"
B_FILE = "bee_private_B.jpg"
B_MODEL = "B의-모델"
MAGENTA = (255, 0, 255)


# --- a class with two students (and a second class) ---------------------------------------------


@pytest.fixture(scope="module")
def base_face():
    from edu_core import faces

    face = faces.extract(fv.to_jpeg(fv.astronaut()))
    assert face.ok
    return face


def _variant(base, k: int, *, magenta: bool = False):
    rng = np.random.default_rng(k)
    if magenta:
        crop = np.zeros_like(base.crop)
        crop[...] = MAGENTA
    else:
        crop = np.clip(base.crop.astype(np.int16) + rng.integers(-8, 9, base.crop.shape), 0, 255)
        crop = crop.astype(np.uint8)
    lm = base.landmarks + rng.normal(0, 0.3, base.landmarks.shape).astype(np.float32)
    return dataclasses.replace(base, crop=crop, landmarks=lm)


def _jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@dataclasses.dataclass
class World:
    root: Path
    db: object
    klass: object
    other_class: object
    session: object
    a: object
    b: object
    c: object
    a_images: list
    b_images: list
    b_split: int
    b_model: int
    b_run: int


def _build(root: Path, base) -> World:
    from edu_core.store import open_store

    db = open_store(root)
    klass, session = db.create_class("6-1", "4321")
    other, _ = db.create_class("6-2", "8765")
    a = db.join(klass.id, "다람쥐A")
    b = db.join(klass.id, B_NICK)
    c = db.join(other.id, "곰C")
    db.set_pool_consent(b.id, True)  # even a sharing student stays invisible to classmates
    labels = ["joy", "joy", "sadness", "sadness", "surprise", "surprise"]
    a_images, b_images = [], []
    for k, label in enumerate(labels):
        face = _variant(base, k)
        rec = db.add_image(
            a.id, _jpeg(face.crop), filename=f"a_{k}.jpg", source="upload", face=face, label=label
        )
        a_images.append(rec.id)
    for k, label in enumerate(labels):
        face = _variant(base, 100 + k, magenta=True)
        pixels = np.zeros((300 + k, 300, 3), np.uint8)
        pixels[...] = MAGENTA
        rec = db.add_image(b.id, _jpeg(pixels), filename=B_FILE, source="upload", face=face, label=label)
        b_images.append(rec.id)
    face = _variant(base, 50)
    db.add_image(c.id, _jpeg(face.crop), filename="c.jpg", source="upload", face=face, label="joy")
    db.make_split(a.id, test_ratio=0.34, seed=0)
    b_split = db.make_split(b.id, test_ratio=0.34, seed=0).id
    b_model = db.add_model(
        b.id, name=B_MODEL, kind="pieces", labels=list(klass.labels), file_bytes=b"B" * 64
    ).id
    b_run = db.start_run(b.id, config={"kind": "pieces"}, split_id=b_split)
    db.finish_run(b.id, b_run, metrics={"accuracy": 0.5, "n": 2}, model_id=b_model)
    return World(root, db, klass, other, session, a, b, c, a_images, b_images, b_split, b_model, b_run)


@pytest.fixture(scope="module")
def template(tmp_path_factory, base_face):
    root = tmp_path_factory.mktemp("privacy") / "lab"
    world = _build(root, base_face)
    world.db.close()
    return world


@pytest.fixture()
def world(template, tmp_path, monkeypatch):
    """A private copy of the two-student data folder, opened as the app opens it."""
    from edu_core.store import open_store
    from webui import resources

    root = tmp_path / "lab"
    shutil.copytree(template.root, root)
    monkeypatch.setenv("EXPRESSION_LAB_DATA", str(root))
    monkeypatch.setenv("EXPRESSION_LAB_TEACHER_PASSWORD", TEACHER_PASSWORD)
    resources._resume_failures.clear()  # the server-wide guessing brake is per process: start each test clean
    resources._password_failures.clear()
    yield dataclasses.replace(template, root=root, db=open_store(root))
    resources._resume_failures.clear()  # and leave no wrong guesses behind for later tests
    resources._password_failures.clear()


# --- what a browser session receives ------------------------------------------------------------


@pytest.fixture()
def media(monkeypatch):
    """Every file (picture, download) any AppTest session hands to its browser, as bytes."""
    sent: list[tuple[bytes, str]] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        data = path_or_data if isinstance(path_or_data, bytes) else Path(path_or_data).read_bytes()
        sent.append((data, mimetype))
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return sent


def _protos(node) -> list[bytes]:
    out = []
    proto = getattr(node, "proto", None)
    if proto is not None and hasattr(proto, "SerializeToString"):
        out.append(proto.SerializeToString())
    children = getattr(node, "children", None)
    for child in children.values() if isinstance(children, dict) else children or []:
        out.extend(_protos(child))
    return out


def _magenta_share(data: bytes) -> float:
    try:
        with Image.open(io.BytesIO(data)) as im:
            px = np.asarray(im.convert("RGB"), dtype=np.int16)
    except Exception:  # noqa: BLE001 - not a picture (a zip, a model): checked byte-wise instead
        return 0.0
    near = (np.abs(px - np.array(MAGENTA)).sum(axis=-1) < 60).mean()
    return float(near)


def _assert_nothing_of_b(at: AppTest, world: World, media: list, where: str) -> None:
    assert not at.exception, (where, [e.value for e in at.exception])
    blob = b"\n".join(_protos(at._tree))
    b_shas = [world.db.image(world.b.id, i).sha for i in world.b_images]
    secrets_ = [B_NICK, B_FILE, B_MODEL, world.b.resume_code, *b_shas]
    for s in secrets_:
        assert s.encode() not in blob, (where, s)
    b_files = {world.db.original_bytes(world.b.id, i) for i in world.b_images}
    b_files |= {world.db.crop_bytes(world.b.id, i) for i in world.b_images}
    for data, mime in media:
        assert data not in b_files, (where, mime)
        assert not any(s.encode() in data for s in secrets_), (where, mime)
        assert _magenta_share(data) < 0.05, (where, mime, "a picture of student B")
    # Widget keys carry image ids (grid_<label>_<id>, …): none may be one of B's photos.
    a_ids = set(world.a_images)
    for key in re.findall(rb"\$\$ID-[0-9a-f]+-([^\x00-\x1f\"]+)", blob):
        for number in re.findall(rb"(?<![0-9])[0-9]+(?![0-9])", key):
            n = int(number)
            assert n in a_ids or n not in world.b_images, (where, key)


def _open(page: str, params: dict[str, str], state: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(params)
    for k, v in (state or {}).items():
        at.session_state[k] = v
    at.run()
    return at.switch_page(f"views/{page}.py").run()


def _hostile(world: World) -> list[dict[str, str]]:
    b_img = str(world.b_images[0])
    ids = {
        "student": str(world.b.id),
        "student_id": str(world.b.id),
        "image": b_img,
        "image_id": b_img,
        "id": b_img,
        "model": str(world.b_model),
        "run": str(world.b_run),
        "split": str(world.b_split),
        "class": str(world.klass.id),
        "sha": world.db.image(world.b.id, world.b_images[0]).sha,
    }
    return [
        {"s": world.a.resume_code, **ids, "lang": "en"},  # A, logged in, pointing at B's things
        {"s": b_img, **ids, "join": world.klass.join_code},
        {"s": world.other_class.join_code, "join": world.other_class.join_code, "lang": "../../etc"},
        {"s": "' OR 1=1 --", "image": "1 OR 1=1", "lang": "ko'; DROP TABLE images; --"},
        {"s": "X" * 5000, "join": "Y" * 5000, "student": "-1", "model": "9" * 40},
        {"s": "%00../../..", "id": "{{7*7}}", "lang": "<script>alert(1)</script>"},
    ]


def test_student_a_never_sees_b_through_any_page_or_url_parameter(world, media):
    from webui import resources

    hostile = _hostile(world)
    for page in PAGES:
        for params in hostile:
            resources._resume_failures.clear()
            media.clear()
            at = _open(page, params)
            _assert_nothing_of_b(at, world, media, f"{page} {sorted(params)} s={params['s'][:20]}")
            if params["s"] == world.a.resume_code:
                assert at.session_state["student_id"] == world.a.id  # A's own workspace did open
            else:
                assert "student_id" not in at.session_state  # no stranger's code opens a workspace
    # A as the teacher, without the password: the teacher page shows only the password box.
    media.clear()
    at = _open("teacher", {"s": world.a.resume_code}, {"mode": "teacher"})
    _assert_nothing_of_b(at, world, media, "teacher mode without password")
    assert "teacher_session" not in at.session_state
    assert at.text_input(key="teacher_password") is not None
    assert not [w for w in at.text_input if w.key == "login_pin"]


def test_collect_and_label_pages_show_a_her_own_photos(world, media):
    """The check above is not vacuous: A's own pictures do reach A's browser."""
    at = _open("collect", {"s": world.a.resume_code})
    _assert_nothing_of_b(at, world, media, "collect")
    pictures = [d for d, mime in media if mime.startswith("image/")]
    assert len(pictures) >= len(world.a_images)
    # And B's own session does get the magenta crops, so the detector would see a leak.
    media.clear()
    at = _open("collect", {"s": world.b.resume_code})
    assert any(_magenta_share(d) > 0.5 for d, _ in media)


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
    at2 = _open("collect", {"s": world.a.resume_code})
    assert at2.session_state["student_id"] == world.a.id


def test_wrong_resume_codes_are_braked_across_the_server(world, monkeypatch):
    from webui import resources, session

    assert session.RESUME_SERVER_TRIES == 120
    monkeypatch.setattr(session, "RESUME_SERVER_TRIES", 8)  # the same brake, reached in fewer page loads
    for k in range(session.RESUME_SERVER_TRIES):  # a guesser opening a fresh tab for every try
        at = _open("collect", {"s": f"QQQQQQ{k:02d}"})
        assert "student_id" not in at.session_state
    at = _open("collect", {"s": world.a.resume_code})
    assert not at.exception
    assert "student_id" not in at.session_state
    assert reason_message("resume_wait") in [e.value for e in at.error]
    assert world.a.resume_code in str(at.query_params.get("s"))  # kept: it works again after the pause
    resources._resume_failures.clear()  # the minute passes
    at = _open("collect", {"s": world.a.resume_code})
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
    at = _open("teacher", {}, {"mode": "teacher"})
    assert not at.exception and "teacher_session" not in at.session_state
    assert not any(b.label == t("teacher.wipe_button") for b in at.button)
    at = _open("korean7", {}, {"mode": "teacher"})
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
    at = _open("home", {"s": world.b.resume_code})
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
    at = _open("collect", {"s": world.b.resume_code})
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

HOSTILE_NAMES = [
    "../../evil.jpg",
    "/etc/passwd.jpg",
    "..\\..\\x.png",
    "nul\x00byte.jpg",
    "a" * 5000 + ".jpg",
    "../" * 50 + "deep.jpg",
    "~/.bashrc.jpg",
    "$(touch pwned).jpg",
    "; rm -rf ~ ;.jpg",
    "사진/../../../한글.jpg",
    "CON.jpg",
    ".htaccess",
]


def _tree(top: Path) -> dict[str, int]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            out[str(p.relative_to(top))] = p.lstat().st_mode
    return out


def _escaped(before: dict, after: dict, data_rel: str) -> list[str]:
    new = set(after) - set(before)
    return sorted(p for p in new if not p.startswith(data_rel + os.sep) and p != data_rel)


def test_hostile_upload_names_stay_inside_the_data_folder(world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative "../x" would land next to the data folder
    before = _tree(tmp_path)
    photo = fv.to_jpeg(fv.astronaut())
    files = [(name, photo + bytes([k]), "image/jpeg") for k, name in enumerate(HOSTILE_NAMES)]
    pwned = tmp_path / "pwned"
    files.append(("script.sh.jpg", b"#!/bin/sh\ntouch " + str(pwned).encode() + b"\n", "image/jpeg"))
    files.append(("evil.py.png", b"import os; os.system('touch " + str(pwned).encode() + b"')", "image/png"))

    at = _open("collect", {"s": world.a.resume_code})
    at.file_uploader[0].set_value(files)
    at.run()
    next(b for b in at.button if b.label == t("collect.extract_button")).click().run()
    assert not at.exception
    after = _tree(tmp_path)
    assert _escaped(before, after, "lab") == []
    assert not pwned.exists() and not Path("/etc/passwd.jpg").exists() and not Path("/evil.jpg").exists()
    records = world.db.list_images(world.a.id)
    new = [r for r in records if r.id not in world.a_images]
    assert len(new) == len(files)  # every file was received and explained, none lost
    for rec in new:  # the name is kept as text only; the file is named by its checksum
        path = world.db.blob_path(rec.sha, rec.ext)
        assert path.is_file() and path.parent.parent == world.root / "files"
        assert re.fullmatch(r"[0-9a-f]{64}\.[a-z]+", path.name)
        assert path.stat().st_mode & 0o111 == 0  # never executable
    by_name = {r.filename: r for r in new}
    assert by_name["script.sh.jpg"].status != "ok" and by_name["evil.py.png"].status != "ok"
    report = world.db.check(grace_s=0)
    assert report.ok, report


def _evil_zip(photo: bytes, outside: Path) -> bytes:
    """A data-set zip whose members try to escape: parent paths, absolute paths, a symlink."""
    import hashlib

    from edu_core import archive

    names = ["../x.jpg", "/tmp/abs_evil.jpg", "images/joy/../../../up.jpg", "images\\..\\..\\win.jpg"]
    buf = io.BytesIO()
    files = {}
    with zipfile.ZipFile(buf, "w") as zf:
        for k, name in enumerate(names):
            data = photo + bytes([k])
            zf.writestr(name, data)
            files[name] = hashlib.sha256(data).hexdigest()
        link = zipfile.ZipInfo("images/joy/link.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, str(outside))
        files["images/joy/link.jpg"] = hashlib.sha256(str(outside).encode()).hexdigest()
        rows = "file,class,split,sha256\n" + "".join(f"{n},joy,,{h}\n" for n, h in files.items())
        zf.writestr("labels.csv", rows)
        manifest = {"format": archive.MANIFEST_FORMAT, "version": 1, "files": files}
        zf.writestr("manifest.json", json.dumps(manifest))
    return buf.getvalue()


def test_zip_import_with_traversal_and_symlink_members_writes_nothing_outside(world, tmp_path, monkeypatch):
    from edu_core import faces, photosets

    monkeypatch.chdir(tmp_path)
    outside = tmp_path / "outside_target"
    outside.write_bytes(b"secret on the server")
    before = _tree(tmp_path)
    holder = world.db.join(world.klass.id, "가져오기")
    report = photosets.import_zip(
        world.db,
        holder.id,
        _evil_zip(fv.to_jpeg(fv.astronaut()), outside),
        extractor=lambda blobs, progress=None: faces.extract_many(list(blobs)),
    )
    assert _escaped(before, _tree(tmp_path), "lab") == []
    assert outside.read_bytes() == b"secret on the server"  # the link's target was not written
    records = world.db.list_images(holder.id)
    assert len(records) == len(report.image_ids) == 5  # read from memory, stored by checksum
    for rec in records:
        assert "/" not in rec.filename  # only the last part of a member's name is kept, as text
        assert world.db.blob_path(rec.sha, rec.ext).parent.parent == world.root / "files"
        data = world.db.original_bytes(holder.id, rec.id)
        assert b"secret on the server" not in data  # the symlink was not followed
    assert world.db.check(grace_s=0).ok
