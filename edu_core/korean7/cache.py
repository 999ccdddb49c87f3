"""The crop cache: every face cut once into sharded uint8 arrays, and reading them back.

A shard is written with its ``part-NNNNN.json`` list of entries (and of the photos that failed),
so an interrupted :func:`~edu_core.korean7.prepare.prepare` resumes where it stopped.
"""

from __future__ import annotations

import io
import json
import math
import threading
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edu_core.errors import ImageError
from edu_core.faces import CropConfig, extract, square_crop
from edu_core.images import DecodeConfig, decode
from edu_core.korean7.agreement import Labelled
from edu_core.korean7.base import CACHE_FORMAT, Korean7Error
from edu_core.korean7.records import ImageRef

# A face folder's photos are crops already (AI Hub re-packagings: forehead to chin, hardly any
# margin). The page cuts a new photo with this margin so that it looks like what the model saw.
PRECROPPED_MARGIN = 0.05
# Face crops are small by nature (FER-style sets ship 48 px): the phone-photo minimum does not apply.
_CROP_DECODE = DecodeConfig(min_side=24)


@dataclass(frozen=True)
class PrepareConfig:
    """How the crop cache is built. ``per_class=None`` keeps every labelled photo."""

    per_class: int | None = 7000  # the paper's balanced subset
    min_agree: int = 2
    mode: str = "crop"  # "crop": face crop; "resize": the whole photo squeezed (the paper's baseline)
    crop_source: str = "engine"  # "engine": our face engine, boxes as check and fallback; "boxes": boxes only
    size: int = 256
    margin: float = 0.25  # around the face on every side, as a share of its size
    iou_min: float = 0.3  # engine box vs annotators' box; below this the boxes win
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    workers: int = 2
    shard_size: int = 512  # crops per .npy shard (256 px: 100 MB per shard)
    # Like the paper, sample photos all three annotators agreed on before 2-of-3 ones.
    prefer_unanimous: bool = True


@dataclass
class PrepareSummary:
    """What :func:`prepare` built: counts per class and split, what was dropped, how fast."""

    cache_dir: str
    mode: str
    size: int
    total: int = 0
    per_class: dict[str, int] = field(default_factory=dict)
    per_split: dict[str, dict[str, int]] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)  # engine / boxes / resize / given
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count
    shortfall: dict[str, int] = field(default_factory=dict)  # classes with fewer than per_class
    split_by: str = "person"
    resumed: int = 0  # crops found from an earlier, interrupted run
    seconds: float = 0.0
    images_per_second: float = 0.0
    import_report: dict[str, Any] = field(default_factory=dict)
    label_report: dict[str, Any] = field(default_factory=dict)
    synthetic: bool = False
    classes: list[str] = field(default_factory=list)  # the classes the cache holds
    absent_classes: list[str] = field(default_factory=list)  # of the seven, those it lacks


@dataclass(frozen=True)
class _Outcome:
    key: str
    crop: np.ndarray | None
    source: str  # engine / boxes / resize, or the drop reason when crop is None
    iou: float | None = None
    engine_reason: str | None = None


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def mean_box(boxes: Sequence[Sequence[float]]) -> tuple[float, float, float, float] | None:
    """The annotators' consensus box (coordinate-wise median, robust to one careless box)."""
    if not boxes:
        return None
    arr = np.median(np.asarray(boxes, dtype=np.float64), axis=0)
    return float(arr[0]), float(arr[1]), float(arr[2]), float(arr[3])


def _upright_size(data: bytes) -> tuple[int, int]:
    """(width, height) after EXIF orientation, from the header only."""
    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        orientation = im.getexif().get(0x0112, 1)
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


class PhotoReader:
    """Reads photo bytes from files and zips; one open zip handle per thread and archive."""

    def __init__(self) -> None:
        self._local = threading.local()

    def read(self, ref: ImageRef) -> bytes:
        if ref.member is None:
            return Path(ref.path).read_bytes()
        zips = getattr(self._local, "zips", None)
        if zips is None:
            zips = self._local.zips = {}
        zf = zips.get(ref.path)
        if zf is None:
            zf = zips[ref.path] = zipfile.ZipFile(ref.path)
        return zf.read(ref.member)


def _squeezed(data: bytes, size: int) -> np.ndarray:
    """The whole photo squeezed to size x size (the paper's "resize" baseline)."""
    img = decode(data, max_side=size)
    return np.asarray(
        Image.fromarray(img.rgb).resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8
    )


def _given_crop(data: bytes, size: int) -> np.ndarray:
    """An already-cut face, resized to a square (a non-square one is padded with its mean colour)."""
    img = decode(data, max_side=2 * size, cfg=_CROP_DECODE)
    h, w = img.rgb.shape[:2]
    crop, _ = square_crop(img.rgb, [0.0, 0.0, float(w), float(h)], 0.0, size)
    return crop


def _boxes_crop(data: bytes, box: Sequence[float], cfg: PrepareConfig) -> np.ndarray:
    """The annotators' box with ``cfg.margin``, from a photo decoded no bigger than needed."""
    # Decode just big enough that the face square has at least `size` pixels.
    full_w, full_h = _upright_size(data)
    side = max(box[2] - box[0], box[3] - box[1]) * (1 + 2 * cfg.margin)
    want = int(math.ceil(max(full_w, full_h) * cfg.size / max(side, 1.0))) + 1
    img = decode(data, max_side=min(max(full_w, full_h), max(want, 64)))
    k = img.rgb.shape[1] / full_w
    crop, _ = square_crop(img.rgb, [v * k for v in box], cfg.margin, cfg.size)
    return crop


