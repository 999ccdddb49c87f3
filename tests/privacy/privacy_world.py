"""The privacy tests' world: a class with two students (and a second class), as files and rows.

Student B's photos and crops are pure magenta, so a leak is caught even after resizing or
re-encoding. Shared by the tests in this folder; their fixtures are in conftest.py.
"""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TEACHER_PASSWORD = "staff-room-door"
PAGES = ["home", "collect", "label", "split", "train", "evaluate", "lab", "korean7", "teacher"]
B_NICK = "비밀벌B"
B_FILE = "bee_private_B.jpg"
B_MODEL = "B의-모델"
MAGENTA = (255, 0, 255)


# --- a class with two students (and a second class) ---------------------------------------------


def variant(base, k: int, *, magenta: bool = False):
    rng = np.random.default_rng(k)
    if magenta:
        crop = np.zeros_like(base.crop)
        crop[...] = MAGENTA
    else:
        crop = np.clip(base.crop.astype(np.int16) + rng.integers(-8, 9, base.crop.shape), 0, 255)
        crop = crop.astype(np.uint8)
    lm = base.landmarks + rng.normal(0, 0.3, base.landmarks.shape).astype(np.float32)
    return dataclasses.replace(base, crop=crop, landmarks=lm)


def jpeg(rgb: np.ndarray) -> bytes:
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


def build_world(root: Path, base) -> World:
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
        face = variant(base, k)
        rec = db.add_image(
            a.id, jpeg(face.crop), filename=f"a_{k}.jpg", source="upload", face=face, label=label
        )
        a_images.append(rec.id)
    for k, label in enumerate(labels):
        face = variant(base, 100 + k, magenta=True)
        pixels = np.zeros((300 + k, 300, 3), np.uint8)
        pixels[...] = MAGENTA
        rec = db.add_image(b.id, jpeg(pixels), filename=B_FILE, source="upload", face=face, label=label)
        b_images.append(rec.id)
    face = variant(base, 50)
    db.add_image(c.id, jpeg(face.crop), filename="c.jpg", source="upload", face=face, label="joy")
    db.make_split(a.id, test_ratio=0.34, seed=0)
    b_split = db.make_split(b.id, test_ratio=0.34, seed=0).id
    b_model = db.add_model(
        b.id, name=B_MODEL, kind="pieces", labels=list(klass.labels), file_bytes=b"B" * 64
    ).id
    b_run = db.start_run(b.id, config={"kind": "pieces"}, split_id=b_split)
    db.finish_run(b.id, b_run, metrics={"accuracy": 0.5, "n": 2}, model_id=b_model)
    return World(root, db, klass, other, session, a, b, c, a_images, b_images, b_split, b_model, b_run)


# --- what a browser session receives ------------------------------------------------------------


def protos(node) -> list[bytes]:
    out = []
    proto = getattr(node, "proto", None)
    if proto is not None and hasattr(proto, "SerializeToString"):
        out.append(proto.SerializeToString())
    children = getattr(node, "children", None)
    for child in children.values() if isinstance(children, dict) else children or []:
        out.extend(protos(child))
    return out


def magenta_share(data: bytes) -> float:
    try:
        with Image.open(io.BytesIO(data)) as im:
            px = np.asarray(im.convert("RGB"), dtype=np.int16)
    except Exception:  # noqa: BLE001 - not a picture (a zip, a model): checked byte-wise instead
        return 0.0
    near = (np.abs(px - np.array(MAGENTA)).sum(axis=-1) < 60).mean()
    return float(near)


def assert_nothing_of_b(at: AppTest, world: World, media: list, where: str) -> None:
    assert not at.exception, (where, [e.value for e in at.exception])
    blob = b"\n".join(protos(at._tree))
    b_shas = [world.db.image(world.b.id, i).sha for i in world.b_images]
    secrets_ = [B_NICK, B_FILE, B_MODEL, world.b.resume_code, *b_shas]
    for s in secrets_:
        assert s.encode() not in blob, (where, s)
    b_files = {world.db.original_bytes(world.b.id, i) for i in world.b_images}
    b_files |= {world.db.crop_bytes(world.b.id, i) for i in world.b_images}
    for data, mime in media:
        assert data not in b_files, (where, mime)
        assert not any(s.encode() in data for s in secrets_), (where, mime)
        assert magenta_share(data) < 0.05, (where, mime, "a picture of student B")
    # Widget keys carry image ids (grid_<label>_<id>, …): none may be one of B's photos.
    a_ids = set(world.a_images)
    for key in re.findall(rb"\$\$ID-[0-9a-f]+-([^\x00-\x1f\"]+)", blob):
        for number in re.findall(rb"(?<![0-9])[0-9]+(?![0-9])", key):
            n = int(number)
            assert n in a_ids or n not in world.b_images, (where, key)


def open_page(page: str, params: dict[str, str], state: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(params)
    for k, v in (state or {}).items():
        at.session_state[k] = v
    at.run()
    return at.switch_page(f"views/{page}.py").run()


def hostile_params(world: World) -> list[dict[str, str]]:
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
