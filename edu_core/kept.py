"""A rejected photo the student says is fine ("It isn't covered — use it anyway").

The face gate's rules are ours and sometimes wrong. A student who overrules one keeps the photo; it
is cut around the face MediaPipe finds, exactly as an accepted photo would be, and the store keeps
the rejection reason next to the flag so a class measures how often each rule was overruled.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from edu_core.errors import EduError
from edu_core.faces import CropConfig, FaceResult, head_pose, square_crop
from edu_core.images import decode

# Nothing to cut from a file that is not a picture (or is refused before decoding).
CANNOT_KEEP = frozenset({"unreadable", "unsupported_format", "too_large", "image_too_small"})


def _find(lm: Any, rgb: np.ndarray, faint_confidence: float) -> tuple[Any, float, float, float] | None:
    """The largest face and how to map its landmarks back onto ``rgb`` (scale, dx, dy)."""
    faces = lm.detect(rgb)
    if faces:
        return max(faces, key=lambda f: f.area), 1.0, 0.0, 0.0
    # A close-up is found only once the photo is shrunk onto a larger canvas.
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    fill = tuple(int(v) for v in small[::4, ::4].reshape(-1, 3).mean(0))
    py, px = h // 4, w // 4
    canvas = cv2.copyMakeBorder(small, py, py, px, px, cv2.BORDER_CONSTANT, value=fill)
    faces = lm.detect(canvas)
    if faces:
        return max(faces, key=lambda f: f.area), w / small.shape[1], float(px), float(py)
    # The student has looked at the photo and says the face is there: a face seen only at low
    # confidence (often one under a fringe or a scarf) is then good enough to cut.
    faces = lm.detect_faint(rgb, faint_confidence) if faint_confidence > 0 else []
    if faces:
        return faces[0], 1.0, 0.0, 0.0
    return None


def cut_anyway(data: bytes, landmarker: Any, cfg: CropConfig = CropConfig()) -> FaceResult | None:
    """The face cut out of a rejected photo, or ``None`` when MediaPipe finds no face at all.

    No centred guess is made without a face: the data-pieces model needs the landmarks and
    expression scores, and a crop of the wrong region would teach the model nothing true.
    """
    try:
        image = decode(data, max_side=cfg.detect_max_side)
    except EduError:
        return None
    rgb = image.rgb
    found = _find(landmarker, rgb, cfg.faint_confidence)
    if found is None:
        return None
    face, k, dx, dy = found
    landmarks = face.landmarks.astype(np.float32).copy()
    landmarks[:, 0] = (landmarks[:, 0] - dx) * k
    landmarks[:, 1] = (landmarks[:, 1] - dy) * k
    landmarks[:, 2] = landmarks[:, 2] * k
    x0, y0 = float(landmarks[:, 0].min()), float(landmarks[:, 1].min())
    x1, y1 = float(landmarks[:, 0].max()), float(landmarks[:, 1].max())
    crop, crop_box = square_crop(rgb, (x0, y0, x1, y1), cfg.margin, cfg.crop_size)
    scale = cfg.crop_size / (crop_box[2] - crop_box[0])
    landmarks[:, 0] = (landmarks[:, 0] - crop_box[0]) * scale
    landmarks[:, 1] = (landmarks[:, 1] - crop_box[1]) * scale
    landmarks[:, 2] = landmarks[:, 2] * scale
    h, w = rgb.shape[:2]
    to_orig = 1.0 / image.scale
    box = tuple(int(round(v * to_orig)) for v in (max(0.0, x0), max(0.0, y0), min(w, x1), min(h, y1)))
    return FaceResult(
        status="ok",
        detail="kept by the student",
        image_size=image.original_size,
        box=box,  # type: ignore[arg-type]
        crop_box=tuple(int(round(v * to_orig)) for v in crop_box),  # type: ignore[arg-type]
        crop=crop,
        landmarks=landmarks,
        blendshapes=dict(face.blendshapes),
        pose=head_pose(face.matrix),
    )
