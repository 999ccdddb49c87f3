"""Find the face in a photo, cut it out, or say clearly why not.

MediaPipe's FaceLandmarker gives 478 landmarks, 52 expression blendshapes and the
head pose, but it happily "finds" a face behind a mask or sunglasses and finds
nothing in a tight close-up. The rejection rules here are ours: each rejected photo
gets exactly one reason code from :data:`REASONS`, and ``edu_core.i18n`` turns the
code into a sentence that tells the student what to do.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from edu_core.cli import print_json
from edu_core.errors import EduError
from edu_core.facecover import COVER_FEATURES_VERSION, CoverGate, cover_features, cover_gate
from edu_core.i18n import reason_message
from edu_core.images import DecodeConfig, decode, encode_png, read_bytes
from edu_core.landmarker import (
    MODEL_ENV,
    DetectedFace,
    Landmarker,
    LandmarkerPool,
    default_model_path,
    head_pose,
)
from edu_core.priority import background_thread

# The landmarker and the cover features live in their own modules; these names are part of what
# ``edu_core.faces`` offers its callers (the pages, the store, the benches), so they stay here too.
__all__ = [
    "COVER_FEATURES_VERSION",
    "CROP_SIZE",
    "MODEL_ENV",
    "REASONS",
    "CoverGate",
    "CropConfig",
    "DetectedFace",
    "FaceResult",
    "Landmarker",
    "LandmarkerPool",
    "cover_features",
    "cover_gate",
    "decide_cover",
    "default_model_path",
    "extract",
    "extract_many",
    "head_pose",
    "judge_cover",
    "light_and_focus",
    "main",
    "result_record",
    "square_crop",
]

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
    # When no face is found at all, one more look at this low confidence: a face found only then is
    # never accepted, but when the cover check finds its mouth or eyes covered, the student is told
    # which (instead of "no face"). 0 turns the second look off.
    faint_confidence: float = 0.2
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
    # Laplacian variance of the face at <= 128 px. The softest usable real photos (LFW news photos,
    # greyscale, upscaled from ~150 px faces) measure 9.4-15, the painted blurry samples 2.6-6.2,
    # and the astronaut portrait blurred with a 3.75 px radius 8.9 (bench/realfaces.py, rejections.py)
    blur_min_sharpness: float = 9.0
    # covered mouth / eyes: probabilities of edu_core/face_gate.json's decision (bench/fit_gate.py)
    # above which the part counts as covered; chosen on the fitting people's clean photos
    mouth_covered: float = 0.715
    eyes_covered: float = 0.797
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


# --- the gate decisions ------------------------------------------------------------------------


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
        data = read_bytes(source, decode_cfg)
        image = decode(data, max_side=cfg.detect_max_side, cfg=decode_cfg)
    except EduError as exc:
        return _rejected(exc.code, exc.detail)
    return _extract_decoded(data, image, cfg, landmarker, decode_cfg)


def _extract_decoded(data, image, cfg: CropConfig, lm: Landmarker, decode_cfg: DecodeConfig) -> FaceResult:
    rgb = image.rgb
    h, w = rgb.shape[:2]
    scale = image.scale
    known = {"image_size": image.original_size}

    faint = False
    faces = lm.detect(rgb)
    if not faces:
        if _found_when_zoomed_out(lm, rgb):
            return _rejected("close_up", "found only after zooming out", **known)
        faces = _find_in_tiles(lm, rgb, 0.6) or _find_in_tiles(lm, rgb, 0.35)
        if not faces and cfg.faint_confidence > 0:
            faces = lm.detect_faint(rgb, cfg.faint_confidence)
            faint = bool(faces)
        if not faces:
            return _rejected("no_face", **known)

    def reject(reason: str, detail: str) -> FaceResult:
        # A face seen only at low confidence is not trusted for any verdict but a covered part.
        if faint:
            return _rejected("no_face", f"faint face; {reason}: {detail}", image_size=image.original_size)
        return _rejected(reason, detail, **known)

    faces.sort(key=lambda f: f.area, reverse=True)
    face = faces[0]
    if len(faces) > 1 and face.area < cfg.dominant_face_ratio * faces[1].area:
        return reject("multiple_faces", f"{len(faces)} faces")

    x0, y0, x1, y1 = face.box
    to_orig = 1.0 / scale
    box_orig = tuple(int(round(v * to_orig)) for v in (max(0, x0), max(0, y0), min(w, x1), min(h, y1)))
    known["box"] = box_orig
    xs, ys = face.landmarks[:, 0], face.landmarks[:, 1]
    outside = float(np.mean((xs < 0) | (xs >= w) | (ys < 0) | (ys >= h)))
    if outside > cfg.outside_landmark_share:
        return reject("cut_off", f"{outside:.0%} of landmarks outside")
    if (y1 - y0) / h > cfg.close_up_face_share or (x1 - x0) / w > cfg.close_up_face_share:
        return reject("close_up", f"face {(y1 - y0) / h:.0%} of height")
    face_w_orig = (x1 - x0) * to_orig
    if face_w_orig < cfg.min_face_px or (x1 - x0) / w < cfg.min_face_share:
        return reject("face_too_small", f"face {face_w_orig:.0f}px wide")
    pose = head_pose(face.matrix)
    known["pose"] = pose
    if pose is not None and (abs(pose[0]) > cfg.max_yaw or abs(pose[1]) > cfg.max_pitch):
        return reject("turned_away", f"yaw {pose[0]:.0f} pitch {pose[1]:.0f}")

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    region = gray[max(0, int(y0)) : int(np.ceil(y1)), max(0, int(x0)) : int(np.ceil(x1))]
    quality = light_and_focus(region)
    quality["face_share"] = float((x1 - x0) * (y1 - y0) / (w * h))
    known["quality"] = quality
    if quality["brightness"] < cfg.dark_luma:
        return reject("too_dark", f"brightness {quality['brightness']:.0f}")
    if quality["brightness"] > cfg.bright_luma or quality["clipped"] > cfg.bright_clipped_share:
        return reject("too_bright", f"brightness {quality['brightness']:.0f}")
    if quality["sharpness"] < cfg.blur_min_sharpness:
        return reject("blurry", f"sharpness {quality['sharpness']:.1f}")

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
            return _rejected(reason, detail + (" (faint face)" if faint else ""), **known)
    if faint:
        if not cfg.check_cover:  # the caller makes the cover decision (bench/realfaces.py): keep the cut
            return _rejected("no_face", "faint face", **known)
        return reject("no_face", "not covered")
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
    parser = argparse.ArgumentParser(prog="python -m edu_core.faces", description=main.__doc__)
    parser.add_argument("images", nargs="+", help="photo files to extract faces from")
    parser.add_argument("--json", action="store_true", help="one JSON object per image on stdout")
    parser.add_argument("--out", type=Path, help="write accepted face crops (PNG) into this folder")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    results = extract_many(args.images, workers=args.workers)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    for i, (name, result) in enumerate(zip(args.images, results, strict=True)):
        record = result_record(name, result)
        if args.out and result.ok and result.crop is not None:
            target = args.out / f"{i:04d}_{Path(name).stem}.png"
            target.write_bytes(encode_png(result.crop))
            record["crop_file"] = str(target)
        if args.json:
            print_json(record)
        else:
            verdict = "ok" if result.ok else f"{result.reason}: {record['message_ko']}"
            print(f"{name}\t{verdict}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