def _face_crop(key: str, data: bytes, item: Labelled, cfg: PrepareConfig, pool: Any) -> _Outcome:
    consensus = mean_box(item.record.boxes)
    engine_reason = None
    iou = None
    if cfg.crop_source == "engine":
        with pool.acquire() as lm:
            face = extract(data, CropConfig(crop_size=cfg.size, margin=cfg.margin), landmarker=lm)
        if face.ok and face.crop is not None:
            if consensus is None or face.box is None:
                return _Outcome(key, face.crop, "engine")
            iou = box_iou(face.box, consensus)
            if iou >= cfg.iou_min:
                return _Outcome(key, face.crop, "engine", iou)
            engine_reason = "box_mismatch"
        else:
            engine_reason = face.reason or "rejected"
    if consensus is None:
        return _Outcome(key, None, "no_box", engine_reason=engine_reason)
    return _Outcome(key, _boxes_crop(data, consensus, cfg), "boxes", iou, engine_reason)


def crop_one(item: Labelled, cfg: PrepareConfig, reader: PhotoReader, pool: Any) -> _Outcome:
    """Cut one labelled photo as ``cfg`` says, or say why it cannot be used."""
    rec = item.record
    key = rec.filename
    assert rec.image is not None
    try:
        data = reader.read(rec.image)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        return _Outcome(key, None, "unreadable", engine_reason=str(exc)[:80])
    try:
        if cfg.mode == "resize":
            return _Outcome(key, _squeezed(data, cfg.size), "resize")
        if rec.precropped:
            return _Outcome(key, _given_crop(data, cfg.size), "given")
        return _face_crop(key, data, item, cfg, pool)
    except ImageError as exc:
        return _Outcome(key, None, exc.code)
    except (OSError, SyntaxError, ValueError) as exc:
        return _Outcome(key, None, "unreadable", engine_reason=str(exc)[:80])


def load_parts(cache: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Crops and failures of earlier runs: key -> entry, key -> drop reason."""
    done: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    for meta_path in sorted(cache.glob("part-*.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        npy = cache / meta["shard"]
        if not npy.is_file():
            continue  # interrupted between the two writes: redo that part
        for row, entry in enumerate(meta["entries"]):
            done[entry["key"]] = {**entry, "shard": meta["shard"], "row": row}
        failed.update(meta.get("failed", {}))
    return done, failed


class CropCache:
    """Read access to a prepared cache: uint8 crops memory-mapped from the shards."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.dir = Path(cache_dir)
        path = self.dir / "index.json"
        if not path.is_file():
            raise Korean7Error("cache_missing", f"{path} not found; run prepare first")
        index = json.loads(path.read_text(encoding="utf-8"))
        if index.get("format") != CACHE_FORMAT:
            raise Korean7Error("cache_invalid", f"{path} is not a Korean-7 crop cache")
        self.index = index
        self.classes: tuple[str, ...] = tuple(index["classes"])
        self.entries: list[dict[str, Any]] = index["entries"]
        self.size: int = int(index["size"])
        self.mode: str = index["mode"]
        self.synthetic: bool = bool(index.get("synthetic", False))
        # caches from before face folders hold all seven classes and no list of absent ones
        self.absent_classes: tuple[str, ...] = tuple(index.get("absent_classes", ()))
        self.precropped: bool = bool(index.get("precropped", False))
        # a re-split of another cache (the identity-leak lesson) reads that cache's shards
        self.shard_dir = (self.dir / index.get("shard_dir", ".")).resolve()
        self._shards: dict[str, np.ndarray] = {}

    def subset(self, split: str) -> list[int]:
        """Entry positions of one split ("train", "val", "test")."""
        return [i for i, e in enumerate(self.entries) if e["split"] == split]

    def labels(self, positions: Sequence[int]) -> np.ndarray:
        """Class positions (in :attr:`classes`) of the entries at ``positions``."""
        return np.asarray([self.classes.index(self.entries[i]["label"]) for i in positions], dtype=np.int64)

    def _shard(self, name: str) -> np.ndarray:
        arr = self._shards.get(name)
        if arr is None:
            arr = self._shards[name] = np.load(self.shard_dir / name, mmap_mode="r")
        return arr

    def images(self, positions: Sequence[int]) -> np.ndarray:
        """(n, size, size, 3) uint8 crops, read shard by shard (sorted for locality)."""
        out = np.empty((len(positions), self.size, self.size, 3), dtype=np.uint8)
        by_shard: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for j, i in enumerate(positions):
            e = self.entries[i]
            by_shard[e["shard"]].append((j, e["row"]))
        for name, pairs in by_shard.items():
            pairs.sort(key=lambda p: p[1])
            js = [p[0] for p in pairs]
            out[js] = self._shard(name)[[p[1] for p in pairs]]
        return out

    def __getstate__(self) -> dict[str, Any]:
        # DataLoader workers reopen the memory maps themselves.
        state = self.__dict__.copy()
        state["_shards"] = {}
        return state
