"""Decoding every kind of file a student can upload."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile

import numpy as np
import pytest
from PIL import Image

from edu_core.errors import ImageError
from edu_core.images import DecodeConfig, decode


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _picture(mode: str = "RGB", size=(120, 90)) -> Image.Image:
    """A picture whose left half is red and right half blue, so orientation errors show."""
    arr = np.zeros((size[1], size[0], 3), np.uint8)
    arr[:, : size[0] // 2] = (220, 30, 30)
    arr[:, size[0] // 2 :] = (30, 30, 220)
    arr[: size[1] // 4] = (30, 200, 30)  # green top band
    return Image.fromarray(arr).convert(mode) if mode != "RGB" else Image.fromarray(arr)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_common_formats_decode_to_rgb(fmt):
    out = decode(_save(_picture(), fmt))
    assert out.rgb.dtype == np.uint8 and out.rgb.shape == (90, 120, 3)
    # left is red, right is blue, whatever the codec did
    assert out.rgb[60, 10, 0] > 150 and out.rgb[60, 110, 2] > 150


def test_heic_decodes():
    pillow_heif = pytest.importorskip("pillow_heif")
    buf = io.BytesIO()
    pillow_heif.from_pillow(_picture()).save(buf, format="HEIF", quality=90)
    out = decode(buf.getvalue())
    assert out.format in ("HEIF", "HEIC") and out.rgb.shape == (90, 120, 3)
    assert out.rgb[60, 10, 0] > 150


def test_png_alpha_is_flattened_on_white():
    img = _picture().convert("RGBA")
    arr = np.asarray(img).copy()
    arr[..., 3] = 0  # fully transparent
    out = decode(_save(Image.fromarray(arr, "RGBA"), "PNG"))
    assert (out.rgb > 250).all()


def test_palette_with_transparency_is_flattened():
    img = _picture().convert("P")
    img.info["transparency"] = 0
    out = decode(_save(img, "PNG", transparency=0))
    assert out.rgb.shape == (90, 120, 3)


@pytest.mark.parametrize("mode", ["L", "CMYK", "P", "LA", "I;16"])
def test_unusual_modes(mode):
    if mode == "I;16":
        arr = (np.linspace(0, 65535, 120 * 90).reshape(90, 120)).astype(np.uint16)
        data = _save(Image.fromarray(arr), "PNG")
    else:
        data = _save(_picture(mode), "JPEG" if mode == "CMYK" else "PNG")
    out = decode(data)
    assert out.rgb.shape == (90, 120, 3) and out.rgb.dtype == np.uint8
    if mode == "I;16":  # scaled, not clipped: the dark end stays dark and the bright end bright
        assert out.rgb[0, 0, 0] < 10 and out.rgb[-1, -1, 0] > 245


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (80, 80), c) for c in ((250, 0, 0), (0, 250, 0))]
    data = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    out = decode(data)
    assert out.rgb[40, 40, 0] > 200 and out.rgb[40, 40, 1] < 50


@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_exif_orientations_come_out_upright(orientation):
    inverse = {
        2: [Image.Transpose.FLIP_LEFT_RIGHT],
        3: [Image.Transpose.ROTATE_180],
        4: [Image.Transpose.FLIP_TOP_BOTTOM],
        5: [Image.Transpose.TRANSPOSE],
        6: [Image.Transpose.ROTATE_90],
        7: [Image.Transpose.TRANSVERSE],
        8: [Image.Transpose.ROTATE_270],
    }
    img = _picture()
    for op in inverse.get(orientation, []):
        img = img.transpose(op)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = decode(_save(img, "JPEG", exif=exif.tobytes(), quality=95))
    assert out.orientation == orientation
    assert out.original_size == (120, 90)
    assert out.rgb[5, 60, 1] > 150  # green band on top
    assert out.rgb[60, 10, 0] > 150 and out.rgb[60, 110, 2] > 150  # red left, blue right


@pytest.mark.parametrize("value", [0, 9, 255])
def test_invalid_orientation_values_are_ignored(value):
    exif = Image.Exif()
    exif[0x0112] = value
    out = decode(_save(_picture(), "JPEG", exif=exif.tobytes()))
    assert out.orientation == 1 and out.rgb.shape == (90, 120, 3)


def test_draft_mode_decodes_big_jpeg_smaller_and_keeps_full_size():
    big = _picture(size=(2400, 1800))
    out = decode(_save(big, "JPEG"), max_side=600)
    assert out.original_size == (2400, 1800)
    assert 600 <= max(out.rgb.shape[:2]) <= 1200
    assert out.scale == pytest.approx(out.rgb.shape[1] / 2400)


def test_draft_mode_respects_orientation():
    exif = Image.Exif()
    exif[0x0112] = 6
    img = _picture(size=(2400, 1800)).transpose(Image.Transpose.ROTATE_90)
    out = decode(_save(img, "JPEG", exif=exif.tobytes()), max_side=600)
    assert out.original_size == (2400, 1800)
    assert out.rgb.shape[1] > out.rgb.shape[0]


def _tiny_mp4() -> bytes:
    return struct.pack(">I", 24) + b"ftypisom" + b"\x00" * 12 + b"\x00\x00\x00\x08mdat"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "unreadable"),
        (b"\xff", "unsupported_format"),
        (b"hello, this is not a picture\n" * 5, "unsupported_format"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "unsupported_format"),
        (b"%PDF-1.4\n%...", "unsupported_format"),
        (_tiny_mp4(), "unsupported_format"),
        (gzip.compress(b"x" * 100), "unsupported_format"),
    ],
)
def test_non_images_are_refused_with_a_reason(data, code):
    with pytest.raises(ImageError) as err:
        decode(data)
    assert err.value.code == code


def test_zip_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.jpg", _save(_picture(), "JPEG"))
    with pytest.raises(ImageError) as err:
        decode(buf.getvalue())
    assert err.value.code == "unsupported_format"


def test_truncated_jpeg_is_unreadable():
    data = _save(_picture(size=(400, 300)), "JPEG")
    with pytest.raises(ImageError) as err:
        decode(data[: len(data) // 2])
    assert err.value.code == "unreadable"


def test_truncated_png_is_unreadable():
    data = _save(_picture(size=(400, 300)), "PNG")
    with pytest.raises(ImageError) as err:
        decode(data[: len(data) // 2])
    assert err.value.code == "unreadable"


def test_pixel_bomb_is_refused_before_decoding():
    # A 20000x20000 PNG header: tiny file, 400 MP if decoded.
    img = Image.new("1", (20000, 20000))
    data = _save(img, "PNG", optimize=True)
    assert len(data) < 200_000
    with pytest.raises(ImageError) as err:
        decode(data)
    assert err.value.code == "too_large"


def test_byte_limit():
    with pytest.raises(ImageError) as err:
        decode(_save(_picture(), "PNG"), cfg=DecodeConfig(max_bytes=100))
    assert err.value.code == "too_large"


def test_tiny_image_is_too_small():
    with pytest.raises(ImageError) as err:
        decode(_save(Image.new("RGB", (1, 1)), "PNG"))
    assert err.value.code == "image_too_small"


def test_missing_file_is_unreadable(tmp_path):
    with pytest.raises(ImageError) as err:
        decode(tmp_path / "nope.jpg")
    assert err.value.code == "unreadable"


def test_wrong_extension_still_decodes(tmp_path):
    path = tmp_path / "photo.gif"
    path.write_bytes(_save(_picture(), "PNG"))
    assert decode(path).format == "PNG"
