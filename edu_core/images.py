"""Decode anything a student can upload into an upright RGB array.

Phones save photos sideways or mirrored and record the fix in EXIF; schools send
HEIC from iPhones, 16-bit PNGs from scanners and CMYK JPEGs from print shops.
Everything here ends as ``uint8`` RGB, the way a person sees the picture, or as an
:class:`~edu_core.errors.ImageError` whose code names what went wrong.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from edu_core.errors import ImageError

try:  # HEIC/HEIF from phones; optional so a broken libheif never blocks the rest
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is in requirements.txt
    HEIF_SUPPORTED = False

# Reason codes raised by this module (messages live in edu_core.i18n).
REASONS = ("unreadable", "unsupported_format", "too_large", "image_too_small")


@dataclass(frozen=True)
class DecodeConfig:
    """Limits for one decoded image. Defaults suit classroom phone photos."""

    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 50_000_000  # a 8000x6000 phone photo is 48 MP
    min_side: int = 64


@dataclass(frozen=True)
class DecodedImage:
    """An upright RGB picture plus what is known about the original file."""

    rgb: np.ndarray  # (H, W, 3) uint8, EXIF orientation applied
    original_size: tuple[int, int]  # (width, height) of the upright full-size image
    format: str  # PIL format name, e.g. "JPEG", "HEIF"
    scale: float  # rgb width / original width (< 1 when a reduced decode was used)
    orientation: int  # EXIF orientation that was applied (1 = none)


# Containers that are certainly not pictures, recognised from their first bytes so
# the student hears "this is a video" rather than "broken file".
_NOT_IMAGES = (
    (b"PK\x03\x04", "zip"),
    (b"%PDF", "pdf"),
    (b"\x1aE\xdf\xa3", "webm/mkv"),
    (b"RIFF", "riff"),  # WebP is RIFF....WEBP, checked below
    (b"OggS", "ogg"),
    (b"ID3", "mp3"),
    (b"\x7fELF", "executable"),
    (b"MZ", "executable"),
)


def _sniff_non_image(head: bytes) -> str | None:
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        # HEIC/HEIF/AVIF share the ISO container with MP4/MOV; only the brand differs.
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif"):
            return None
        return "video"
    for magic, kind in _NOT_IMAGES:
        if head.startswith(magic):
            if kind == "riff" and head[8:12] == b"WEBP":
                return None
            return "video" if kind == "riff" else kind
    stripped = head.lstrip()
    if stripped[:1] in (b"<", b"{", b"[") or stripped[:5].lower() == b"<html":
        return "text"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head[:512]):
        return "text"
    return None


def read_bytes(
    source: bytes | bytearray | memoryview | str | Path, cfg: DecodeConfig = DecodeConfig()
) -> bytes:
    """Return the bytes of ``source`` (a path or bytes), enforcing the size limit."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > cfg.max_bytes:
                raise ImageError("too_large", f"{size} bytes")
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            raise ImageError("unreadable", str(exc)) from exc
    if len(data) > cfg.max_bytes:
        raise ImageError("too_large", f"{len(data)} bytes")
    if not data:
        raise ImageError("unreadable", "empty file")
    return data


def _exif_orientation(im: Image.Image) -> int:
    """The EXIF (or XMP) orientation Pillow reads, 1 when it is missing, out of range or unreadable.

    HEIC needs nothing special: libheif already turns the picture upright while decoding and
    pillow-heif then resets the EXIF orientation to 1 (keeping the original in
    ``info["original_orientation"]``), so a HEIC photo is never turned twice and reports 1 here.
    """
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - corrupt EXIF blocks must not hide the picture
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _to_rgb(im: Image.Image) -> Image.Image:
    """Flatten any PIL mode onto white and convert to 8-bit RGB."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(arr.astype(np.uint8), "L").convert("RGB")
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
        mode = im.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode == "RGB":
        return im
    return im.convert("RGB")


def decode(
    source: bytes | bytearray | memoryview | str | Path,
    *,
    max_side: int | None = None,
    cfg: DecodeConfig = DecodeConfig(),
) -> DecodedImage:
    """Decode ``source`` into an upright RGB image.

    ``max_side`` asks for a picture whose longer side is at least roughly that many
    pixels: big JPEGs are then decoded at 1/2, 1/4 or 1/8 scale straight from the
    compressed data (draft mode), which is several times faster than a full decode.
    Other formats are decoded fully and downsized.
    """
    data = read_bytes(source, cfg)
    kind = _sniff_non_image(data[:512])
    if kind is not None:
        raise ImageError("unsupported_format", kind)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            fmt = im.format or "?"
            w, h = im.size
            if w * h > cfg.max_pixels:
                raise ImageError("too_large", f"{w}x{h} pixels")
            orientation = _exif_orientation(im)
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
            if max_side and fmt == "JPEG" and max(w, h) > max_side:
                # draft() picks the smallest DCT scale that stays >= the requested box.
                ratio = max_side / max(w, h)
                im.draft("RGB", (max(1, int(w * ratio)), max(1, int(h * ratio))))
            im.load()
            if orientation != 1:
                # Pillow's own table of the eight orientations; before the colour conversion,
                # which can drop the EXIF block (an alpha composite makes a new image).
                ImageOps.exif_transpose(im, in_place=True)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("too_large", str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise ImageError("unsupported_format", "not a picture") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, MemoryError) as exc:
        # Truncated or corrupt data: PIL reports these as OSError/SyntaxError.
        raise ImageError("unreadable", str(exc)) from exc

    try:
        rgb_im = _to_rgb(im)
    except (OSError, ValueError) as exc:
        raise ImageError("unreadable", str(exc)) from exc

    full_w, full_h = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    if max_side and max(rgb_im.size) > max_side * 2:
        # Non-JPEG or a JPEG whose draft scale was not enough: downsize to the request.
        ratio = max_side / max(rgb_im.size)
        rgb_im = rgb_im.resize(
            (max(1, round(rgb_im.width * ratio)), max(1, round(rgb_im.height * ratio))),
            Image.Resampling.BILINEAR,
        )
    if min(full_w, full_h) < cfg.min_side:
        raise ImageError("image_too_small", f"{full_w}x{full_h}")
    rgb = np.asarray(rgb_im, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:  # pragma: no cover - _to_rgb guarantees RGB
        raise ImageError("unreadable", f"unexpected shape {rgb.shape}")
    return DecodedImage(
        rgb=np.ascontiguousarray(rgb),
        original_size=(full_w, full_h),
        format=fmt,
        scale=rgb.shape[1] / full_w,
        orientation=orientation,
    )


def apply_orientation(im: Image.Image) -> Image.Image:
    """Public helper for other modules: the EXIF-upright copy of a PIL image."""
    return ImageOps.exif_transpose(im) or im


def encode_jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    """JPEG bytes of an RGB array (used for stored crops and thumbnails)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def encode_png(rgb: np.ndarray) -> bytes:
    """Lossless PNG bytes of an RGB array."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()
