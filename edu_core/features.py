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
from typing import Any

import numpy as np

PIECES: tuple[str, ...] = ("eyebrows", "eyes", "mouth", "other")

#: MediaPipe FaceLandmarker's 52 blendshape names, in the order it reports them.
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeLookDownLeft",
    "eyeLookDownRight",
    "eyeLookInLeft",
    "eyeLookInRight",
    "eyeLookOutLeft",
    "eyeLookOutRight",
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
    "jawForward",
    "jawLeft",
    "jawOpen",
    "jawRight",
    "mouthClose",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthFunnel",
    "mouthLeft",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthPucker",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "noseSneerLeft",
    "noseSneerRight",
)


#: The blendshapes the pieces model reads: all but where the eyes look (eyeLook*). Gaze is not
#: an expression, and in real photos people look anywhere; measured on real photos of new
#: people (bench/realfaces_models.py) the model is as accurate or better without them.
FEATURE_BLENDSHAPES: tuple[str, ...] = tuple(n for n in BLENDSHAPE_NAMES if not n.startswith("eyeLook"))


def _blendshape_piece(name: str) -> str:
    if name.startswith("brow"):
        return "eyebrows"
    if name.startswith("eye"):
        return "eyes"
    if name.startswith(("mouth", "jaw")):
        return "mouth"
    return "other"  # cheeks, nose, the neutral score


# MediaPipe face-mesh indices. "Left"/"right" are the person's own sides, so the
# person's right eye is on the left of a non-mirrored photo.
_R_EYE = {"outer": 33, "inner": 133, "top": 159, "bottom": 145}
_L_EYE = {"outer": 263, "inner": 362, "top": 386, "bottom": 374}
_R_BROW = {"inner": 107, "mid": 105, "outer": 70}
_L_BROW = {"inner": 336, "mid": 334, "outer": 300}
_MOUTH = {"right": 61, "left": 291, "top": 0, "inner_top": 13, "inner_bottom": 14, "bottom": 17}
_NOSE_TIP = 1
_NOSE_BRIDGE = 168
_CHIN = 152

#: Landmark outlines (one polygon per side) of the regions the CNN region test hides.
REGION_LANDMARKS: dict[str, tuple[tuple[int, ...], ...]] = {
    "eyebrows": (
        (70, 63, 105, 66, 107, 55, 65, 52, 53, 46),
        (300, 293, 334, 296, 336, 285, 295, 282, 283, 276),
    ),
    "eyes": (
        (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
        (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466),
    ),
    "mouth": ((61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185),),
}

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
    names = [f"bs_{n}" for n in FEATURE_BLENDSHAPES] + [n for n, _ in GEOMETRY_FEATURES]
    pieces = [_blendshape_piece(n) for n in FEATURE_BLENDSHAPES] + [p for _, p in GEOMETRY_FEATURES]
    return FeatureSpec(names=tuple(names), pieces=tuple(pieces))


def normalized_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Landmark x, y with the eye midpoint at 0, eye distance 1 and the eye line level.

    Removing position, size and head roll leaves only the shape of the face, which is
    what changes with the expression.
    """
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    if pts.shape[0] < 468:
        raise ValueError(f"expected MediaPipe face-mesh landmarks (>= 468 points), got {pts.shape[0]}")
    r_eye = pts[[_R_EYE["outer"], _R_EYE["inner"]]].mean(axis=0)
    l_eye = pts[[_L_EYE["outer"], _L_EYE["inner"]]].mean(axis=0)
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

    ry, ly = eye_y(_R_EYE), eye_y(_L_EYE)
    m = _MOUTH
    mouth_mid_y = (y[m["inner_top"]] + y[m["inner_bottom"]]) / 2
    nose_y = y[_NOSE_TIP]
    brows_y = (y[_R_BROW["inner"]] + y[_L_BROW["inner"]]) / 2
    yaw, pitch = (float(pose[0]) / 45.0, float(pose[1]) / 45.0) if pose is not None else (0.0, 0.0)
    values = {
        "brow_inner_height_right": ry - y[_R_BROW["inner"]],
        "brow_inner_height_left": ly - y[_L_BROW["inner"]],
        "brow_mid_height_right": ry - y[_R_BROW["mid"]],
        "brow_mid_height_left": ly - y[_L_BROW["mid"]],
        "brow_outer_height_right": ry - y[_R_BROW["outer"]],
        "brow_outer_height_left": ly - y[_L_BROW["outer"]],
        "brow_inner_gap": abs(x[_L_BROW["inner"]] - x[_R_BROW["inner"]]),
        "brow_slant_right": y[_R_BROW["outer"]] - y[_R_BROW["inner"]],
        "brow_slant_left": y[_L_BROW["outer"]] - y[_L_BROW["inner"]],
        "eye_open_right": y[_R_EYE["bottom"]] - y[_R_EYE["top"]],
        "eye_open_left": y[_L_EYE["bottom"]] - y[_L_EYE["top"]],
        "eye_width_right": abs(x[_R_EYE["inner"]] - x[_R_EYE["outer"]]),
        "eye_width_left": abs(x[_L_EYE["outer"]] - x[_L_EYE["inner"]]),
        "mouth_width": abs(x[m["left"]] - x[m["right"]]),
        "mouth_open": y[m["inner_bottom"]] - y[m["inner_top"]],
        "lip_height": y[m["bottom"]] - y[m["top"]],
        "mouth_corner_lift_right": mouth_mid_y - y[m["right"]],
        "mouth_corner_lift_left": mouth_mid_y - y[m["left"]],
        "mouth_to_nose": mouth_mid_y - nose_y,
        "upper_lip_to_nose": y[m["top"]] - nose_y,
        "chin_to_mouth": y[_CHIN] - y[m["bottom"]],
        "face_height": y[_CHIN] - y[_NOSE_BRIDGE],
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
    blend = np.array([float(bs.get(n, 0.0)) for n in FEATURE_BLENDSHAPES], dtype=np.float32)
    return np.concatenate([blend, geometry_features(face.landmarks, face.pose)])


def pieces_matrix(faces: Sequence[Any]) -> np.ndarray:
    """Stack :func:`pieces_features` of many faces into an (n, d) float32 array."""
    dim = len(feature_spec().names)
    if not faces:
        return np.zeros((0, dim), dtype=np.float32)
    return np.stack([pieces_features(f) for f in faces]).astype(np.float32)
