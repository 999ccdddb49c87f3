"""The pieces-model features: MediaPipe blendshapes plus landmark distances, grouped in data pieces.

A face's feature vector is its 52 blendshapes (all but where the eyes look) followed by
:data:`GEOMETRY_FEATURES`, each column tagged with its data piece (eyebrows, eyes, mouth,
other) so the explanations can say which part of the face pushed a prediction. Only numpy:
reading features never loads torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from edu_core import landmarks as mesh  # (named apart from the functions' landmarks arrays)

PIECES: tuple[str, ...] = ("eyebrows", "eyes", "mouth", "other")

#: The data pieces the CNN region test can hide, each an outline per side (:func:`region_landmarks`).
REGIONS: tuple[str, ...] = ("eyebrows", "eyes", "mouth")


@cache
def feature_blendshapes() -> tuple[str, ...]:
    """The blendshapes the pieces model reads: all but where the eyes look (eyeLook*).

    Gaze is not an expression, and in real photos people look anywhere; measured on real photos
    of new people (bench/realfaces_models.py) the model is as accurate or better without them.
    """
    return tuple(n for n in mesh.BLENDSHAPE_NAMES if not n.startswith("eyeLook"))


@cache
def region_landmarks() -> dict[str, tuple[tuple[int, ...], ...]]:
    """Landmark outlines (one polygon per side) of the :data:`REGIONS` the CNN region test hides."""
    return {
        "eyebrows": (mesh.BROW_RIGHT, mesh.BROW_LEFT),
        "eyes": (mesh.EYE_RIGHT, mesh.EYE_LEFT),
        "mouth": (mesh.LIPS_OUTER,),
    }


def _blendshape_piece(name: str) -> str:
    if name.startswith("brow"):
        return "eyebrows"
    if name.startswith("eye"):
        return "eyes"
    if name.startswith(("mouth", "jaw")):
        return "mouth"
    return "other"  # cheeks, nose, the neutral score


@dataclass(frozen=True)
class _Points:
    """The face-mesh points the geometry features measure, from :mod:`edu_core.landmarks`."""

    r_eye: dict[str, int]
    l_eye: dict[str, int]
    r_brow: dict[str, int]
    l_brow: dict[str, int]
    mouth: dict[str, int]


@cache
def _points() -> _Points:
    def eye(corners: tuple[int, int], lids: tuple[int, int], *, outer_first: bool) -> dict[str, int]:
        outer, inner = corners if outer_first else corners[::-1]
        return {"outer": outer, "inner": inner, "top": lids[0], "bottom": lids[1]}

    def brow(upper: tuple[int, ...]) -> dict[str, int]:  # the upper edge runs outer end first
        return {"inner": upper[-1], "mid": upper[len(upper) // 2], "outer": upper[0]}

    lips = mesh.LIPS_OUTER  # from the right corner along the lower lip, back over the upper
    inner_top, inner_bottom = mesh.LIP_LINE_PAIRS[0]
    return _Points(
        r_eye=eye(mesh.EYE_CORNERS_RIGHT, mesh.EYE_LIDS_RIGHT, outer_first=True),
        l_eye=eye(mesh.EYE_CORNERS_LEFT, mesh.EYE_LIDS_LEFT, outer_first=False),
        r_brow=brow(mesh.BROW_RIGHT_UPPER),
        l_brow=brow(mesh.BROW_LEFT_UPPER),
        mouth={
            "right": lips[0],
            "left": lips[len(lips) // 2],
            "top": lips[(3 * len(lips)) // 4],
            "inner_top": inner_top,
            "inner_bottom": inner_bottom,
            "bottom": mesh.LOWER_LIP_BOTTOM,
        },
    )


#: Geometry features: (name, piece). Values are computed in :func:`geometry_features`.
GEOMETRY_FEATURES: tuple[tuple[str, str], ...] = (
    ("brow_inner_height_right", "eyebrows"),
    ("brow_inner_height_left", "eyebrows"),
    ("brow_mid_height_right", "eyebrows"),
    ("brow_mid_height_left", "eyebrows"),
    ("brow_outer_height_right", "eyebrows"),
    ("brow_outer_height_left", "eyebrows"),
    ("brow_inner_gap", "eyebrows"),
    ("brow_slant_right", "eyebrows"),
    ("brow_slant_left", "eyebrows"),
    ("eye_open_right", "eyes"),
    ("eye_open_left", "eyes"),
    ("eye_width_right", "eyes"),
    ("eye_width_left", "eyes"),
    ("mouth_width", "mouth"),
    ("mouth_open", "mouth"),
    ("lip_height", "mouth"),
    ("mouth_corner_lift_right", "mouth"),
    ("mouth_corner_lift_left", "mouth"),
    ("mouth_to_nose", "mouth"),
    ("upper_lip_to_nose", "mouth"),
    ("chin_to_mouth", "mouth"),
    ("face_height", "other"),
    ("nose_to_brows", "other"),
    ("yaw", "other"),
    ("pitch", "other"),
)


@dataclass(frozen=True)
class FeatureSpec:
    """Names and data pieces of the pieces-model features, in column order."""

    names: tuple[str, ...]
    pieces: tuple[str, ...]

    def piece_indices(self) -> dict[str, list[int]]:
        """Column indices of each data piece."""
        out: dict[str, list[int]] = {p: [] for p in PIECES}
        for i, piece in enumerate(self.pieces):
            out[piece].append(i)
        return out

    def to_dict(self) -> dict[str, list[str]]:
        return {"names": list(self.names), "pieces": list(self.pieces)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSpec:
        return cls(names=tuple(d["names"]), pieces=tuple(d["pieces"]))


def feature_spec() -> FeatureSpec:
    """The feature layout used by :func:`pieces_features` (blendshapes, then geometry)."""
    blendshapes = feature_blendshapes()
    names = [f"bs_{n}" for n in blendshapes] + [n for n, _ in GEOMETRY_FEATURES]
    pieces = [_blendshape_piece(n) for n in blendshapes] + [p for _, p in GEOMETRY_FEATURES]
    return FeatureSpec(names=tuple(names), pieces=tuple(pieces))


def normalized_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Landmark x, y with the eye midpoint at 0, eye distance 1 and the eye line level.

    Removing position, size and head roll leaves only the shape of the face, which is
    what changes with the expression.
    """
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    if pts.shape[0] < 468:
        raise ValueError(f"expected MediaPipe face-mesh landmarks (>= 468 points), got {pts.shape[0]}")
    at = _points()
    r_eye = pts[[at.r_eye["outer"], at.r_eye["inner"]]].mean(axis=0)
    l_eye = pts[[at.l_eye["outer"], at.l_eye["inner"]]].mean(axis=0)
    center = (r_eye + l_eye) / 2
    d = l_eye - r_eye
    scale = float(np.hypot(*d))
    if not math.isfinite(scale) or scale < 1e-6:
        raise ValueError("degenerate landmarks: both eyes at the same point")
    angle = math.atan2(d[1], d[0])
    c, s = math.cos(-angle), math.sin(-angle)
    rot = np.array([[c, -s], [s, c]])
    return ((pts - center) @ rot.T) / scale


