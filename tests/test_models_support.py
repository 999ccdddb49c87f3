"""Synthetic face results for the model tests (no MediaPipe, no photos).

Each class moves the landmarks and blendshapes the way the real expression does
(joy lifts the mouth corners, surprise opens eyes and mouth, ...) and paints a
class-specific pattern into the crop, so both the pieces model and the CNN have
something real to learn — and a broken training loop shows up as chance accuracy.
"""

from __future__ import annotations

import numpy as np

from edu_core.faces import FaceResult
from edu_core.features import REGION_LANDMARKS
from edu_core.landmarks import BLENDSHAPE_NAMES

CLASSES = ("joy", "sadness", "surprise", "anger", "neutral")

# (blendshapes raised, mouth-corner lift px, brow lift px, eye opening px, mouth opening px)
_STYLE = {
    "joy": ({"mouthSmileLeft": 0.8, "mouthSmileRight": 0.8, "cheekSquintLeft": 0.5}, 8.0, 0.0, -1.0, 3.0),
    "sadness": ({"mouthFrownLeft": 0.6, "mouthFrownRight": 0.6, "browInnerUp": 0.6}, -6.0, 3.0, -1.0, 0.0),
    "surprise": (
        {"jawOpen": 0.7, "eyeWideLeft": 0.7, "eyeWideRight": 0.7, "browOuterUpLeft": 0.6},
        0.0,
        8.0,
        4.0,
        14.0,
    ),
    "anger": ({"browDownLeft": 0.7, "browDownRight": 0.7, "mouthPressLeft": 0.5}, -2.0, -6.0, -2.0, 0.0),
    "neutral": ({}, 0.0, 0.0, 0.0, 0.0),
}
_COLOURS = {
    "joy": (230, 180, 60),
    "sadness": (60, 90, 200),
    "surprise": (240, 240, 240),
    "anger": (200, 40, 40),
    "neutral": (120, 120, 120),
}


def _base_landmarks(rng: np.random.Generator) -> np.ndarray:
    lm = np.zeros((478, 3), dtype=np.float32)
    lm[:, 0] = rng.uniform(60, 196, 478)
    lm[:, 1] = rng.uniform(60, 220, 478)
    fixed = {
        33: (80, 110),
        133: (112, 110),
        159: (96, 104),
        145: (96, 116),
        263: (176, 110),
        362: (144, 110),
        386: (160, 104),
        374: (160, 116),
        107: (112, 90),
        105: (96, 86),
        70: (78, 90),
        336: (144, 90),
        334: (160, 86),
        300: (178, 90),
        61: (100, 180),
        291: (156, 180),
        0: (128, 170),
        13: (128, 176),
        14: (128, 184),
        17: (128, 192),
        1: (128, 148),
        168: (128, 108),
        152: (128, 230),
    }
    # outline points of eyes, brows and lips sit on small ellipses/arcs around their centres
    for outline, (cx, cy, rx, ry) in (
        (REGION_LANDMARKS["eyes"][0], (96, 110, 16, 6)),
        (REGION_LANDMARKS["eyes"][1], (160, 110, 16, 6)),
        (REGION_LANDMARKS["eyebrows"][0], (95, 88, 18, 3)),
        (REGION_LANDMARKS["eyebrows"][1], (161, 88, 18, 3)),
        (REGION_LANDMARKS["mouth"][0], (128, 181, 28, 11)),
    ):
        t = np.linspace(0, 2 * np.pi, len(outline), endpoint=False)
        lm[list(outline), 0] = cx + rx * np.cos(t)
        lm[list(outline), 1] = cy + ry * np.sin(t)
    for i, (x, y) in fixed.items():
        lm[i, :2] = (x, y)
    return lm


def synthetic_face(label: str, rng: np.random.Generator, noise: float = 1.0) -> FaceResult:
    """One accepted FaceResult whose pieces and crop carry ``label``."""
    shapes, corner, brow, eye, mouth = _STYLE[label]
    lm = _base_landmarks(rng)
    lm[[61, 291], 1] -= corner
    lm[[107, 105, 70, 336, 334, 300], 1] -= brow
    lm[[159, 386], 1] -= eye / 2
    lm[[145, 374], 1] += eye / 2
    lm[14, 1] += mouth
    lm[17, 1] += mouth
    lm[:, :2] += rng.normal(0, noise, (478, 2))
    # a random shift, scale and roll that the features must cancel out
    ang = np.radians(rng.uniform(-10, 10))
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    lm[:, :2] = (lm[:, :2] - 128) @ rot.T * rng.uniform(0.9, 1.1) + 128 + rng.uniform(-5, 5, 2)
    bs = {n: float(np.clip(rng.normal(0.05, 0.05), 0, 1)) for n in BLENDSHAPE_NAMES if n != "_neutral"}
    for n, v in shapes.items():
        bs[n] = float(np.clip(v + rng.normal(0, 0.15 * noise), 0, 1))
    crop = rng.integers(0, 60, (256, 256, 3)).astype(np.uint8)
    crop[150:210, 80:176] = np.array(_COLOURS[label], dtype=np.uint8)
    return FaceResult(
        status="ok",
        crop=crop,
        landmarks=lm.astype(np.float32),
        blendshapes=bs,
        pose=(float(rng.normal(0, 5)), float(rng.normal(0, 5)), float(np.degrees(ang))),
    )


def synthetic_set(n_per_class: int, seed: int = 0, classes=CLASSES, noise: float = 1.0):
    """(faces, labels) with ``n_per_class`` faces of each class, shuffled."""
    rng = np.random.default_rng(seed)
    labels = [c for c in classes for _ in range(n_per_class)]
    order = rng.permutation(len(labels))
    labels = [labels[i] for i in order]
    return [synthetic_face(y, rng, noise) for y in labels], labels
