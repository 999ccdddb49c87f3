"""One serializer for :class:`~edu_core.faces.FaceResult`: to the store's columns, to arrays, to files.

Three stored forms, one set of rules:

- **columns** (:func:`to_columns` / :func:`from_columns`): what the store's ``faces`` table holds,
  JSON text per field and the landmarks as raw float32 bytes; the crop is a separate PNG blob
  (:func:`encode_crop` / :func:`decode_crop`).
- **arrays** (:func:`to_arrays` / :func:`from_arrays`): plain numpy arrays, for ``.npz`` caches
  (no pickles: a cache file is loaded with ``allow_pickle=False``).
- **files** (:func:`save_npz` / :func:`load_npz`): one result per ``.npz`` file, written atomically.

Every field of a result survives each form unchanged: blendshape scores are float32 in MediaPipe
and stay float32, poses and quality numbers are float64, boxes are ints, the crop is lossless.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edu_core.faces import FaceResult
from edu_core.fsutil import atomic_write

#: The columns of :func:`to_columns`, in the store's order.
COLUMNS = (
    "status",
    "reason",
    "detail",
    "image_size",
    "box",
    "crop_box",
    "landmarks",
    "blendshapes",
    "pose",
    "quality",
)

# Older caches spelled the blendshape arrays differently; they are still read, never written.
_LEGACY_BLEND_KEYS = (("bs_names", "bs_values"), ("blend_names", "blend"))


# --- pieces shared by the forms --------------------------------------------------------------------


def landmarks_to_bytes(landmarks: np.ndarray | None) -> bytes | None:
    """The (N, 3) landmarks as raw little-endian float32 bytes (``None`` stays ``None``)."""
    if landmarks is None:
        return None
    return np.ascontiguousarray(landmarks, dtype="<f4").reshape(-1, 3).tobytes()


def landmarks_from_bytes(data: bytes | None) -> np.ndarray | None:
    """The (N, 3) float32 landmarks of :func:`landmarks_to_bytes` (a writable copy)."""
    if not data:
        return None
    return np.frombuffer(data, dtype="<f4").reshape(-1, 3).astype(np.float32)


def encode_crop(crop: np.ndarray) -> bytes:
    """PNG bytes of a face crop: bit-exact, so training on a reloaded crop equals the fresh one."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(crop, dtype=np.uint8)).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def decode_crop(data: bytes) -> np.ndarray:
    """The RGB uint8 crop of :func:`encode_crop`."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def _ints(values: Any) -> tuple[int, ...] | None:
    return None if values is None else tuple(int(v) for v in values)


def _floats(values: Any) -> tuple[float, ...] | None:
    return None if values is None else tuple(float(v) for v in values)


# --- columns (the store) ---------------------------------------------------------------------------


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def to_columns(face: FaceResult) -> dict[str, str | bytes | None]:
    """The result as the store's column values (JSON text, landmark bytes); the crop is not one."""
    return {
        "status": face.status,
        "reason": face.reason,
        "detail": face.detail,
        "image_size": _json(list(face.image_size) if face.image_size else None),
        "box": _json(list(face.box) if face.box else None),
        "crop_box": _json(list(face.crop_box) if face.crop_box else None),
        "landmarks": landmarks_to_bytes(face.landmarks),
        "blendshapes": _json({k: float(v) for k, v in face.blendshapes.items()}),
        "pose": _json([float(v) for v in face.pose] if face.pose else None),
        "quality": _json({k: float(v) for k, v in face.quality.items()}),
    }