def head_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The 3x3 rotation whose angles :func:`edu_core.faces.head_pose` reports (degrees).

    ``head_pose`` reads MediaPipe's matrix as R = Rz(roll) · Ry(yaw) · Rx(pitch).
    """
    y, p, r = (math.radians(float(v)) for v in (yaw, pitch, roll))
    rz = np.array([[math.cos(r), -math.sin(r), 0.0], [math.sin(r), math.cos(r), 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[math.cos(y), 0.0, math.sin(y)], [0.0, 1.0, 0.0], [-math.sin(y), 0.0, math.cos(y)]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(p), -math.sin(p)], [0.0, math.sin(p), math.cos(p)]])
    return rz @ ry @ rx


def frontal_landmarks(landmarks: np.ndarray, pose: Sequence[float] | None) -> np.ndarray:
    """The 3-D landmarks turned back to face the camera, using the head pose MediaPipe measured.

    A head turned or tilted changes every 2-D distance (a raised chin shortens the nose and
    "lifts" the mouth corners); undoing the rotation first leaves mostly the expression. The
    landmarks' x, y are image pixels (y down) and z their depth (away from the camera) in
    the same scale; MediaPipe's model frame has y up and z towards the camera.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    if pose is None or pts.ndim != 2 or pts.shape[1] < 3 or not all(math.isfinite(float(v)) for v in pose):
        return pts
    flip = np.array([1.0, -1.0, -1.0])
    centre = pts[:, :3].mean(axis=0)
    model = (pts[:, :3] - centre) * flip
    out = pts.copy()
    out[:, :3] = (model @ head_rotation(*pose[:3])) * flip + centre  # row vectors: p @ R = R^T p
    return out


