"""Backgrounds, the camera (light, blur, noise) and :func:`render` / :func:`encode_jpeg`."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from edu_core.samples.canvas import _Canvas, _Head
from edu_core.samples.painter import _draw_person
from edu_core.samples.spec import BACKGROUNDS, FaceSpec, Rendered, SampleError

# ---------------------------------------------------------------------------------------------
# Backgrounds: ten painted places


_PALETTES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "public_building": ((205, 205, 200), (170, 165, 150), (120, 125, 130), (90, 110, 140)),
    "transport": ((180, 185, 190), (80, 90, 100), (220, 200, 60), (60, 120, 170)),
    "shop_market": ((230, 200, 150), (200, 60, 50), (60, 140, 80), (250, 230, 180)),
    "sports_venue": ((70, 140, 70), (200, 80, 60), (220, 220, 220), (40, 70, 150)),
    "entertainment": ((40, 30, 60), (200, 50, 120), (250, 200, 80), (60, 150, 220)),
    "office_event": ((225, 225, 220), (150, 160, 170), (60, 70, 90), (180, 150, 110)),
    "nature": ((140, 190, 235), (70, 130, 60), (40, 90, 40), (120, 100, 70)),
    "city_street": ((160, 175, 195), (110, 110, 115), (170, 150, 130), (70, 75, 85)),
    "heritage_site": ((150, 190, 225), (150, 50, 40), (80, 110, 80), (200, 180, 140)),
    "home_lodging": ((235, 225, 205), (160, 120, 80), (200, 190, 170), (100, 140, 160)),
}


def _background(name: str, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Paint a place from one of the ten background categories at (w, h)."""
    if name not in _PALETTES:
        raise SampleError("sample_error", f"unknown background {name!r}; allowed: {', '.join(BACKGROUNDS)}")
    pal = [np.array(c, np.float32) + rng.normal(0, 10, 3) for c in _PALETTES[name]]
    im = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(im)
    horizon = int(h * rng.uniform(0.45, 0.75))

    def col(i: int, jit: float = 18) -> tuple[int, int, int]:
        c = pal[i % len(pal)] + rng.normal(0, jit, 3)
        return tuple(int(v) for v in np.clip(c, 0, 255))

    # sky/wall and floor/ground as vertical gradients
    yy = np.linspace(0, 1, h)[:, None, None]
    top = pal[0] * (1.08 - 0.2 * yy)
    arr = np.broadcast_to(top, (h, w, 3)).copy()
    floor = pal[1] if name not in ("nature", "heritage_site") else pal[2]
    arr[horizon:] = floor * (0.75 + 0.3 * np.linspace(0, 1, h - horizon)[:, None, None])
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    if name in ("nature",):
        for _ in range(int(rng.integers(4, 9))):
            x = rng.uniform(0, w)
            tw = rng.uniform(0.08, 0.2) * w
            th = rng.uniform(0.3, 0.6) * h
            d.rectangle([x - tw * 0.08, horizon - th * 0.4, x + tw * 0.08, horizon + 10], fill=col(3))
            d.ellipse([x - tw, horizon - th, x + tw, horizon - th * 0.3], fill=col(2, 25))
        d.polygon(
            [(0, horizon), (w * 0.3, horizon - h * 0.2), (w * 0.7, horizon - 0.05 * h), (w, horizon)],
            fill=col(2, 10),
        )
    elif name in ("city_street", "public_building", "heritage_site"):
        x = -rng.uniform(0, 0.1) * w
        while x < w:
            bw = rng.uniform(0.12, 0.3) * w
            bh = rng.uniform(0.25, 0.65) * h
            c = col(1 if name != "heritage_site" else 3)
            d.rectangle([x, horizon - bh, x + bw, horizon], fill=c)
            if name == "heritage_site":
                d.polygon(
                    [
                        (x - bw * 0.15, horizon - bh),
                        (x + bw / 2, horizon - bh - 0.12 * h),
                        (x + bw * 1.15, horizon - bh),
                    ],
                    fill=col(1),
                )
                d.rectangle([x + bw * 0.1, horizon - bh * 0.9, x + bw * 0.18, horizon], fill=col(1))
                d.rectangle([x + bw * 0.82, horizon - bh * 0.9, x + bw * 0.9, horizon], fill=col(1))
            else:
                # tall panes that mirror the sky: dark square windows in pairs look like eyes to
                # a face detector, which real glass facades rarely do
                glass = 0.5 * pal[0] + np.array([100.0, 105.0, 112.0])
                for wy in np.arange(horizon - bh + 10, horizon - 15, max(14, h * 0.075)):
                    for wx in np.arange(x + 6, x + bw - 12, max(10, w * 0.035)):
                        c = tuple(int(v) for v in np.clip(glass + rng.normal(0, 12, 3), 0, 255))
                        d.rectangle([wx, wy, wx + w * 0.022, wy + h * 0.055], fill=c)
            x += bw + rng.uniform(0, 0.05) * w
    elif name in ("transport",):
        d.rectangle([0, h * 0.15, w, h * 0.22], fill=col(2))
        for _ in range(int(rng.integers(3, 6))):
            x = rng.uniform(0, w)
            d.rectangle([x, h * 0.25, x + w * rng.uniform(0.1, 0.2), horizon - h * 0.05], fill=col(3))
        d.line([(0, horizon), (w, horizon)], fill=col(2), width=max(2, h // 60))
    elif name in ("shop_market", "office_event", "home_lodging"):
        for _ in range(int(rng.integers(3, 7))):
            x = rng.uniform(-0.1, 1.0) * w
            y = rng.uniform(0.05, 0.6) * h
            sw = rng.uniform(0.1, 0.35) * w
            sh_ = rng.uniform(0.1, 0.3) * h
            d.rectangle([x, y, x + sw, y + sh_], fill=col(int(rng.integers(1, 4))))
            if name == "shop_market":
                for _ in range(int(rng.integers(3, 8))):
                    ox = x + rng.uniform(0, sw)
                    oy = y + rng.uniform(0, sh_)
                    r = rng.uniform(0.01, 0.03) * w
                    d.ellipse([ox - r, oy - r, ox + r, oy + r], fill=col(int(rng.integers(0, 4)), 40))
        if name == "home_lodging":
            x = rng.uniform(0.1, 0.8) * w
            d.rectangle([x, h * 0.1, x + w * 0.18, h * 0.45], fill=(200, 220, 235))
            d.rectangle([x, h * 0.1, x + w * 0.18, h * 0.45], outline=col(1), width=max(2, w // 120))
    elif name in ("sports_venue",):
        for i in range(6):
            y = horizon - (i + 1) * h * 0.06
            d.rectangle([0, y, w, y + h * 0.04], fill=col(int(i % 3) + 1))
        d.line([(0, horizon + h * 0.1), (w, horizon + h * 0.05)], fill=(240, 240, 240), width=max(2, h // 80))
    elif name in ("entertainment",):
        for _ in range(int(rng.integers(6, 14))):
            x, y = rng.uniform(0, w), rng.uniform(0, h * 0.6)
            r = rng.uniform(0.01, 0.05) * w
            d.ellipse([x - r, y - r, x + r, y + r], fill=col(int(rng.integers(1, 4)), 30))
    out = np.asarray(im, np.float32)
    # large soft light blobs make the scene less flat
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    lx, ly = rng.uniform(0, w), rng.uniform(0, h * 0.6)
    glow = np.exp(-(((xx - lx) / (0.6 * w)) ** 2 + ((yy - ly) / (0.6 * h)) ** 2))
    out = out * (0.85 + 0.3 * glow[..., None])
    return out


# ---------------------------------------------------------------------------------------------
# Rendering


def _work_size(size: tuple[int, int]) -> tuple[int, int]:
    """Paint at twice the size for anti-aliasing, but never more than 1600 px on a side (speed)."""
    w, h = size
    f = min(2.0, 1600 / max(w, h))
    return max(32, int(round(w * f))), max(32, int(round(h * f)))


def render(spec: FaceSpec, *, size: tuple[int, int] = (640, 480)) -> Rendered:
    """Paint ``spec`` as a ``size = (width, height)`` RGB picture.

    The same spec and size always give the same pixels. The returned boxes are the true face
    boxes (forehead to chin) in output pixels; people are painted from the back of the
    picture to the front in the order given, the first one last so it is never hidden.
    """
    w, h = int(size[0]), int(size[1])
    if w < 32 or h < 32 or w > 8192 or h > 8192:
        raise SampleError("sample_error", f"size {size} out of range 32..8192")
    rng = np.random.default_rng(spec.seed)
    ww, wh = _work_size((w, h))
    bg_small = _background(spec.background, max(32, ww // 4), max(32, wh // 4), rng)
    bg = Image.fromarray(np.clip(bg_small, 0, 255).astype(np.uint8)).resize((ww, wh), Image.BILINEAR)
    bb = spec.background_blur * ww / 640
    if bb > 0.3:
        bg = bg.filter(ImageFilter.GaussianBlur(bb))
    cv = _Canvas(np.asarray(bg))
    boxes: list[tuple[int, int, int, int]] = []
    f = w / ww
    for person in reversed(spec.people):
        _draw_person(cv, spec, person, np.random.default_rng([spec.seed, len(boxes)]))
    for person in spec.people:
        x0, y0, x1, y1 = _Head(person, ww, wh).face_box()
        boxes.append((int(round(x0 * f)), int(round(y0 * f)), int(round(x1 * f)), int(round(y1 * f))))
    img = cv.img
    # light fall-off across the frame and the colour of the light
    yy, xx = np.mgrid[0:wh, 0:ww].astype(np.float32)
    gx, gy = spec.light
    ramp = 1.0 + 0.12 * (-(xx / ww - 0.5) * gx * 2 - (yy / wh - 0.5) * gy * 2)
    vign = 1.0 - 0.25 * (((xx / ww - 0.5) ** 2 + (yy / wh - 0.5) ** 2) * 2)
    tint = np.array([1 + 0.06 * spec.warmth, 1.0, 1 - 0.08 * spec.warmth], np.float32)
    img = img * (ramp * vign)[..., None] * tint
    if spec.auto_exposure and spec.people:
        x0, y0, x1, y1 = (int(round(v / f)) for v in boxes[0])
        face = img[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)]
        if face.size:
            luma = float((face @ np.array([0.299, 0.587, 0.114], np.float32)).mean())
            img = img * float(np.clip(105.0 / max(luma, 1.0), 1.0, 1.7))
    img = img * spec.exposure
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    if (ww, wh) != (w, h):
        out = out.resize((w, h), Image.LANCZOS if ww > w else Image.BICUBIC)
    sigma = spec.blur * w / 640
    if sigma > 0.2:
        out = out.filter(ImageFilter.GaussianBlur(sigma))
    arr = np.asarray(out, np.float32)
    if spec.noise > 0:
        arr = arr + rng.normal(0.0, spec.noise, arr.shape).astype(np.float32)
    rgb = np.clip(np.round(arr), 0, 255).astype(np.uint8)
    return Rendered(rgb=rgb, face_box=boxes[0] if boxes else None, boxes=tuple(boxes))


def encode_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    """JPEG bytes without timestamps or other varying metadata (byte-for-byte reproducible)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()