def from_columns(columns: Mapping[str, Any], *, crop: np.ndarray | None = None) -> FaceResult:
    """The result of :func:`to_columns`' values (``crop`` comes from its own blob)."""

    def loaded(name: str) -> Any:
        text = columns.get(name)
        return None if text is None else json.loads(text)

    return FaceResult(
        status=columns["status"],
        reason=columns["reason"],
        detail=columns["detail"],
        image_size=_ints(loaded("image_size")),  # type: ignore[arg-type]
        box=_ints(loaded("box")),  # type: ignore[arg-type]
        crop_box=_ints(loaded("crop_box")),  # type: ignore[arg-type]
        crop=crop,
        landmarks=landmarks_from_bytes(columns.get("landmarks")),
        blendshapes=loaded("blendshapes") or {},
        pose=_floats(loaded("pose")),  # type: ignore[arg-type]
        quality=loaded("quality") or {},
    )


# --- arrays and files (caches) ---------------------------------------------------------------------


def to_arrays(face: FaceResult) -> dict[str, np.ndarray]:
    """The result as named numpy arrays (no object arrays), for ``np.savez``."""
    d: dict[str, np.ndarray] = {
        "status": np.array(face.status),
        "reason": np.array(face.reason or ""),
        "detail": np.array(face.detail or ""),
    }
    for name in ("image_size", "box", "crop_box"):
        value = getattr(face, name)
        if value is not None:
            d[name] = np.array(value, dtype=np.int64)
    if face.crop is not None:
        d["crop"] = np.asarray(face.crop, dtype=np.uint8)
    if face.landmarks is not None:
        d["landmarks"] = np.asarray(face.landmarks, dtype=np.float32)
    # MediaPipe's scores are float32 already; quality numbers are ours, in float64
    for prefix, scores, dtype in (
        ("blend", face.blendshapes, np.float32),
        ("quality", face.quality, np.float64),
    ):
        if scores:
            names = sorted(scores)
            d[f"{prefix}_names"] = np.array(names)
            d[f"{prefix}_values"] = np.array([scores[n] for n in names], dtype=dtype)
    if face.pose is not None:
        d["pose"] = np.array(face.pose, dtype=np.float64)
    return d


def _named(d: Mapping[str, np.ndarray], names: str, values: str) -> dict[str, float] | None:
    if names not in d or values not in d:
        return None
    return {str(n): float(v) for n, v in zip(d[names], d[values], strict=True)}


def from_arrays(d: Mapping[str, np.ndarray]) -> FaceResult:
    """The result of :func:`to_arrays` (or of an older cache's arrays).

    Raises ``KeyError`` or ``ValueError`` for arrays that are not a stored result.
    """
    blend = _named(d, "blend_names", "blend_values")
    for names, values in _LEGACY_BLEND_KEYS:
        if blend is None:
            blend = _named(d, names, values)
    pose = _floats(d["pose"]) if "pose" in d else None
    if pose is not None and any(math.isnan(v) for v in pose):  # older caches wrote "no pose" as NaN
        pose = None
    return FaceResult(
        status=str(d["status"]),  # type: ignore[arg-type]
        reason=str(d["reason"]) or None,
        detail=str(d["detail"]),
        image_size=_ints(d["image_size"]) if "image_size" in d else None,  # type: ignore[arg-type]
        box=_ints(d["box"]) if "box" in d else None,  # type: ignore[arg-type]
        crop_box=_ints(d["crop_box"]) if "crop_box" in d else None,  # type: ignore[arg-type]
        crop=d["crop"] if "crop" in d else None,
        landmarks=d["landmarks"] if "landmarks" in d else None,
        blendshapes=blend or {},
        pose=pose,  # type: ignore[arg-type]
        quality=_named(d, "quality_names", "quality_values") or {},
    )


def save_npz(path: str | Path, face: FaceResult, *, compressed: bool = True) -> None:
    """Write one result to ``path`` atomically (a cache: not fsynced, it can be rebuilt)."""
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **to_arrays(face))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buf.getvalue(), durable=False)


def load_npz(path: str | Path) -> FaceResult | None:
    """The result stored at ``path``, or ``None`` when the file is missing or not a stored result."""
    try:
        with np.load(path, allow_pickle=False) as d:
            return from_arrays({k: d[k] for k in d.files})
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # missing, torn or foreign
        return None
