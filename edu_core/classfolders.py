"""Photos in class folders (``기쁨/``, ``joy/``, ...) for two jobs, and their faces cached on disk.

Both jobs read the folder with :func:`edu_core.folders.scan_class_folders`; they differ only in
what they ask of it. :func:`scan_class_folders` serves the ``train``/``evaluate`` command lines
(direct children, :data:`CLI_IMAGE_SUFFIXES`, the ``labels.csv`` split column, an error when
nothing is found); :func:`scan_folder` serves the teacher's folder import (every subfolder level,
every picture the decoder reads, each skipped file named with a reason).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edu_core import folders
from edu_core.errors import StoreError
from edu_core.facecodec import load_npz, save_npz
from edu_core.faces import CropConfig, FaceResult, extract_many
from edu_core.trainconfig import TrainingDataError

#: Photo files a teacher's folder import takes (every picture the decoder reads).
IMAGE_SUFFIXES = folders.IMAGE_SUFFIXES
#: Photo files the ``train``/``evaluate`` command lines read (their published behaviour: no GIF/TIFF).
CLI_IMAGE_SUFFIXES = tuple(s for s in IMAGE_SUFFIXES if s not in (".gif", ".tif", ".tiff"))


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
    scan = folders.scan_class_folders(root, suffixes=CLI_IMAGE_SUFFIXES)
    out = [LabelledFile(p.path, p.label, p.split) for p in scan.photos]
    if not out:
        raise TrainingDataError("no_data", f"no class folders with images in {root}")
    return out


def scan_folder(folder: Path) -> tuple[list[dict], list[tuple[str, str]]]:
    """Find photos in class subfolders (``기쁨/``, ``joy/``, …); return entries and skipped names."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StoreError("not_found", str(folder))
    # an import takes the class from the folder name only, so a stray labels.csv cannot stop it
    scan = folders.scan_class_folders(folder, recursive=True, labels=False)
    entries = [{"path": p.path, "filename": p.path.name, "label": p.label} for p in scan.photos]
    return entries, list(scan.skipped)


def _cache_dir(explicit: str | Path | None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "expression-lab" / "faces"


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
        out[i] = load_npz(cdir / f"{k}.npz")  # None when missing or torn: extracted again
        if out[i] is None:
            todo.append(i)
    if todo:
        fresh = extract_many([paths[i] for i in todo], progress=progress)
        for i, face in zip(todo, fresh, strict=True):
            out[i] = face
            save_npz(cdir / f"{keys[i]}.npz", face)  # a cache: not fsynced, rebuilt if lost
    return out  # type: ignore[return-value]
