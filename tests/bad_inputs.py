"""A generated corpus of awkward uploads (issue: hardening). Nothing here is hand-collected.

``corpus(tmp_dir)`` returns ``(name, payload, allowed)`` triples: ``payload`` is bytes (or a path for
the huge file), ``allowed`` the reason codes a correct extractor may answer with ("ok" = accepted).
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import face_variants as fv
import numpy as np
from PIL import Image, ImageDraw

FACE_OK = {"ok"}


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _exif_with(orientation_bytes: bytes) -> bytes:
    """A minimal little-endian EXIF block whose orientation tag holds raw ``orientation_bytes``."""
    ifd = struct.pack("<HHHI", 1, 0x0112, 3, 1) + orientation_bytes.ljust(4, b"\0") + struct.pack("<I", 0)
    return b"Exif\0\0" + b"II*\0" + struct.pack("<I", 8) + ifd


def _jpeg_with_app1(jpeg: bytes, app1_payload: bytes) -> bytes:
    seg = b"\xff\xe1" + struct.pack(">H", len(app1_payload) + 2) + app1_payload
    return jpeg[:2] + seg + jpeg[2:]


def corpus(tmp: Path) -> list[tuple[str, bytes | Path, set[str]]]:
    face = fv.astronaut()
    face_jpeg = fv.to_jpeg(face)
    drawing = Image.new("RGB", (400, 300), "white")
    d = ImageDraw.Draw(drawing)
    d.rectangle((50, 50, 200, 200), outline="black", width=5)
    d.ellipse((220, 60, 360, 200), fill=(240, 200, 40))

    rgba = face.convert("RGBA")
    pal = face.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal.info["transparency"] = 0
    gif_frames = [face, face.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    crowd = Image.new("RGB", (1536, 1024), (80, 80, 80))
    for i in range(3):
        for j in range(2):
            crowd.paste(face.resize((512, 512)), (i * 512, j * 512))
    screen = Image.new("RGB", (900, 700), (15, 15, 20))
    screen.paste(face.resize((600, 600)), (150, 50))  # a photo of a photo on a dark screen
    mirrored = face.transpose(Image.Transpose.FLIP_LEFT_RIGHT)

    items: list[tuple[str, bytes | Path, set[str]]] = [
        ("empty.jpg", b"", {"unreadable"}),
        ("one_byte.jpg", b"\xff", {"unsupported_format", "unreadable"}),
        ("text_named.jpg", "사진이 아니에요. just text\n".encode() * 20, {"unsupported_format"}),
        ("page.html", b"<!doctype html><html><body><img src=x></body></html>", {"unsupported_format"}),
        ("doc.pdf", b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF", {"unsupported_format"}),
        ("photos.zip", _zip({"a.jpg": face_jpeg}), {"unsupported_format"}),
        (
            "clip.mp4",
            struct.pack(">I", 24) + b"ftypmp42" + b"\0" * 12 + b"\0\0\0\x08mdat",
            {"unsupported_format"},
        ),
        ("clip.webm", b"\x1aE\xdf\xa3" + b"\0" * 60, {"unsupported_format"}),
        ("truncated.jpg", face_jpeg[: len(face_jpeg) // 3], {"unreadable"}),
        ("truncated.png", _save(face, "PNG")[:5000], {"unreadable"}),
        ("corrupt_exif.jpg", _jpeg_with_app1(face_jpeg, b"Exif\0\0II*\0\xff\xff\xff\xff garbage"), FACE_OK),
        ("orientation_0.jpg", _jpeg_with_app1(face_jpeg, _exif_with(b"\0\0")), FACE_OK),
        ("orientation_9.jpg", _jpeg_with_app1(face_jpeg, _exif_with(b"\x09\0")), FACE_OK),
        ("orientation_garbage.jpg", _jpeg_with_app1(face_jpeg, _exif_with(b"\xff\xfe")), FACE_OK),
        ("one_pixel.png", _save(Image.new("RGB", (1, 1)), "PNG"), {"image_too_small"}),
        ("bomb_20000.png", _save(Image.new("1", (20000, 20000)), "PNG", optimize=True), {"too_large"}),
        ("cmyk.jpg", _save(face.convert("CMYK"), "JPEG", quality=92), FACE_OK),
        (
            "sixteen_bit.png",
            _save(Image.fromarray(np.asarray(face.convert("L")).astype(np.uint16) * 257), "PNG"),
            FACE_OK,
        ),
        (
            "palette_transparent.png",
            _save(pal, "PNG", transparency=0),
            FACE_OK | {"occluded_mouth", "occluded_eyes"},
        ),
        ("rgba.png", _save(rgba, "PNG"), FACE_OK),
        (
            "animated.gif",
            _save(gif_frames[0], "GIF", save_all=True, append_images=gif_frames[1:]),
            FACE_OK | {"occluded_mouth"},
        ),
        (
            "animated.webp",
            _save(gif_frames[0], "WEBP", save_all=True, append_images=gif_frames[1:], quality=90),
            FACE_OK,
        ),
        ("grayscale.jpg", _save(face.convert("L"), "JPEG", quality=92), FACE_OK),
        ("all_black.png", _save(Image.new("RGB", (640, 480), "black"), "PNG"), {"no_face"}),
        ("all_white.png", _save(Image.new("RGB", (640, 480), "white"), "PNG"), {"no_face"}),
        ("drawing.png", _save(drawing, "PNG"), {"no_face"}),
        ("crowd.jpg", fv.to_jpeg(crowd), {"multiple_faces"}),
        ("photo_of_screen.jpg", fv.to_jpeg(screen), FACE_OK),
        ("mirror_selfie.jpg", fv.to_jpeg(mirrored), FACE_OK),
        ("얼굴_사진_😀.jpg", face_jpeg, FACE_OK),
        ("../../etc/passwd.jpg", face_jpeg, FACE_OK),
        ("a" * 300 + ".jpg", face_jpeg, FACE_OK),
        ("duplicate_of_first_face.jpg", face_jpeg, FACE_OK),
    ]
    try:
        import pillow_heif

        buf = io.BytesIO()
        pillow_heif.from_pillow(face).save(buf, format="HEIF", quality=85)
        items.append(("phone.heic", buf.getvalue(), FACE_OK))
    except ImportError:  # pragma: no cover - pillow-heif is a requirement
        pass
    huge = tmp / "huge_100mb.jpg"
    with huge.open("wb") as f:
        f.write(face_jpeg)
        f.truncate(100 * 1024 * 1024)
    items.append(("huge_100mb.jpg", huge, {"too_large"}))
    return items


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()
