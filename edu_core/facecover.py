"""The cover features: is the mouth or are the eyes hidden, described in numbers.

Colour rules ("lips redder than cheeks", "eyes show white and iris") fail on real people: teeth
are white, dark skin and greyscale photos carry little redness, and many eyes are narrow. The gate
instead describes each face region by its lightness, texture and colour *relative to the same
face*, adds what MediaPipe itself reports (blendshapes), and a small logistic decision per part,
fitted by bench/fit_gate.py on real photos with drawn occluders, turns that into a probability.
The decision against the thresholds of ``CropConfig`` is in :mod:`edu_core.faces`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from edu_core import landmarks as mesh  # MediaPipe's index tables, read on first use
from edu_core.errors import ModelFileError

_GATE_FILE = Path(__file__).with_name("face_gate.json")
#: Bump when cover_features changes: face_gate.json must then be fitted again.
COVER_FEATURES_VERSION = 1
_FEATURE_SIZE = 128
_BLENDS = ("eyeBlinkLeft", "eyeBlinkRight", "eyeSquintLeft", "eyeSquintRight", "jawOpen", "mouthClose",
           "mouthSmileLeft", "mouthSmileRight", "mouthPucker", "mouthFunnel", "browDownLeft", "browDownRight",
           "browInnerUp", "eyeWideLeft", "eyeWideRight", "mouthShrugLower")  # fmt: skip
_REGIONS = ("lips", "mouth_ring", "chin", "low_cheeks", "up_cheeks", "nose", "eyes", "eye_ring", "forehead")


def _patch(img: np.ndarray, x: float, y: float, r: int) -> np.ndarray:
    h, w = img.shape[:2]
    x0, x1 = max(0, int(x) - r), min(w, int(x) + r + 1)
    y0, y1 = max(0, int(y) - r), min(h, int(y) + r + 1)
    return img[y0:y1, x0:x1].reshape(-1, img.shape[2]) if img.ndim == 3 else img[y0:y1, x0:x1].ravel()


def _polygon_mask(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask.astype(bool)


def _scaled(points: np.ndarray, k: float) -> np.ndarray:
    c = points.mean(0)
    return c + (points - c) * k


def _disc(shape: tuple[int, int], centres: np.ndarray, r: int) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    for x, y in centres:
        cv2.circle(m, (int(x), int(y)), r, 1, -1)
    return m.astype(bool)


def _median_rows(v: np.ndarray) -> np.ndarray:
    """np.median(v, axis=0) by one partial sort (np.median's own checks cost more than the sort)."""
    n = len(v)
    k = n // 2
    if n == 0:  # as np.median: nothing to judge
        return np.full(v.shape[1:], np.nan, np.float32)
    if n % 2:
        return np.partition(v, k, axis=0)[k]
    part = np.partition(v, (k - 1, k), axis=0)
    return (part[k - 1] + part[k]) * 0.5


def _percentiles(v: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """np.percentile's linear interpolation, by one partial sort for all of ``qs``."""
    pos = [q * (len(v) - 1) for q in qs]
    lo = [int(np.floor(x)) for x in pos]
    part = np.partition(v, sorted({*lo, *(min(i + 1, len(v) - 1) for i in lo)}))
    return [
        float(part[i]) + (x - i) * (float(part[min(i + 1, len(v) - 1)]) - float(part[i]))
        for x, i in zip(pos, lo, strict=True)
    ]


def _box_of(mask: np.ndarray) -> tuple[slice, slice]:
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    return slice(y, y + h), slice(x, x + w)


def cover_features(
    crop: np.ndarray, landmarks: np.ndarray, blendshapes: dict[str, float]
) -> dict[str, float]:
    """Numbers describing the mouth and eye regions of one face crop, normalised by that face.

    Per region: lightness offset from the face's median and spread (``d``), lightness spread
    (``s``), edge strength relative to the face's (``g``) and hue distance from the face's typical
    colour (``c``, 0 on a greyscale photo). Plus the contrast along the line between the lips, of
    iris against the white of the eye, the share of horizontal edges in the mouth, and MediaPipe's
    blendshapes (a covered mouth reads as closed and still).
    """
    # Judged at 128 px: the regions stay tens of pixels wide and the gate costs a few ms per photo.
    p = landmarks[:, :2].astype(np.float32)
    if crop.shape[0] != _FEATURE_SIZE:
        p = p * (_FEATURE_SIZE / crop.shape[0])
        crop = cv2.resize(crop, (_FEATURE_SIZE, _FEATURE_SIZE), interpolation=cv2.INTER_AREA)
    size = _FEATURE_SIZE
    shape = crop.shape[:2]
    lab = cv2.cvtColor(crop.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2LAB)
    big_l = cv2.GaussianBlur(lab[..., 0], (0, 0), 0.7)
    gx = cv2.Sobel(big_l, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(big_l, cv2.CV_32F, 0, 1, ksize=3)
    grad = cv2.magnitude(gx, gy)
    _, ch_a, ch_b = cv2.split(lab)  # contiguous planes: a mask picks from them several times faster
    face = _polygon_mask(shape, p[list(mesh.FACE_OVAL)])
    if face.sum() < 50:
        face = np.ones(shape, bool)
    l10, l_med, l90 = _percentiles(big_l[face], (0.1, 0.5, 0.9))
    l_scale = max(5.0, l90 - l10)
    g_ref = max(0.5, float(grad[face].mean()))
    fa, fb = ch_a[face], ch_b[face]
    ref_a, ref_b = float(_median_rows(fa)), float(_median_rows(fb))
    colourful = float((np.abs(fa - ref_a).mean() + np.abs(fb - ref_b).mean()) / 2) + 1.0
    r = max(2, size // 32)
    lips_pts = p[list(mesh.LIPS_OUTER)]
    lips = _polygon_mask(shape, lips_pts)
    ring = _polygon_mask(shape, _scaled(lips_pts, 1.7)) & ~lips
    eye_pts = [p[list(mesh.EYE_RIGHT)], p[list(mesh.EYE_LEFT)]]
    eyes = _polygon_mask(shape, _scaled(eye_pts[0], 1.3)) | _polygon_mask(shape, _scaled(eye_pts[1], 1.3))
    eye_ring = (
        _polygon_mask(shape, _scaled(eye_pts[0], 2.3)) | _polygon_mask(shape, _scaled(eye_pts[1], 2.3))
    ) & ~eyes
    regions = {
        "lips": lips,
        "mouth_ring": ring,
        "chin": _disc(shape, [(p[mesh.LOWER_LIP_BOTTOM] + p[mesh.CHIN]) / 2], r),
        "low_cheeks": _disc(shape, p[list(mesh.CHEEKS)], r),
        "up_cheeks": _disc(shape, p[list(mesh.UPPER_CHEEKS)], r),
        "nose": _disc(shape, p[list(mesh.NOSE_POINTS)], max(2, r // 2)),
        "eyes": eyes,
        "eye_ring": eye_ring,
        "forehead": _polygon_mask(shape, p[list(mesh.FOREHEAD_POLY)]),
    }
    out: dict[str, float] = {}
    for name in _REGIONS:
        m = regions[name]
        ys, xs = _box_of(m)
        m = m[ys, xs]
        n = int(np.count_nonzero(m))
        if n < 4:
            out.update({f"{name}_d": 0.0, f"{name}_s": 0.0, f"{name}_g": 0.0, f"{name}_c": 0.0})
            continue
        lv = big_l[ys, xs][m]
        dl = lv - lv.sum() / n
        out[f"{name}_d"] = (float(_median_rows(lv)) - l_med) / l_scale
        out[f"{name}_s"] = float(np.sqrt(np.dot(dl, dl) / n)) / l_scale
        out[f"{name}_g"] = float(grad[ys, xs][m].sum() / n) / g_ref
        da = float(_median_rows(ch_a[ys, xs][m])) - ref_a
        db = float(_median_rows(ch_b[ys, xs][m])) - ref_b
        out[f"{name}_c"] = float(np.hypot(da, db)) / colourful
    # the line where the lips meet: dark (closed), darker or brighter (open: mouth or teeth)
    line = np.concatenate(
        [_patch(big_l, *((p[a] + p[b]) / 2), max(1, r // 3)) for a, b in mesh.LIP_LINE_PAIRS]
    )
    body = lips & ~_polygon_mask(shape, p[list(mesh.LIPS_INNER)])
    ys, xs = _box_of(body)
    lip_body = big_l[ys, xs][body[ys, xs]]
    lip_l = float(_median_rows(lip_body)) if len(lip_body) else l_med
    out["lip_line"] = (float(_median_rows(line)) - lip_l) / l_scale
    out["lip_line_abs"] = abs(out["lip_line"])
    m = lips | ring
    ys, xs = _box_of(m)
    m = m[ys, xs]
    ax, ay = float(np.abs(gx[ys, xs][m]).mean()), float(np.abs(gy[ys, xs][m]).mean())
    out["mouth_horizontal"] = ay / (ax + ay + 1e-3)
    # iris against the white of the eye, on whichever side of the iris shows more white
    sclera = []
    irises = (
        (mesh.IRIS_CENTER_RIGHT, mesh.EYE_CORNERS_RIGHT),
        (mesh.IRIS_CENTER_LEFT, mesh.EYE_CORNERS_LEFT),
    )
    for iris, (c0, c1) in irises:
        il = float(_median_rows(_patch(big_l, *p[iris], max(1, r // 3))))
        side = [float(_median_rows(_patch(big_l, *((p[iris] + p[c]) / 2), max(1, r // 4)))) for c in (c0, c1)]
        sclera.append((max(side) - il) / l_scale)
    out["sclera_iris"] = (sclera[0] + sclera[1]) / 2
    out["sclera_iris_min"] = min(sclera)
    (rt, rb), (lt, lb) = mesh.EYE_LIDS_RIGHT, mesh.EYE_LIDS_LEFT
    outer = mesh.EYE_CORNERS_RIGHT[0], mesh.EYE_CORNERS_LEFT[1]
    out["eye_open"] = float(
        (np.hypot(*(p[rt] - p[rb])) + np.hypot(*(p[lt] - p[lb])))
        / 2
        / max(np.hypot(*(p[outer[0]] - p[outer[1]])), 1.0)
    )
    for b in _BLENDS:
        out[f"bs_{b}"] = float(blendshapes.get(b, 0.0))
    return out


@dataclass(frozen=True)
class CoverGate:
    """The fitted decision: per part, standardised features times weights plus a bias."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: dict[str, np.ndarray]  # "mouth" / "eyes"
    bias: dict[str, float]

    def probabilities(self, features: dict[str, float]) -> dict[str, float]:
        x = (np.array([features.get(n, 0.0) for n in self.names]) - self.mean) / self.scale
        x = np.clip(x, -8.0, 8.0)  # one wild number (a near-empty region) must not decide alone
        return {
            part: float(1.0 / (1.0 + np.exp(-(x @ w + self.bias[part])))) for part, w in self.weights.items()
        }

    @classmethod
    def from_dict(cls, d: dict) -> CoverGate:
        if d.get("features_version") != COVER_FEATURES_VERSION:
            raise ValueError(
                f"face gate made for features v{d.get('features_version')}, not v{COVER_FEATURES_VERSION}"
            )
        return cls(
            names=tuple(d["names"]),
            mean=np.asarray(d["mean"], np.float64),
            scale=np.asarray(d["scale"], np.float64),
            weights={k: np.asarray(v, np.float64) for k, v in d["weights"].items()},
            bias={k: float(v) for k, v in d["bias"].items()},
        )


def cover_gate(path: Path | None = None) -> CoverGate:
    """The shipped decision (edu_core/face_gate.json), loaded once; or the one in ``path``."""
    if path is not None:
        return CoverGate.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    return _shipped_gate()


@cache  # the shipped file never changes while the app runs
def _shipped_gate() -> CoverGate:
    try:
        return CoverGate.from_dict(json.loads(_GATE_FILE.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFileError("model_missing", f"cannot read {_GATE_FILE}: {exc}") from exc
