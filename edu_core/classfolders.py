"""Photos in class folders (``기쁨/``, ``joy/``, ...): finding them, and their faces cached on disk.

Two scanners read the same layout for two jobs. :func:`scan_class_folders` serves the
``train``/``evaluate`` command lines (direct children, the ``labels.csv`` split column, an
error when nothing is found); :func:`scan_folder` serves the teacher's folder import (every
subfolder level, each skipped file named with a reason).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edu_core.errors import StoreError
from edu_core.faces import CropConfig, FaceResult, extract_many
from edu_core.fsutil import atomic_write
from edu_core.labels import normalize_label
from edu_core.trainconfig import TrainingDataError

#: Photo files a teacher's folder import takes.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".bmp", ".gif", ".tif", ".tiff")
#: Photo files the ``train``/``evaluate`` command lines read (their published behaviour: no GIF/TIFF).
CLI_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".bmp")


@dataclass(frozen=True)
class LabelledFile:
    """One photo of a class folder: where it is, its class, and its labels.csv split if any."""

    path: Path
    label: str
    split: str | None  # "train" / "test" from labels.csv, else None


def scan_class_folders(data_dir: str | Path) -> list[LabelledFile]:
    """Image files in one subfolder per class (Korean or English names), with labels.csv splits."""
    root = Path(data_dir)
    if not root.is_dir():
        raise TrainingDataError("no_data", f"{root} is not a folder")
    splits: dict[str, str] = {}
    csv_path = root / "labels.csv"
    if csv_path.is_file():
        with csv_path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row.get("file") and row.get("split"):
                    splits[Path(row["file"]).as_posix()] = row["split"].strip().lower()
    out: list[LabelledFile] = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            label = normalize_label(sub.name)
        except ValueError:
            continue  # not a class folder (e.g. a cache)
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() in CLI_IMAGE_SUFFIXES:
                rel = f.relative_to(root).as_posix()
                out.append(LabelledFile(f, label, splits.get(rel) or splits.get(f.name)))
    if not out:
        raise TrainingDataError("no_data", f"no class folders with images in {root}")
    return out


def scan_folder(folder: Path) -> tuple[list[dict], list[tuple[str, str]]]:
    """Find photos in class subfolders (``기쁨/``, ``joy/``, …); return entries and skipped names."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StoreError("not_found", str(folder))
    entries, skipped = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            label = normalize_label(sub.name)
        except ValueError:
            skipped.append((sub.name + "/", "unknown_class"))
            continue
        for f in sorted(sub.rglob("*")):
            if not f.is_file() or f.name.startswith("."):
                continue
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append((str(f.relative_to(folder)), "unsupported_format"))
                continue
            entries.append({"path": f, "filename": f.name, "label": label})
    return entries, skipped


def _cache_dir(explicit: str | Path | None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "expression-lab" / "faces"


def _face_to_npz(face: FaceResult) -> dict[str, np.ndarray]:
    d: dict[str, np.ndarray] = {
        "status": np.array(face.status),
        "reason": np.array(face.reason or ""),
        "detail": np.array(face.detail or ""),
    }
    if face.ok:
        d["crop"] = np.asarray(face.crop, dtype=np.uint8)
        d["landmarks"] = np.asarray(face.landmarks, dtype=np.float32)
        d["bs_names"] = np.array(list(face.blendshapes.keys()))
        d["bs_values"] = np.array(list(face.blendshapes.values()), dtype=np.float32)
        d["pose"] = np.array(face.pose if face.pose is not None else (np.nan,) * 3, dtype=np.float32)
    return d


def _face_from_npz(d: Mapping[str, np.ndarray]) -> FaceResult:
    status = str(d["status"])
    if status != "ok":
        return FaceResult(status="rejected", reason=str(d["reason"]) or None, detail=str(d["detail"]))
    pose = tuple(float(v) for v in d["pose"])
    return FaceResult(
        status="ok",
        crop=d["crop"],
        landmarks=d["landmarks"],
        blendshapes={str(k): float(v) for k, v in zip(d["bs_names"], d["bs_values"], strict=True)},
        pose=None if any(math.isnan(v) for v in pose) else pose,  # type: ignore[arg-type]
    )


def extract_cached(
    paths: Sequence[Path],
    cache_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[FaceResult]:
    """``faces.extract_many`` with results kept on disk, keyed by file content and crop settings."""
    cdir = _cache_dir(cache_dir)
    cdir.mkdir(parents=True, exist_ok=True)
    salt = hashlib.sha1(repr(CropConfig()).encode()).hexdigest()[:8]
    keys = [hashlib.sha1(Path(p).read_bytes()).hexdigest() + "-" + salt for p in paths]
    out: list[FaceResult | None] = [None] * len(paths)
    todo: list[int] = []
    for i, k in enumerate(keys):
        f = cdir / f"{k}.npz"
        if f.is_file():
            with np.load(f, allow_pickle=False) as d:
                out[i] = _face_from_npz(d)
        else:
            todo.append(i)
    if todo:
        fresh = extract_many([paths[i] for i in todo], progress=progress)
        for i, face in zip(todo, fresh, strict=True):
            out[i] = face
            buf = io.BytesIO()
            np.savez_compressed(buf, **_face_to_npz(face))
            atomic_write(cdir / f"{keys[i]}.npz", buf.getvalue(), durable=False)  # a cache: rebuilt if lost
    return out  # type: ignore[return-value]
