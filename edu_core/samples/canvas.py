"""The painter's drawing surface and the face-to-pixel mapping of one head."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from edu_core.samples.spec import Person

# ---------------------------------------------------------------------------------------------
# The painter


def _rot(x: np.ndarray, y: np.ndarray, deg: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return x * c - y * s, x * s + y * c


class _Canvas:
    """A float RGB image that shapes are composited onto, one soft-edged mask at a time.

    Every shape only touches its own bounding box, so painting costs grow with the shape,
    not with the picture.
    """

    def __init__(self, rgb: np.ndarray) -> None:
        self.img = rgb.astype(np.float32)
        self.h, self.w = self.img.shape[:2]

    def _mask(
        self, draw_fn: Callable[[ImageDraw.ImageDraw, float, float], None], bbox: tuple, blur: float
    ) -> tuple[tuple[slice, slice], np.ndarray, tuple[int, int]] | None:
        pad = int(math.ceil(blur * 3)) + 2
        x0 = max(0, int(math.floor(bbox[0])) - pad)
        y0 = max(0, int(math.floor(bbox[1])) - pad)
        x1 = min(self.w, int(math.ceil(bbox[2])) + pad)
        y1 = min(self.h, int(math.ceil(bbox[3])) + pad)
        if x1 <= x0 or y1 <= y0:
            return None
        im = Image.new("L", (x1 - x0, y1 - y0), 0)
        draw_fn(ImageDraw.Draw(im), x0, y0)
        if blur > 0.3:
            im = im.filter(ImageFilter.GaussianBlur(blur))
        m = np.asarray(im, dtype=np.float32) / 255.0
        return (slice(y0, y1), slice(x0, x1)), m, (x0, y0)

    def poly_mask(self, pts: np.ndarray, blur: float):
        def fn(d: ImageDraw.ImageDraw, ox: float, oy: float) -> None:
            d.polygon([(float(x - ox), float(y - oy)) for x, y in pts], fill=255)

        return self._mask(fn, (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()), blur)

    def line_mask(self, pts: np.ndarray, width: float, blur: float):
        def fn(d: ImageDraw.ImageDraw, ox: float, oy: float) -> None:
            d.line(
                [(float(x - ox), float(y - oy)) for x, y in pts], fill=255, width=max(1, int(round(width)))
            )

        r = width
        return self._mask(
            fn, (pts[:, 0].min() - r, pts[:, 1].min() - r, pts[:, 0].max() + r, pts[:, 1].max() + r), blur
        )

    def apply(self, mk, colour, alpha: float = 1.0, mode: str = "normal") -> None:
        """Blend ``colour`` (RGB tuple or a function of the pixel grid) through mask ``mk``."""
        if mk is None:
            return
        sl, m, (x0, y0) = mk
        m = m[..., None] * alpha
        region = self.img[sl]
        if callable(colour):
            yy, xx = np.mgrid[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]].astype(np.float32)
            col = colour(xx, yy)
        else:
            col = np.asarray(colour, np.float32)
        if mode == "multiply":
            region *= 1.0 - m + m * col
        else:
            region += (col - region) * m

    def fill(self, pts, colour, *, blur: float = 0.8, alpha: float = 1.0, mode: str = "normal") -> None:
        self.apply(self.poly_mask(np.asarray(pts, np.float32), blur), colour, alpha, mode)

    def stroke(
        self, pts, width, colour, *, blur: float = 0.8, alpha: float = 1.0, mode: str = "normal"
    ) -> None:
        self.apply(self.line_mask(np.asarray(pts, np.float32), width, blur), colour, alpha, mode)


def _ellipse(
    cx: float, cy: float, rx: float, ry: float, n: int = 40, t0: float = 0.0, t1: float = 2 * math.pi
):
    t = np.linspace(t0, t1, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


class _Head:
    """Maps face coordinates to picture pixels for one person.

    Face units: x to the picture's right, y down, half the face width = 1, origin between
    the eyes and the mouth. A point's depth comes from an ellipsoid so that turning the head
    (yaw/pitch) moves the features across the face while the outline stays put.
    """

    def __init__(self, person: Person, width: int, height: int) -> None:
        self.p = person
        self.ident = person.identity
        self.scale = person.face_share * width / 2.0
        self.cx = person.center[0] * width
        self.cy = person.center[1] * height
        self.yaw = math.radians(person.yaw)
        self.pitch = math.radians(person.pitch)

    def depth(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return 0.95 * np.sqrt(np.clip(1.0 - (x / 1.05) ** 2 - (y / 1.5) ** 2, 0.0, 1.0))

    def pts(self, xy, z: np.ndarray | float | None = None) -> np.ndarray:
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        x, y = xy[:, 0], xy[:, 1]
        zz = self.depth(x, y) if z is None else np.broadcast_to(np.asarray(z, np.float64), x.shape)
        x1 = x * math.cos(self.yaw) + zz * math.sin(self.yaw)
        z1 = -x * math.sin(self.yaw) + zz * math.cos(self.yaw)
        y2 = y * math.cos(self.pitch) - z1 * math.sin(self.pitch) * 0.6
        xr, yr = _rot(x1, y2, self.p.roll)
        return np.stack([self.cx + self.scale * xr, self.cy + self.scale * yr], axis=1)

    def outline(self, n: int = 72, grow: float = 0.0) -> np.ndarray:
        """Face outline (forehead to chin) in face units."""
        shape = self.ident.face_shape
        e = self.p.expression
        chin = 1.3 * self.ident.face_length + 0.12 * e.mouth_open
        top = -1.45 * self.ident.face_length
        t = np.linspace(0, 2 * math.pi, n, endpoint=False)
        x = np.cos(t)
        y = np.sin(t)
        lower = y > 0
        taper = {"oval": 0.38, "round": 0.22, "square": 0.12, "long": 0.35, "heart": 0.55}[shape]
        taper = taper / self.ident.jaw
        xs = x * (1.0 + 0.05 * (shape == "round"))
        xs = np.where(lower, xs * (1.0 - taper * y**2 * (1.0 if shape != "square" else 0.7)), xs)
        if shape == "square":
            xs = np.sign(xs) * np.abs(xs) ** 0.8 * np.where(lower, 0.97, 1.0)
        if shape == "heart":
            xs = np.where(~lower, xs * 1.04, xs)
        ys = np.where(lower, y * chin, y * -top)
        if shape == "long":
            ys = ys * 1.05
        return np.stack([xs * (1 + grow), ys * (1 + grow)], axis=1)

    def face_box(self) -> tuple[float, float, float, float]:
        """The annotator-style face box: brow-top of forehead to chin, cheek to cheek."""
        o = self.outline()
        o = o[o[:, 1] > -1.0]
        p = self.pts(o, z=0.0)
        return float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())


def _skin_shader(head: _Head, base: np.ndarray, light: tuple[float, float], strength: float):
    lx, ly = light
    lz = 0.9
    norm = math.sqrt(lx * lx + ly * ly + lz * lz)
    lx, ly, lz = lx / norm, ly / norm, lz / norm
    c, s = math.cos(math.radians(-head.p.roll)), math.sin(math.radians(-head.p.roll))

    def colour(xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
        u = (xx - head.cx) / head.scale
        v = (yy - head.cy) / head.scale
        u, v = u * c - v * s, u * s + v * c
        u = u - math.sin(head.yaw) * 0.35
        nz = np.sqrt(np.clip(1.0 - (u / 1.08) ** 2 - (v / 1.55) ** 2, 0.02, 1.0))
        nx, ny = u / 1.08, v / 1.55
        d = np.clip(nx * lx + ny * ly + nz * lz, 0.0, 1.0)
        shade = (1.0 - strength) + strength * d
        rim = np.clip(nz, 0, 1) ** 0.35
        return base[None, None, :] * (shade * (0.75 + 0.25 * rim))[..., None]

    return colour