def geometry_features(landmarks: np.ndarray, pose: Sequence[float] | None = None) -> np.ndarray:
    """The :data:`GEOMETRY_FEATURES` of one face (image y grows downwards).

    With ``pose`` (yaw, pitch, roll in degrees) the face is first turned to the front.
    """
    p = normalized_landmarks(frontal_landmarks(landmarks, pose))
    x, y = p[:, 0], p[:, 1]

    def eye_y(eye: dict[str, int]) -> float:
        # The line through the eye corners, not the lids: the lids move with eye shape and with
        # how wide the eye is open, and the brow heights should not change with either.
        return float((y[eye["outer"]] + y[eye["inner"]]) / 2)

    at = _points()
    r_eye, l_eye, r_brow, l_brow, m = at.r_eye, at.l_eye, at.r_brow, at.l_brow, at.mouth
    ry, ly = eye_y(r_eye), eye_y(l_eye)
    mouth_mid_y = (y[m["inner_top"]] + y[m["inner_bottom"]]) / 2
    nose_y = y[mesh.NOSE_TIP]
    brows_y = (y[r_brow["inner"]] + y[l_brow["inner"]]) / 2
    yaw, pitch = (float(pose[0]) / 45.0, float(pose[1]) / 45.0) if pose is not None else (0.0, 0.0)
    values = {
        "brow_inner_height_right": ry - y[r_brow["inner"]],
        "brow_inner_height_left": ly - y[l_brow["inner"]],
        "brow_mid_height_right": ry - y[r_brow["mid"]],
        "brow_mid_height_left": ly - y[l_brow["mid"]],
        "brow_outer_height_right": ry - y[r_brow["outer"]],
        "brow_outer_height_left": ly - y[l_brow["outer"]],
        "brow_inner_gap": abs(x[l_brow["inner"]] - x[r_brow["inner"]]),
        "brow_slant_right": y[r_brow["outer"]] - y[r_brow["inner"]],
        "brow_slant_left": y[l_brow["outer"]] - y[l_brow["inner"]],
        "eye_open_right": y[r_eye["bottom"]] - y[r_eye["top"]],
        "eye_open_left": y[l_eye["bottom"]] - y[l_eye["top"]],
        "eye_width_right": abs(x[r_eye["inner"]] - x[r_eye["outer"]]),
        "eye_width_left": abs(x[l_eye["outer"]] - x[l_eye["inner"]]),
        "mouth_width": abs(x[m["left"]] - x[m["right"]]),
        "mouth_open": y[m["inner_bottom"]] - y[m["inner_top"]],
        "lip_height": y[m["bottom"]] - y[m["top"]],
        "mouth_corner_lift_right": mouth_mid_y - y[m["right"]],
        "mouth_corner_lift_left": mouth_mid_y - y[m["left"]],
        "mouth_to_nose": mouth_mid_y - nose_y,
        "upper_lip_to_nose": y[m["top"]] - nose_y,
        "chin_to_mouth": y[mesh.CHIN] - y[m["bottom"]],
        "face_height": y[mesh.CHIN] - y[mesh.NOSE_BRIDGE],
        "nose_to_brows": nose_y - brows_y,
        "yaw": yaw,
        "pitch": pitch,
    }
    return np.array([values[n] for n, _ in GEOMETRY_FEATURES], dtype=np.float32)


def pieces_features(face: Any) -> np.ndarray:
    """The feature vector of one accepted :class:`~edu_core.faces.FaceResult`.

    Raises ``ValueError`` for a rejected face or one without landmarks.
    """
    if getattr(face, "landmarks", None) is None:
        raise ValueError("face has no landmarks (was it rejected?)")
    bs = face.blendshapes or {}
    blend = np.array([float(bs.get(n, 0.0)) for n in feature_blendshapes()], dtype=np.float32)
    return np.concatenate([blend, geometry_features(face.landmarks, face.pose)])


def pieces_matrix(faces: Sequence[Any]) -> np.ndarray:
    """Stack :func:`pieces_features` of many faces into an (n, d) float32 array."""
    dim = len(feature_spec().names)
    if not faces:
        return np.zeros((0, dim), dtype=np.float32)
    return np.stack([pieces_features(f) for f in faces]).astype(np.float32)


# The MediaPipe-derived names, as module attributes built on first use (PEP 562): reading
# features must not load mediapipe at import (see edu_core.landmarks).
_LAZY = {
    "BLENDSHAPE_NAMES": lambda: mesh.BLENDSHAPE_NAMES,
    "FEATURE_BLENDSHAPES": feature_blendshapes,
    "REGION_LANDMARKS": region_landmarks,
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return _LAZY[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
