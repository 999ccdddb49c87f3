"""Test photos derived from a real portrait (skimage's public-domain astronaut).

Each function returns JPEG/PNG bytes of one kind of photo the extractor must judge, drawn
from the real face's landmarks so occluders sit where they would on a person.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from edu_core.faces import Landmarker
from edu_core.landmarks import EYE_LEFT, EYE_RIGHT, LIPS_OUTER


def to_jpeg(img: Image.Image | np.ndarray, quality: int = 92, exif: bytes | None = None) -> bytes:
    if isinstance(img, np.ndarray):
        img = Image.fromarray(img)
    buf = io.BytesIO()
    kwargs = {"exif": exif} if exif else {}
    img.convert("RGB").save(buf, "JPEG", quality=quality, **kwargs)
    return buf.getvalue()


@lru_cache(maxsize=1)
def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


@lru_cache(maxsize=1)
def astronaut_landmarks() -> np.ndarray:
    with Landmarker() as lm:
        faces = lm.detect(np.asarray(astronaut()))
    assert len(faces) == 1
    return faces[0].landmarks


def _face_box() -> tuple[float, float, float, float]:
    lm = astronaut_landmarks()
    return lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()


def with_orientation(orientation: int) -> bytes:
    """A JPEG whose pixels are stored so that EXIF ``orientation`` makes them upright again."""
    inverse = {
        2: [Image.Transpose.FLIP_LEFT_RIGHT],
        3: [Image.Transpose.ROTATE_180],
        4: [Image.Transpose.FLIP_TOP_BOTTOM],
        5: [Image.Transpose.TRANSPOSE],
        6: [Image.Transpose.ROTATE_90],
        7: [Image.Transpose.TRANSVERSE],
        8: [Image.Transpose.ROTATE_270],
    }
    img = astronaut()
    for op in inverse.get(orientation, []):
        img = img.transpose(op)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return to_jpeg(img, exif=exif.tobytes())


def close_up(tightness: float = 0.9) -> bytes:
    """The face fills the frame (a tight crop around the landmarks, shrunk by ``tightness``)."""
    x0, y0, x1, y1 = _face_box()
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2 * tightness
    return to_jpeg(astronaut().crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half))))


def cut_off(keep: float = 0.55) -> bytes:
    """The frame's right edge runs through the face, keeping ``keep`` of its width."""
    x0, y0, x1, y1 = _face_box()
    right = int(x0 + (x1 - x0) * keep)
    return to_jpeg(astronaut().crop((max(0, int(x0 - 120)), max(0, int(y0 - 100)), right, 512)))


def _draw(fn) -> bytes:
    img = astronaut().copy()
    fn(ImageDraw.Draw(img), astronaut_landmarks())
    return to_jpeg(img)


def mask(colour: tuple[int, int, int] = (170, 205, 225)) -> bytes:
    """A face mask from the nose bridge to below the chin."""

    def draw(d: ImageDraw.ImageDraw, lm: np.ndarray) -> None:
        pts = [lm[i, :2] for i in (234, 227, 116, 6, 345, 447, 454, 361, 397, 365, 152, 136, 172, 132)]
        d.polygon([(float(x), float(y)) for x, y in pts], fill=colour)

    return _draw(draw)


def hand_over_mouth() -> bytes:
    """A skin-coloured hand with fingers laid across the mouth."""

    def draw(d: ImageDraw.ImageDraw, lm: np.ndarray) -> None:
        lips = lm[list(LIPS_OUTER), :2]
        (x0, y0), (x1, y1) = lips.min(0), lips.max(0)
        w, h = x1 - x0, y1 - y0
        skin = (222, 178, 150)
        d.ellipse((x0 - 0.9 * w, y0 - 0.5 * h, x1 + 0.5 * w, y1 + 2.2 * h), fill=skin)
        for k in range(4):
            fy = y0 - 0.4 * h + k * 0.55 * h
            d.rounded_rectangle(
                (x0 - 0.5 * w, fy, x1 + 1.2 * w, fy + 0.5 * h), radius=6, fill=(214, 170, 142)
            )
            d.line((x0 - 0.5 * w, fy + 0.5 * h, x1 + 1.2 * w, fy + 0.5 * h), fill=(170, 120, 100), width=1)

    return _draw(draw)


def sunglasses() -> bytes:
    def draw(d: ImageDraw.ImageDraw, lm: np.ndarray) -> None:
        for idx in (EYE_RIGHT, EYE_LEFT):
            pts = lm[list(idx), :2]
            (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
            w = x1 - x0
            d.ellipse((x0 - 0.35 * w, y0 - 0.6 * w, x1 + 0.35 * w, y1 + 0.45 * w), fill=(18, 18, 22))
        a, b = lm[133, :2], lm[362, :2]
        d.line((float(a[0]), float(a[1]), float(b[0]), float(b[1])), fill=(18, 18, 22), width=4)

    return _draw(draw)


def hair_over_eyes(colour: tuple[int, int, int] = (60, 40, 25)) -> bytes:
    """A thick fringe of hair hanging down over both eyes."""

    def draw(d: ImageDraw.ImageDraw, lm: np.ndarray) -> None:
        x0, x1 = lm[234, 0], lm[454, 0]
        top = lm[10, 1] - 20
        bottom = max(lm[145, 1], lm[374, 1]) + 8
        d.rectangle((float(x0), float(top), float(x1), float(bottom)), fill=colour)
        for k in range(int(x0), int(x1), 5):
            d.line((k, top, k + 2, bottom + 6), fill=tuple(max(0, c - 25) for c in colour), width=2)

    return _draw(draw)


def two_faces() -> bytes:
    a = astronaut()
    canvas = Image.new("RGB", (1024, 512))
    canvas.paste(a, (0, 0))
    canvas.paste(a.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (512, 0))
    return to_jpeg(canvas)


def tiny_face(canvas_width: int = 1800) -> bytes:
    """The portrait pasted into a large plain scene: the face is ~5 % of the photo's width."""
    canvas = Image.new("RGB", (canvas_width, canvas_width * 3 // 4), (96, 120, 88))
    canvas.paste(astronaut(), (canvas_width // 2, canvas_width // 4))
    return to_jpeg(canvas)


def blurred(radius: float = 5.0) -> bytes:
    return to_jpeg(astronaut().filter(ImageFilter.GaussianBlur(radius)))


def darkened(factor: float = 0.15) -> bytes:
    arr = np.asarray(astronaut()).astype(np.float32) * factor
    return to_jpeg(arr.clip(0, 255).astype(np.uint8))


def brightened(add: float = 150.0, gain: float = 1.3) -> bytes:
    arr = np.asarray(astronaut()).astype(np.float32) * gain + add
    return to_jpeg(arr.clip(0, 255).astype(np.uint8))


def no_face() -> bytes:
    from skimage import data

    return to_jpeg(data.coffee())


def big_photo(width: int = 2000, seed: int = 0) -> bytes:
    """A phone-sized photo: the portrait scaled up on a textured background, face ~20 % of width."""
    rng = np.random.default_rng(seed)
    h = width * 3 // 4
    bg = rng.integers(60, 200, size=(h // 8, width // 8, 3), dtype=np.uint8)
    canvas = Image.fromarray(bg).resize((width, h), Image.Resampling.BICUBIC)
    side = int(width * 0.45)
    canvas.paste(astronaut().resize((side, side), Image.Resampling.BICUBIC), (int(width * 0.3), int(h * 0.1)))
    return to_jpeg(canvas, quality=90)
