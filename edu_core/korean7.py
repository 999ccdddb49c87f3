"""The Korean seven-class emotion model: AI Hub import, agreement labels, crop cache, training.

A school that downloaded the AI Hub data set "한국인 감정인식을 위한 복합 영상" runs four steps:

1. :func:`import_dataset` walks the folder as it arrived (zipped or not, any of the usual
   layouts, label files in UTF-8, UTF-8 with BOM or CP949), matches every label record to
   its photo by file name and says what is missing;
2. :func:`agreement_labels` turns three blind annotators into one label (``min_agree`` of 3),
   dropping records without a majority and ``알수없음``; the uploader's folder stays as
   provenance and a purity report shows how often the two agree;
3. :func:`prepare` samples a balanced subset, cuts each face once (our face engine, checked
   against the annotators' boxes, which are also the fallback) into a 256 px crop cache of
   sharded uint8 arrays, splits it 8:1:1 by person, and can resume after an interruption;
4. :func:`train` fits ResNet18 or EfficientNet-Lite0 on the cache (Adam, Random Erasing,
   best-validation checkpoint, resume, AMP + channels-last on CUDA, DDP under ``torchrun``)
   and writes metrics with per-class accuracy and the confusion matrix.

:func:`load_model` / :func:`predict_bytes` / :func:`build_demo_pipeline` are what the
Streamlit page calls. Every step has a CLI: ``python -m edu_core.korean7 {import,prepare,
train,evaluate,predict,demo,compare} ... --json``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import pickle
import re
import sys
import threading
import time
import unicodedata
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edu_core.errors import EduError, ImageError, ModelFileError
from edu_core.faces import square_crop
from edu_core.images import decode
from edu_core.labels import KOREAN7_CLASSES, KOREAN7_NAMES

# --------------------------------------------------------------------------------------------
# constants and errors

#: Korean label strings of the data set -> our class ids.
DATASET_LABELS: dict[str, str] = {KOREAN7_NAMES[c]: c for c in KOREAN7_CLASSES}
UNKNOWN_LABEL = "알수없음"
UNKNOWN = "unknown"  # our id for 알수없음
INVALID = "invalid"  # a label string that is none of the eight above

#: Accuracy (%) reported by the paper for each preprocessing and network (7 classes,
#: 7,000 images per class, 8:1:1 split).
PAPER_RESULTS: dict[str, dict[str, float]] = {
    "resize": {"VGG19": 14.3, "ResNet18": 15.6, "K-EmotionNet": 15.1},
    "cascade_crop": {"VGG19": 59.0, "ResNet18": 60.4, "K-EmotionNet": 61.8},
    "yolo_face_crop": {"VGG19": 82.8, "ResNet18": 81.7, "K-EmotionNet": 84.37},
}

CACHE_FORMAT = "expression-lab-korean7-cache"
CHECKPOINT_FORMAT = "expression-lab-korean7-model"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_PERSON_RE = re.compile(r"^[0-9a-fA-F]{16,}$")


class Korean7Error(EduError):
    """The Korean seven-class pipeline refused an input (empty data set, bad cache, ...)."""

    code = "korean7_error"


# --------------------------------------------------------------------------------------------
# 1. import


@dataclass(frozen=True)
class ImageRef:
    """Where one photo's bytes are: a file, or a member of a zip."""

    path: str  # file path, or the zip's path
    member: str | None = None  # name inside the zip (as stored), None for a plain file

    def describe(self) -> str:
        return f"{self.path}!{self.member}" if self.member else self.path


@dataclass(frozen=True)
class Record:
    """One label record of the data set, normalised."""

    filename: str  # NFC base name, the key that joins labels and photos
    uploader: str  # class id of the folder / faceExp_uploader
    annotators: tuple[str, ...]  # class ids, UNKNOWN or INVALID, one per annotator present
    boxes: tuple[tuple[float, float, float, float], ...]  # annotator boxes, upright pixels
    person: str | None  # uploader id from the file name, when the name carries one
    source_split: str  # "training", "validation" or "" (from the label file name/path)
    label_file: str
    image: ImageRef | None = None  # None when the photo was not found


@dataclass
class ImportReport:
    """What the walk found, and what did not fit."""

    root: str
    label_files: int = 0
    records: int = 0
    images: int = 0
    matched: int = 0
    missing_images: list[str] = field(default_factory=list)  # records whose photo is absent
    orphan_images: int = 0  # photos that no record mentions
    duplicate_records: int = 0
    duplicate_images: int = 0
    encodings: dict[str, int] = field(default_factory=dict)
    unreadable_label_files: list[str] = field(default_factory=list)
    zips: int = 0
    per_uploader: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportResult:
    records: tuple[Record, ...]
    report: ImportReport


def _nfc(name: str) -> str:
    # macOS unzips Korean names in NFD; the label files use NFC.
    return unicodedata.normalize("NFC", name)


def _zip_member_name(info: zipfile.ZipInfo) -> str:
    """The real name of a zip member: legacy Korean zips store CP949 without the UTF-8 flag."""
    name = info.filename
    if info.flag_bits & 0x800:
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name
    for enc in ("utf-8", "cp949"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return name


def decode_label_bytes(data: bytes) -> tuple[list[Any], str]:
    """Parse a label file in UTF-8, UTF-8 with BOM or CP949; returns (records, encoding)."""
    if data.startswith(b"\xef\xbb\xbf"):
        attempts = ("utf-8-sig",)
    else:
        attempts = ("utf-8", "cp949")
    last: Exception | None = None
    for enc in attempts:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError as exc:
            last = exc
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Korean7Error("bad_label_file", f"not JSON ({enc}): {exc}") from exc
        if isinstance(value, dict):
            # Some re-packaged copies wrap the list: {"data": [...]}
            lists = [v for v in value.values() if isinstance(v, list)]
            value = lists[0] if len(lists) == 1 else None
        if not isinstance(value, list):
            raise Korean7Error("bad_label_file", "expected a JSON list of records")
        return value, enc
    raise Korean7Error("bad_label_file", f"neither UTF-8 nor CP949: {last}")


def _label_id(value: Any) -> str:
    if not isinstance(value, str):
        return INVALID
    value = _nfc(value.strip())
    if value == UNKNOWN_LABEL:
        return UNKNOWN
    return DATASET_LABELS.get(value, INVALID)


def _box(value: Any) -> tuple[float, float, float, float] | None:
    if isinstance(value, list) and value:  # some copies wrap the box in a one-element list
        value = value[0]
    if not isinstance(value, dict):
        return None
    try:
        x0, y0, x1, y1 = (float(value[k]) for k in ("minX", "minY", "maxX", "maxY"))
    except (KeyError, TypeError, ValueError):
        return None
    if not (x1 > x0 and y1 > y0) or not all(map(math.isfinite, (x0, y0, x1, y1))):
        return None
    return x0, y0, x1, y1


def person_from_filename(filename: str) -> str | None:
    """The uploader id at the start of an AI Hub file name (a long hex hash), if any."""
    head = filename.split("_", 1)[0]
    return head.lower() if _PERSON_RE.match(head) else None


def _split_hint(*names: str) -> str:
    text = " ".join(names).lower()
    if "valid" in text:
        return "validation"
    if "train" in text:
        return "training"
    return ""


def _records_from(items: list[Any], label_file: str, hint: str) -> Iterator[Record]:
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
            continue
        filename = _nfc(Path(item["filename"].replace("\\", "/")).name)
        annots, boxes = [], []
        for key in sorted(k for k in item if k.startswith("annot_")):
            annot = item[key]
            if not isinstance(annot, dict):
                continue
            annots.append(_label_id(annot.get("faceExp")))
            box = _box(annot.get("boxes"))
            if box is not None:
                boxes.append(box)
        yield Record(
            filename=filename,
            uploader=_label_id(item.get("faceExp_uploader")),
            annotators=tuple(annots),
            boxes=tuple(boxes),
            person=person_from_filename(filename),
            source_split=hint,
            label_file=label_file,
        )


def import_dataset(root: str | Path, progress: Callable[[int, str], None] | None = None) -> ImportResult:
    """Walk ``root`` (folders and zips, any layout), read every label file, join photos by name.

    ``progress(n_files_seen, current_path)`` is called as the walk proceeds.
    """
    root = Path(root)
    if not root.exists():
        raise Korean7Error("not_found", f"{root} does not exist")
    report = ImportReport(root=str(root))
    images: dict[str, ImageRef] = {}
    records: dict[str, Record] = {}
    encodings: Counter[str] = Counter()
    seen = 0

    def add_image(name: str, ref: ImageRef) -> None:
        key = _nfc(Path(name).name)
        report.images += 1
        if key in images:
            report.duplicate_images += 1
            return
        images[key] = ref

    def add_labels(data: bytes, where: str, hint: str) -> None:
        try:
            items, enc = decode_label_bytes(data)
        except Korean7Error as exc:
            report.unreadable_label_files.append(f"{where}: {exc.detail}")
            return
        found = 0
        for rec in _records_from(items, where, hint):
            found += 1
            if rec.filename in records:
                report.duplicate_records += 1
                continue
            records[rec.filename] = rec
        if found:
            report.label_files += 1
            encodings[enc] += 1

    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in paths:
        seen += 1
        if progress is not None and seen % 200 == 0:
            progress(seen, str(path))
        suffix = path.suffix.lower()
        rel = str(path.relative_to(root)) if path != root else path.name
        if suffix in IMAGE_SUFFIXES:
            add_image(path.name, ImageRef(str(path)))
        elif suffix == ".json":
            add_labels(path.read_bytes(), rel, _split_hint(rel))
        elif suffix == ".zip":
            report.zips += 1
            try:
                with zipfile.ZipFile(path) as zf:
                    for info in zf.infolist():
                        if info.is_dir():
                            continue
                        real = _zip_member_name(info)
                        msuffix = Path(real).suffix.lower()
                        if msuffix in IMAGE_SUFFIXES:
                            add_image(real, ImageRef(str(path), info.filename))
                        elif msuffix == ".json":
                            add_labels(zf.read(info), f"{rel}!{real}", _split_hint(rel, real))
            except (zipfile.BadZipFile, OSError) as exc:
                report.unreadable_label_files.append(f"{rel}: broken zip ({exc})")
    joined = []
    # File systems and zip tools change the case of extensions (".JPG"); match on that too.
    folded = {name.casefold(): ref for name, ref in images.items()}
    for name, rec in records.items():
        ref = images.get(name) or folded.get(name.casefold())
        if ref is None:
            report.missing_images.append(name)
        joined.append(replace(rec, image=ref))
    report.records = len(records)
    report.matched = report.records - len(report.missing_images)
    report.orphan_images = len({n.casefold() for n in images} - {n.casefold() for n in records})
    report.encodings = dict(encodings)
    report.per_uploader = dict(Counter(r.uploader for r in joined))
    if progress is not None:
        progress(seen, "done")
    return ImportResult(records=tuple(joined), report=report)


# --------------------------------------------------------------------------------------------
# 2. agreement labels


@dataclass(frozen=True)
class Labelled:
    """A record with the label the annotators agreed on."""

    record: Record
    label: str  # class id
    votes: int  # how many annotators gave it


def agreement(annotators: Sequence[str], min_agree: int = 2) -> tuple[str | None, str]:
    """(label, reason) from the annotators' answers.

    ``reason`` is "ok", "unknown" (the majority said 알수없음), "no_majority" (fewer than
    ``min_agree`` share an answer) or "invalid" (the majority is not one of the 7 classes).
    """
    if min_agree < 1:
        raise ValueError("min_agree must be 1, 2 or 3")
    if not annotators:
        return None, "no_annotators"
    label, count = Counter(annotators).most_common(1)[0]
    top = [lab for lab, c in Counter(annotators).items() if c == count]
    if count < min_agree or len(top) > 1:
        return None, "no_majority"
    if label == UNKNOWN:
        return None, "unknown"
    if label == INVALID:
        return None, "invalid"
    return label, "ok"


@dataclass
class LabelReport:
    """How many records each rule kept or dropped, and how pure each folder is."""

    min_agree: int
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    per_label: dict[str, int] = field(default_factory=dict)
    # per uploader folder: share whose agreed label equals the folder, and what else
    purity: dict[str, dict[str, float]] = field(default_factory=dict)


def agreement_labels(
    records: Sequence[Record], min_agree: int = 2, *, require_image: bool = True
) -> tuple[list[Labelled], LabelReport]:
    """Label every record by annotator agreement; report what was dropped and why."""
    if min_agree not in (2, 3):
        raise ValueError(f"min_agree must be 2 or 3, not {min_agree!r}")
    report = LabelReport(min_agree=min_agree)
    dropped: Counter[str] = Counter()
    by_folder: dict[str, Counter[str]] = defaultdict(Counter)
    kept: list[Labelled] = []
    for rec in records:
        label, reason = agreement(rec.annotators, min_agree)
        by_folder[rec.uploader][label or reason] += 1
        if label is None:
            dropped[reason] += 1
            continue
        if require_image and rec.image is None:
            dropped["missing_image"] += 1
            continue
        kept.append(Labelled(rec, label, Counter(rec.annotators)[label]))
    report.kept = len(kept)
    report.dropped = dict(dropped)
    report.per_label = {c: n for c in KOREAN7_CLASSES if (n := sum(1 for k in kept if k.label == c))}
    for folder, outcomes in sorted(by_folder.items()):
        total = sum(outcomes.values())
        report.purity[folder] = {
            "records": float(total),
            "same_as_folder": round(outcomes[folder] / total, 4),
            "other_class": round(
                sum(v for k, v in outcomes.items() if k in KOREAN7_CLASSES and k != folder) / total, 4
            ),
            "no_majority": round(outcomes["no_majority"] / total, 4),
            "unknown": round(outcomes["unknown"] / total, 4),
        }
    return kept, report


# --------------------------------------------------------------------------------------------
# 3. the crop cache


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
    shard_size: int = 512
    # Like the paper, sample photos all three annotators agreed on before 2-of-3 ones.
    prefer_unanimous: bool = True  # crops per .npy shard (256 px: 100 MB per shard)


@dataclass
class PrepareSummary:
    cache_dir: str
    mode: str
    size: int
    total: int = 0
    per_class: dict[str, int] = field(default_factory=dict)
    per_split: dict[str, dict[str, int]] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)  # engine / boxes / resize
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count
    shortfall: dict[str, int] = field(default_factory=dict)  # classes with fewer than per_class
    split_by: str = "person"
    resumed: int = 0  # crops found from an earlier, interrupted run
    seconds: float = 0.0
    images_per_second: float = 0.0
    import_report: dict[str, Any] = field(default_factory=dict)
    label_report: dict[str, Any] = field(default_factory=dict)
    synthetic: bool = False


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


class _Reader:
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


def _crop_one(item: Labelled, cfg: PrepareConfig, reader: _Reader, pool: Any) -> _Outcome:
    rec = item.record
    key = rec.filename
    assert rec.image is not None
    try:
        data = reader.read(rec.image)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        return _Outcome(key, None, "unreadable", engine_reason=str(exc)[:80])
    try:
        if cfg.mode == "resize":
            img = decode(data, max_side=cfg.size)
            small = Image.fromarray(img.rgb).resize((cfg.size, cfg.size), Image.Resampling.BILINEAR)
            return _Outcome(key, np.asarray(small, dtype=np.uint8), "resize")
        consensus = mean_box(rec.boxes)
        engine_reason = None
        iou = None
        if cfg.crop_source == "engine":
            from edu_core.faces import CropConfig, extract

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
        # Decode just big enough that the face square has at least `size` pixels.
        full_w, full_h = _upright_size(data)
        side = max(consensus[2] - consensus[0], consensus[3] - consensus[1]) * (1 + 2 * cfg.margin)
        want = int(math.ceil(max(full_w, full_h) * cfg.size / max(side, 1.0))) + 1
        img = decode(data, max_side=min(max(full_w, full_h), max(want, 64)))
        k = img.rgb.shape[1] / full_w
        crop, _ = square_crop(img.rgb, [v * k for v in consensus], cfg.margin, cfg.size)
        return _Outcome(key, crop, "boxes", iou, engine_reason)
    except ImageError as exc:
        return _Outcome(key, None, exc.code)
    except (OSError, SyntaxError, ValueError) as exc:
        return _Outcome(key, None, "unreadable", engine_reason=str(exc)[:80])


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _load_parts(cache: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
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


def split_by_person(
    keys_by_person: dict[str, list[str]], fractions: Sequence[float], seed: int
) -> dict[str, str]:
    """Assign whole persons to train/val/test so that image counts follow ``fractions``.

    Greedy on a seeded shuffle: each person goes to the split furthest below its target.
    """
    names = ("train", "val", "test")
    total = sum(len(v) for v in keys_by_person.values())
    fr = np.asarray(fractions, dtype=np.float64)
    fr = fr / fr.sum()
    rng = np.random.default_rng(seed)
    persons = sorted(keys_by_person)
    order = rng.permutation(len(persons))
    # big groups first so the small ones can even out the counts
    ordered = sorted((persons[i] for i in order), key=lambda p: -len(keys_by_person[p]))
    counts = np.zeros(3)
    out: dict[str, str] = {}
    for p in ordered:
        n = len(keys_by_person[p])
        deficit = fr * (counts.sum() + n) - counts
        j = int(np.argmax(deficit)) if total else 0
        counts[j] += n
        for key in keys_by_person[p]:
            out[key] = names[j]
    return out


def prepare(
    root: str | Path | ImportResult,
    cache_dir: str | Path,
    cfg: PrepareConfig = PrepareConfig(),
    *,
    progress: Callable[[int, int, str], None] | None = None,
    same_as: str | Path | None = None,
) -> PrepareSummary:
    """Build (or resume) the crop cache in ``cache_dir`` from the data set at ``root``.

    ``progress(done, total, stage)`` reports the photos processed. ``same_as`` reuses the
    photos and split of another cache (used to compare preprocessings on identical data).
    Re-running with the same settings continues where an interrupted run stopped.
    """
    if cfg.mode not in ("crop", "resize"):
        raise ValueError(f"mode must be 'crop' or 'resize', not {cfg.mode!r}")
    if cfg.crop_source not in ("engine", "boxes"):
        raise ValueError(f"crop_source must be 'engine' or 'boxes', not {cfg.crop_source!r}")
    t0 = time.perf_counter()
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    imported = root if isinstance(root, ImportResult) else import_dataset(root)
    root_path = Path(imported.report.root)
    synthetic = (root_path / "DEMO_README.txt").is_file()
    labelled, label_report = agreement_labels(imported.records, cfg.min_agree)
    if not labelled:
        raise Korean7Error("no_labelled_images", f"no usable records under {root_path}")

    settings = {k: v for k, v in asdict(cfg).items() if k not in ("workers",)}
    settings["split"] = list(cfg.split)
    settings_path = cache / "prepare_config.json"
    if settings_path.is_file():
        old = json.loads(settings_path.read_text(encoding="utf-8"))
        if old != settings:
            raise Korean7Error(
                "cache_config_mismatch",
                f"{cache} was prepared with other settings; use a new folder ({old} != {settings})",
            )
    else:
        _write_atomic(settings_path, json.dumps(settings, ensure_ascii=False).encode())

    done, failed = _load_parts(cache)
    resumed = len(done)
    by_class: dict[str, list[Labelled]] = defaultdict(list)
    for item in labelled:
        by_class[item.label].append(item)
    rng = np.random.default_rng(cfg.seed)
    queues: dict[str, list[Labelled]] = {}
    wanted: set[str] | None = None
    if same_as is not None:
        other = json.loads((Path(same_as) / "index.json").read_text(encoding="utf-8"))
        wanted = {e["key"] for e in other["entries"]}
    for cls in KOREAN7_CLASSES:
        items = sorted(by_class.get(cls, []), key=lambda it: it.record.filename)
        items = [items[i] for i in rng.permutation(len(items))]
        if cfg.prefer_unanimous:
            items.sort(key=lambda it: -it.votes)  # stable: the shuffle stays within each vote count
        if wanted is not None:
            items = [it for it in items if it.record.filename in wanted]
        queues[cls] = items
    target = {
        c: len(q) if (cfg.per_class is None or wanted is not None) else min(cfg.per_class, len(q))
        for c, q in queues.items()
    }
    item_by_key = {it.record.filename: it for q in queues.values() for it in q}

    pool = None
    if cfg.mode == "crop" and cfg.crop_source == "engine":
        from edu_core.faces import LandmarkerPool

        pool = LandmarkerPool(size=max(1, cfg.workers))
    reader = _Reader()
    n_parts = len(list(cache.glob("part-*.json")))
    planned_total = sum(target.values())
    processed = sum(
        1 for c in queues for it in queues[c] if it.record.filename in done or it.record.filename in failed
    )
    try:
        with ThreadPoolExecutor(max_workers=max(1, cfg.workers)) as ex:
            while True:
                # Next candidates per class, walking each shuffled queue past failures until
                # the class has `target` crops (resumable: done/failed keys are skipped).
                batch: list[Labelled] = []
                for cls, q in queues.items():
                    have = sum(1 for it in q if it.record.filename in done)
                    need = target[cls] - have
                    for it in q:
                        if need <= 0 or len(batch) >= cfg.shard_size:
                            break
                        k = it.record.filename
                        if k in done or k in failed:
                            continue
                        batch.append(it)
                        need -= 1
                if not batch:
                    break
                outcomes = []
                for out in ex.map(lambda it: _crop_one(it, cfg, reader, pool), batch):
                    outcomes.append(out)
                    processed += 1
                    if progress is not None:
                        progress(min(processed, planned_total), planned_total, "crop")
                good = [o for o in outcomes if o.crop is not None]
                shard = f"part-{n_parts:05d}.npy"
                meta = {
                    "shard": shard,
                    "entries": [
                        {
                            "key": o.key,
                            "label": item_by_key[o.key].label,
                            "source": o.source,
                            "iou": None if o.iou is None else round(o.iou, 3),
                            "engine_reason": o.engine_reason,
                        }
                        for o in good
                    ],
                    "failed": {o.key: o.source for o in outcomes if o.crop is None},
                }
                arr = (
                    np.stack([o.crop for o in good])
                    if good
                    else np.zeros((0, cfg.size, cfg.size, 3), np.uint8)
                )
                buf = io.BytesIO()
                np.save(buf, arr)
                _write_atomic(cache / shard, buf.getvalue())
                _write_atomic(
                    cache / f"part-{n_parts:05d}.json", json.dumps(meta, ensure_ascii=False).encode()
                )
                n_parts += 1
                for row, entry in enumerate(meta["entries"]):
                    done[entry["key"]] = {**entry, "shard": shard, "row": row}
                failed.update(meta["failed"])
    finally:
        if pool is not None:
            pool.close()

    # Split: by person where the names carry one, else by photo.
    chosen = [done[it.record.filename] for q in queues.values() for it in q if it.record.filename in done]
    if wanted is not None:
        other_split = {e["key"]: e["split"] for e in other["entries"]}
        split_of = {e["key"]: other_split[e["key"]] for e in chosen}
        split_by = other.get("split_by", "person")
    else:
        persons = {e["key"]: item_by_key[e["key"]].record.person for e in chosen}
        with_person = sum(1 for p in persons.values() if p)
        split_by = (
            "person" if with_person == len(persons) else ("image" if not with_person else "person+image")
        )
        groups: dict[str, list[str]] = defaultdict(list)
        for e in chosen:
            # photos whose name carries no uploader id form a group of their own
            groups[persons[e["key"]] or f"photo:{e['key']}"].append(e["key"])
        split_of = split_by_person(groups, cfg.split, cfg.seed)
    entries = []
    for e in sorted(chosen, key=lambda e: (e["shard"], e["row"])):
        rec = item_by_key[e["key"]].record
        entries.append(
            {
                **e,
                "split": split_of[e["key"]],
                "person": rec.person,
                "uploader": rec.uploader,
                "votes": item_by_key[e["key"]].votes,
            }
        )
    summary = PrepareSummary(
        cache_dir=str(cache),
        mode=cfg.mode,
        size=cfg.size,
        total=len(entries),
        per_class=dict(Counter(e["label"] for e in entries)),
        per_split={
            s: dict(Counter(e["label"] for e in entries if e["split"] == s)) for s in ("train", "val", "test")
        },
        sources=dict(Counter(e["source"] for e in entries)),
        dropped={
            **{f"label:{k}": v for k, v in label_report.dropped.items()},
            **{f"crop:{k}": v for k, v in Counter(failed.values()).items()},
        },
        shortfall={
            c: cfg.per_class - n
            for c in KOREAN7_CLASSES
            if cfg.per_class
            and (n := sum(1 for e in entries if e["label"] == c)) < cfg.per_class
            and wanted is None
        },
        split_by=split_by,
        resumed=resumed,
        seconds=round(time.perf_counter() - t0, 2),
        import_report=asdict(imported.report) | {"missing_images": imported.report.missing_images[:50]},
        label_report=asdict(label_report),
        synthetic=synthetic,
    )
    new = max(0, len(entries) - resumed)
    summary.images_per_second = round(new / summary.seconds, 2) if summary.seconds > 0 else 0.0
    index = {
        "format": CACHE_FORMAT,
        "version": 1,
        "classes": list(KOREAN7_CLASSES),
        "mode": cfg.mode,
        "size": cfg.size,
        "margin": cfg.margin,
        "split_by": split_by,
        "synthetic": synthetic,
        "entries": entries,
        "summary": asdict(summary),
    }
    _write_atomic(cache / "index.json", json.dumps(index, ensure_ascii=False).encode())
    return summary


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
        self._shards: dict[str, np.ndarray] = {}

    def subset(self, split: str) -> list[int]:
        """Entry positions of one split ("train", "val", "test")."""
        return [i for i, e in enumerate(self.entries) if e["split"] == split]

    def labels(self, positions: Sequence[int]) -> np.ndarray:
        return np.asarray([self.classes.index(self.entries[i]["label"]) for i in positions], dtype=np.int64)

    def _shard(self, name: str) -> np.ndarray:
        arr = self._shards.get(name)
        if arr is None:
            arr = self._shards[name] = np.load(self.dir / name, mmap_mode="r")
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


# --------------------------------------------------------------------------------------------
# 4. training


@dataclass(frozen=True)
class TrainConfig:
    """A training run. Defaults follow the paper (Adam, Random Erasing, up to 150 epochs)."""

    arch: str = "resnet18"  # or "efficientnet_lite0"
    epochs: int = 150
    batch_size: int = 128  # per process
    lr: float = 3e-4
    weight_decay: float = 1e-4
    image_size: int = 224
    pretrained: str = "auto"  # "auto": ImageNet weights when on this machine; "yes"; "no"
    random_erasing: float = 0.5  # probability per image
    patience: int = 30  # stop after this many epochs without a better validation accuracy
    workers: int = 4  # DataLoader processes
    seed: int = 0
    amp: bool = True  # CUDA only
    channels_last: bool = True  # CUDA only
    resume: bool = True
    device: str = "auto"
    limit_train: int | None = None  # tiny runs: first N training images only
    # CPU runs only: torch threads during training (restored afterwards). On a busy shared CPU,
    # 1 thread avoids OpenMP oversubscription and was 8x faster in our measurements.
    cpu_threads: int | None = None
    log_every: int = 0  # batches between progress callbacks (0 = per epoch only)
    # "full": fine-tune every layer (the paper; GPU). "head": keep the ImageNet backbone frozen,
    # embed every crop once and train only the last layer, full-batch: on a CPU that learns in
    # seconds where fine-tuning needs minutes per epoch (the demo's default, see build_demo_pipeline).
    mode: str = "full"


class _BatchDataset:
    """Hands whole batches of uint8 crops to the DataLoader (one fancy-index per batch)."""

    def __init__(self, cache: CropCache, positions: Sequence[int]) -> None:
        self.cache = cache
        self.positions = list(positions)
        self.labels = cache.labels(self.positions)

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        return self.__getitems__([i])

    def __getitems__(self, idx: Sequence[int]) -> tuple[Any, Any]:
        import torch

        pos = [self.positions[i] for i in idx]
        x = torch.from_numpy(self.cache.images(pos))
        y = torch.from_numpy(self.labels[list(idx)])
        return x, y


def _passthrough(batch: Any) -> Any:
    return batch


def _gpu_augment(x: Any, train: bool, size: int, erasing: float, mean: Any, std: Any, gen: Any) -> Any:
    """uint8 NHWC batch on the device -> normalised NCHW float batch, augmented when training.

    All augmentation happens on the device in one pass (random scale/shift/flip/rotation via
    one affine grid per batch, then per-image Random Erasing), so the loader only copies bytes.
    """
    import torch
    import torch.nn.functional as F

    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    n = x.shape[0]
    if train:
        dev = x.device
        scale = torch.empty(n, device=dev).uniform_(0.85, 1.0, generator=gen)
        angle = torch.empty(n, device=dev).uniform_(-0.17, 0.17, generator=gen)  # about 10 degrees
        flip = (torch.rand(n, device=dev, generator=gen) < 0.5).float() * 2 - 1
        shift = torch.empty(n, 2, device=dev).uniform_(-0.06, 0.06, generator=gen)
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        theta = torch.stack(
            [torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)],
            1,
        )
        grid = F.affine_grid(theta, [n, 3, size, size], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    elif x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    x = (x - mean) / std
    if train and erasing > 0:
        dev = x.device
        area = torch.empty(n, device=dev).uniform_(0.02, 0.25, generator=gen) * size * size
        log_r = torch.empty(n, device=dev).uniform_(math.log(0.3), math.log(3.3), generator=gen)
        ratio = torch.exp(log_r)
        eh = torch.sqrt(area * ratio).clamp(1, size - 1)
        ew = torch.sqrt(area / ratio).clamp(1, size - 1)
        y0 = torch.rand(n, device=dev, generator=gen) * (size - eh)
        x0 = torch.rand(n, device=dev, generator=gen) * (size - ew)
        on = torch.rand(n, device=dev, generator=gen) < erasing
        ar = torch.arange(size, device=dev, dtype=torch.float32)
        rows = (ar[None, :] >= y0[:, None]) & (ar[None, :] < (y0 + eh)[:, None])
        cols = (ar[None, :] >= x0[:, None]) & (ar[None, :] < (x0 + ew)[:, None])
        mask = (rows[:, :, None] & cols[:, None, :] & on[:, None, None])[:, None]
        noise = torch.randn(x.shape, device=dev, generator=gen, dtype=x.dtype)
        x = torch.where(mask, noise, x)
    return x


def _normalisation(arch: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    from edu_core.models import IMAGENET_MEAN, IMAGENET_STD

    return IMAGENET_MEAN, IMAGENET_STD


@dataclass(frozen=True)
class _Dist:
    world: int
    rank: int
    local_rank: int

    @property
    def main(self) -> bool:
        return self.rank == 0


def _dist_init(device_pref: str) -> tuple[_Dist, Any]:
    """Join a torchrun group when WORLD_SIZE > 1 (env:// init); returns (dist info, device)."""
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = torch.cuda.is_available() and device_pref in ("auto", "cuda")
        if use_cuda:
            torch.cuda.set_device(local)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        device = torch.device("cuda", local) if use_cuda else torch.device("cpu")
        return _Dist(world, dist.get_rank(), local), device
    if device_pref == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(device_pref)
    return _Dist(1, 0, 0), device


def _build_net(arch: str, n_classes: int, pretrained: str) -> tuple[Any, bool]:
    from edu_core import models

    if pretrained not in ("auto", "yes", "no"):
        raise ValueError(f"pretrained must be auto, yes or no, not {pretrained!r}")
    use = pretrained == "yes" or (pretrained == "auto" and models.pretrained_weights_path(arch) is not None)
    return models.build_cnn(arch, n_classes, pretrained=use), use


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], *, n_classes: int) -> np.ndarray:
    """Counts[i, j] = images of class i predicted as j."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return cm


def metrics_from_confusion(cm: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class accuracy (recall) and the matrix, as plain JSON-ready values."""
    total = int(cm.sum())
    per_class = {
        c: (round(float(cm[i, i] / cm[i].sum()), 4) if cm[i].sum() else None) for i, c in enumerate(classes)
    }
    return {
        "accuracy": round(float(np.trace(cm) / total), 4) if total else None,
        "n": total,
        "per_class_accuracy": per_class,
        "support": {c: int(cm[i].sum()) for i, c in enumerate(classes)},
        "confusion": cm.tolist(),
        "classes": list(classes),
    }


def _evaluate_net(
    net: Any, loader: Any, device: Any, cfg: TrainConfig, mean: Any, std: Any, n_classes: int
) -> np.ndarray:
    import torch

    net.eval()
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    amp = device.type == "cuda" and cfg.amp
    with torch.no_grad():
        for x, y in loader:
            x = _gpu_augment(x.to(device, non_blocking=True), False, cfg.image_size, 0.0, mean, std, None)
            if device.type == "cuda" and cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                pred = net(x).argmax(1).cpu().numpy()
            cm += confusion_matrix(y.numpy(), pred, n_classes=n_classes)
    return cm


def _loader(
    ds: _BatchDataset, cfg: TrainConfig, *, shuffle: bool, sampler: Any = None, device: Any = None
) -> Any:
    import torch

    gen = torch.Generator()
    gen.manual_seed(cfg.seed)
    workers = cfg.workers if len(ds) > cfg.batch_size else 0
    return torch.utils.data.DataLoader(
        ds,
        batch_size=cfg.batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        num_workers=workers,
        collate_fn=_passthrough,
        pin_memory=device is not None and device.type == "cuda",
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
        generator=gen,
        drop_last=False,
    )


def train(
    cache_dir: str | Path,
    out_dir: str | Path,
    cfg: TrainConfig = TrainConfig(),
    *,
    on_epoch_end: Callable[[dict[str, Any]], bool | None] | None = None,
) -> dict[str, Any]:
    """Train on the crop cache; writes ``last.pt``, ``best.pt`` and ``metrics.json`` in ``out_dir``.

    ``on_epoch_end(info)`` gets the epoch's numbers and may return False to stop early.
    Re-running with ``resume=True`` continues from ``last.pt``. Returns the metrics dict.
    Under ``torchrun`` (WORLD_SIZE > 1) every process calls this; rank 0 writes the files.
    """
    import torch

    if cfg.cpu_threads is None:
        return _train(cache_dir, out_dir, cfg, on_epoch_end)
    before = torch.get_num_threads()
    torch.set_num_threads(cfg.cpu_threads)
    try:
        return _train(cache_dir, out_dir, cfg, on_epoch_end)
    finally:
        torch.set_num_threads(before)


def _train(
    cache_dir: str | Path,
    out_dir: str | Path,
    cfg: TrainConfig,
    on_epoch_end: Callable[[dict[str, Any]], bool | None] | None,
) -> dict[str, Any]:
    import torch
    import torch.distributed as dist
    import torch.nn as nn

    dinfo, device = _dist_init(cfg.device)
    out = Path(out_dir)
    if dinfo.main:
        out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed + dinfo.rank)
    cache = CropCache(cache_dir)
    classes = cache.classes
    n_classes = len(classes)
    train_pos = cache.subset("train")
    val_pos = cache.subset("val") or cache.subset("test")
    if cfg.limit_train:
        train_pos = train_pos[: cfg.limit_train]
    if not train_pos or not val_pos:
        raise Korean7Error(
            "split_empty", f"{cache_dir} has {len(train_pos)} training and {len(val_pos)} validation images"
        )

    net, used_pretrained = _build_net(cfg.arch, n_classes, cfg.pretrained)
    net = net.to(device)
    cuda = device.type == "cuda"
    if cuda and cfg.channels_last:
        net = net.to(memory_format=torch.channels_last)
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    optim = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, T_max=max(1, cfg.epochs))
    # bf16 autocast needs no loss scaling; fp16 (older GPUs) does.
    amp_dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16
    use_amp = cuda and cfg.amp
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    history: list[dict[str, Any]] = []
    start_epoch, best_acc, best_epoch = 0, -1.0, -1
    last_path, best_path = out / "last.pt", out / "best.pt"
    if cfg.mode not in ("full", "head"):
        raise ValueError(f"mode must be full or head, not {cfg.mode!r}")
    if cfg.mode == "head" and not used_pretrained:
        raise Korean7Error("weights_missing", f"no offline ImageNet weights for {cfg.arch} to keep frozen")
    if cfg.mode == "full" and cfg.resume and last_path.is_file():
        state = torch.load(last_path, map_location=device, weights_only=True)
        if state.get("arch") != cfg.arch:
            raise Korean7Error("resume_mismatch", f"{last_path} holds {state.get('arch')}, not {cfg.arch}")
        net.load_state_dict(state["state_dict"])
        optim.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        start_epoch = int(state["epoch"]) + 1
        best_acc, best_epoch = float(state["best_val_acc"]), int(state["best_epoch"])
        history = list(state.get("history", []))

    model: Any = net
    if dinfo.world > 1:
        model = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if cuda else None)

    train_ds = _BatchDataset(cache, train_pos)
    val_ds = _BatchDataset(cache, val_pos)
    sampler = None
    if dinfo.world > 1:
        sampler = torch.utils.data.distributed.DistributedSampler(
            train_ds, num_replicas=dinfo.world, rank=dinfo.rank, shuffle=True, seed=cfg.seed
        )
    train_loader = _loader(train_ds, cfg, shuffle=True, sampler=sampler, device=device)
    val_loader = _loader(val_ds, cfg, shuffle=False, device=device)
    mean_t, std_t = (torch.tensor(v, device=device).view(1, 3, 1, 1) for v in _normalisation(cfg.arch))
    gen = torch.Generator(device=device)
    gen.manual_seed(cfg.seed * 1000 + dinfo.rank + start_epoch)
    loss_fn = nn.CrossEntropyLoss()
    ckpt_meta = {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "arch": cfg.arch,
        "classes": list(classes),
        "image_size": cfg.image_size,
        "cache_mode": cache.mode,
        "cache_size": cache.size,
        "margin": float(cache.index.get("margin", 0.25)),
        "synthetic": cache.synthetic,
        "pretrained": used_pretrained,
        "config": asdict(cfg),
    }

    if cfg.mode == "head":
        history, best_acc, best_epoch = _train_head(
            net, cache, train_pos, val_pos, cfg, device, ckpt_meta, best_path, on_epoch_end
        )
    stop = False
    epoch = start_epoch
    for epoch in range(start_epoch, cfg.epochs if cfg.mode == "full" else 0):
        if sampler is not None:
            sampler.set_epoch(epoch)
        model.train()
        t0 = time.perf_counter()
        seen, loss_sum, correct = 0, 0.0, 0
        for x, y in train_loader:
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            x = _gpu_augment(x, True, cfg.image_size, cfg.random_erasing, mean_t, std_t, gen)
            if cuda and cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                logits = model(x)
                loss = loss_fn(logits, y)
            optim.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optim)
            scaler.update()
            seen += y.shape[0]
            loss_sum += float(loss.detach()) * y.shape[0]
            correct += int((logits.detach().argmax(1) == y).sum())
        if cuda:
            torch.cuda.synchronize()
        train_s = time.perf_counter() - t0
        sched.step()
        info: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": round(loss_sum / max(seen, 1), 4),
            "train_acc": round(correct / max(seen, 1), 4),
            "train_seconds": round(train_s, 3),
            "images_per_second": round(seen * dinfo.world / train_s, 1) if train_s > 0 else None,
        }
        flag = torch.zeros(1, device=device)
        if dinfo.main:
            cm = _evaluate_net(net, val_loader, device, cfg, mean_t, std_t, n_classes)
            val = metrics_from_confusion(cm, classes)
            info["val_acc"] = val["accuracy"]
            history.append(info)
            improved = (val["accuracy"] or 0.0) > best_acc
            if improved:
                best_acc, best_epoch = float(val["accuracy"] or 0.0), epoch
            state = {
                **ckpt_meta,
                "epoch": epoch,
                "best_val_acc": best_acc,
                "best_epoch": best_epoch,
                "history": history,
                "state_dict": net.state_dict(),
            }
            if improved:
                torch.save({**state, "val_metrics": val}, best_path.with_suffix(".tmp"))
                os.replace(best_path.with_suffix(".tmp"), best_path)
            full = {
                **state,
                "optimizer": optim.state_dict(),
                "scheduler": sched.state_dict(),
                "scaler": scaler.state_dict(),
            }
            torch.save(full, last_path.with_suffix(".tmp"))
            os.replace(last_path.with_suffix(".tmp"), last_path)
            if on_epoch_end is not None and on_epoch_end(dict(info, best_val_acc=best_acc)) is False:
                stop = True
            if epoch - best_epoch >= cfg.patience:
                stop = True
            flag[0] = float(stop)
        if dinfo.world > 1:
            dist.broadcast(flag, src=0)
            stop = bool(flag.item())
        if stop:
            break

    metrics: dict[str, Any] = {}
    if dinfo.main:
        metrics = evaluate(
            best_path, cache_dir, split="test" if cache.subset("test") else "val", device=str(device)
        )
        epochs_run = [h for h in history if h.get("images_per_second")]
        ips = [h["images_per_second"] for h in epochs_run[1:]] or [h["images_per_second"] for h in epochs_run]
        metrics.update(
            {
                "arch": cfg.arch,
                "pretrained": used_pretrained,
                "epochs_run": len(history),
                "best_epoch": best_epoch,
                "best_val_acc": round(best_acc, 4),
                "history": history,
                "train_images": len(train_pos),
                "images_per_second": round(float(np.median(ips)), 1) if ips else None,
                "device": _device_name(device),
                "world_size": dinfo.world,
                "amp": use_amp,
                "synthetic": cache.synthetic,
                "cache_mode": cache.mode,
                "mode": cfg.mode,
            }
        )
        _write_atomic(out / "metrics.json", json.dumps(metrics, ensure_ascii=False, indent=1).encode())
    if dinfo.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return metrics


def _train_head(
    net: Any,
    cache: CropCache,
    train_pos: Sequence[int],
    val_pos: Sequence[int],
    cfg: TrainConfig,
    device: Any,
    ckpt_meta: dict[str, Any],
    best_path: Path,
    on_epoch_end: Callable[[dict[str, Any]], bool | None] | None,
) -> tuple[list[dict[str, Any]], float, int]:
    """Frozen ImageNet backbone, trained last layer: returns (history, best_val_acc, best_epoch).

    Every crop is embedded once (plus its mirror image, a free augmentation); the epochs then
    train only the linear layer on those vectors, full-batch. The standardisation of the
    vectors is folded into the layer, so ``best.pt`` is an ordinary checkpoint of the whole net.
    """
    import torch
    import torch.nn as nn

    mean_t, std_t = (torch.tensor(v, device=device).view(1, 3, 1, 1) for v in _normalisation(cfg.arch))
    net.eval()

    def embed(positions: Sequence[int], mirrored: bool) -> Any:
        out = []
        with torch.no_grad():
            for s in range(0, len(positions), 32):
                x = torch.from_numpy(cache.images(positions[s : s + 32])).to(device)
                x = _gpu_augment(x, False, cfg.image_size, 0.0, mean_t, std_t, None)
                out.append(net.embed(x.flip(3) if mirrored else x).float())
        return torch.cat(out)

    train_y = torch.from_numpy(cache.labels(train_pos)).to(device)
    val_y = torch.from_numpy(cache.labels(val_pos)).to(device)
    t0 = time.perf_counter()
    x_train = torch.cat([embed(train_pos, False), embed(train_pos, True)])
    y_train = torch.cat([train_y, train_y])
    x_val = embed(val_pos, False)
    embed_s = time.perf_counter() - t0
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    z_train, z_val = (x_train - mu) / sd, (x_val - mu) / sd
    gen = torch.Generator().manual_seed(cfg.seed)
    head = nn.Linear(z_train.shape[1], len(cache.classes)).to(device)
    with torch.no_grad():
        bound = 1.0 / math.sqrt(z_train.shape[1])
        head.weight.copy_(torch.empty(head.weight.shape).uniform_(-bound, bound, generator=gen))
        head.bias.zero_()
    optim = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    history: list[dict[str, Any]] = []
    best_acc, best_epoch = -1.0, -1
    for epoch in range(cfg.epochs):
        t1 = time.perf_counter()
        head.train()
        logits = head(z_train)
        loss = nn.functional.cross_entropy(logits, y_train)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        with torch.no_grad():
            val_acc = float((head(z_val).argmax(1) == val_y).float().mean())
        seconds = time.perf_counter() - t1 + (embed_s if epoch == 0 else 0.0)
        info: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": round(float(loss.detach()), 4),
            "train_acc": round(float((logits.detach().argmax(1) == y_train).float().mean()), 4),
            "train_seconds": round(seconds, 3),
            "images_per_second": round(len(train_pos) / seconds, 1) if seconds > 0 else None,
            "val_acc": round(val_acc, 4),
        }
        history.append(info)
        if val_acc > best_acc:
            best_acc, best_epoch = val_acc, epoch
            fc = net._fc
            with torch.no_grad():
                # z = (e - mu) / sd  =>  W z + b = (W / sd) e + (b - W (mu / sd))
                fc.weight.copy_(head.weight / sd)
                fc.bias.copy_(head.bias - (head.weight * (mu / sd)).sum(1))
            state = {**ckpt_meta, "epoch": epoch, "best_val_acc": best_acc, "best_epoch": best_epoch}
            state["history"] = history
            state["state_dict"] = net.state_dict()
            # the checkpoint's numbers are those of the best epoch, like a fine-tuned one's
            cm = confusion_matrix(
                val_y.cpu().numpy(), head(z_val).argmax(1).cpu().numpy(), n_classes=len(cache.classes)
            )
            torch.save(
                {**state, "val_metrics": metrics_from_confusion(cm, cache.classes)},
                best_path.with_suffix(".tmp"),
            )
            os.replace(best_path.with_suffix(".tmp"), best_path)
        if on_epoch_end is not None and on_epoch_end(dict(info, best_val_acc=best_acc)) is False:
            break
        if epoch - best_epoch >= cfg.patience:
            break
    return history, best_acc, best_epoch


def _device_name(device: Any) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"


# --------------------------------------------------------------------------------------------
# 5. evaluate, predict, the page's API


@dataclass(frozen=True)
class Korean7Model:
    """A loaded seven-class checkpoint, ready to predict."""

    net: Any  # torch.nn.Module in eval mode
    classes: tuple[str, ...]
    arch: str
    image_size: int
    cache_mode: str  # "crop" or "resize": what the network was trained on
    cache_size: int
    margin: float
    synthetic: bool
    metrics: dict[str, Any]  # validation metrics stored with the checkpoint
    path: str


def load_model(path: str | Path, *, device: str = "cpu") -> Korean7Model:
    """Load ``best.pt`` (or any checkpoint written by :func:`train`)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelFileError("model_missing", f"{path} not found")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise ModelFileError("model_invalid", f"{path}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError("model_invalid", f"{path} is not a Korean-7 checkpoint")
    from edu_core import models

    net = models.build_cnn(state["arch"], len(state["classes"]), pretrained=False)
    net.load_state_dict(state["state_dict"])
    net.to(device).eval()
    return Korean7Model(
        net=net,
        classes=tuple(state["classes"]),
        arch=state["arch"],
        image_size=int(state["image_size"]),
        cache_mode=state.get("cache_mode", "crop"),
        cache_size=int(state.get("cache_size", 256)),
        margin=float(state.get("margin", 0.25)),
        synthetic=bool(state.get("synthetic", False)),
        metrics=dict(state.get("val_metrics", {})),
        path=str(path),
    )


def evaluate(
    checkpoint: str | Path | Korean7Model, cache_dir: str | Path, *, split: str = "test", device: str = "cpu"
) -> dict[str, Any]:
    """Accuracy, per-class accuracy and the confusion matrix of a checkpoint on one split."""
    import torch

    model = checkpoint if isinstance(checkpoint, Korean7Model) else load_model(checkpoint, device=device)
    cache = CropCache(cache_dir)
    if tuple(cache.classes) != model.classes:
        raise Korean7Error("class_mismatch", "the cache and the checkpoint have different classes")
    pos = cache.subset(split)
    if not pos:
        raise Korean7Error("split_empty", f"no {split} images in {cache_dir}")
    dev = next(model.net.parameters()).device
    cfg = TrainConfig(image_size=model.image_size, batch_size=64, workers=0, amp=dev.type == "cuda")
    mean, std = (torch.tensor(v, device=dev).view(1, 3, 1, 1) for v in _normalisation(model.arch))
    cm = _evaluate_net(
        model.net,
        _loader(_BatchDataset(cache, pos), cfg, shuffle=False),
        dev,
        cfg,
        mean,
        std,
        len(model.classes),
    )
    result = metrics_from_confusion(cm, model.classes)
    result.update(
        {"split": split, "synthetic": cache.synthetic, "checkpoint": model.path, "cache_mode": cache.mode}
    )
    return result


@dataclass(frozen=True)
class Prediction:
    """Seven probabilities for one photo, or the reason no face could be used."""

    status: str  # "ok" or "rejected"
    probabilities: dict[str, float] = field(default_factory=dict)  # class id -> 0..1
    label: str | None = None
    reason: str | None = None  # a face-engine reason code when rejected
    crop: np.ndarray | None = None  # what the network saw (before resizing)


def predict_crops(model: Korean7Model, crops: np.ndarray) -> np.ndarray:
    """Class probabilities (n, 7) for uint8 crops (n, H, W, 3) prepared like the cache."""
    import torch

    dev = next(model.net.parameters()).device
    mean, std = (torch.tensor(v, device=dev).view(1, 3, 1, 1) for v in _normalisation(model.arch))
    x = torch.from_numpy(np.ascontiguousarray(crops)).to(dev)
    with torch.no_grad():
        x = _gpu_augment(x, False, model.image_size, 0.0, mean, std, None)
        return torch.softmax(model.net(x).float(), dim=1).cpu().numpy()


def predict_bytes(model: Korean7Model, data: bytes | str | Path, *, landmarker: Any = None) -> Prediction:
    """Predict one photo: cut the face like the cache did, then run the network."""
    if model.cache_mode == "resize":
        try:
            img = decode(data, max_side=model.cache_size)
        except ImageError as exc:
            return Prediction(status="rejected", reason=exc.code)
        crop = np.asarray(
            Image.fromarray(img.rgb).resize((model.cache_size, model.cache_size), Image.Resampling.BILINEAR)
        )
    else:
        from edu_core.faces import CropConfig, extract

        face = extract(
            data, CropConfig(crop_size=model.cache_size, margin=model.margin), landmarker=landmarker
        )
        if not face.ok or face.crop is None:
            return Prediction(status="rejected", reason=face.reason)
        crop = face.crop
    probs = predict_crops(model, crop[None])[0]
    result = {c: round(float(p), 4) for c, p in zip(model.classes, probs, strict=True)}
    return Prediction(
        status="ok", probabilities=result, label=model.classes[int(np.argmax(probs))], crop=crop
    )


def model_report(model: Korean7Model | str | Path) -> dict[str, Any]:
    """What the page shows about a checkpoint: accuracy, per-class accuracy, confusion matrix.

    Prefers the test-set metrics written next to the checkpoint (``metrics.json``) and falls
    back to the validation metrics stored inside it.
    """
    m = model if isinstance(model, Korean7Model) else load_model(model)
    metrics_path = Path(m.path).with_name("metrics.json")
    if metrics_path.is_file():
        data = json.loads(metrics_path.read_text(encoding="utf-8"))
        data.setdefault("split", "test")
    else:
        data = dict(m.metrics, split="val")
    data["synthetic"] = m.synthetic
    data["arch"] = m.arch
    data["cache_mode"] = m.cache_mode
    data["korean_names"] = {c: KOREAN7_NAMES[c] for c in m.classes}
    return data


@dataclass(frozen=True)
class DemoPipelineResult:
    """Where the demo pipeline put things, and what it measured. Always synthetic."""

    dataset_dir: str
    cache_dir: str
    model_dir: str
    checkpoint: str
    prepare: dict[str, Any]
    metrics: dict[str, Any]
    synthetic: bool = True


#: Demo defaults, measured on this project's 2-core CPU (README): photos per class, the frozen
#: head's full-batch epochs, learning rate and weight decay.
DEMO_PER_CLASS = 40
DEMO_HEAD_EPOCHS = 100
DEMO_HEAD_LR = 3e-3
DEMO_HEAD_WEIGHT_DECAY = 1e-2


def build_demo_pipeline(
    workdir: str | Path,
    per_class: int = DEMO_PER_CLASS,
    progress: Callable[[str, float], None] | None = None,
    *,
    seed: int = 0,
    arch: str = "efficientnet_lite0",
    epochs: int = DEMO_HEAD_EPOCHS,
    long_side: int = 480,
    image_size: int = 128,
    crop_source: str = "engine",
    cpu_threads: int | None = None,
    mode: str = "auto",
    lr: float | None = None,
) -> DemoPipelineResult:
    """Generate the synthetic demo set, import it, cache the crops and train a small model.

    ``progress(stage, fraction)`` with stage in generate / prepare / train. Re-running with the
    same ``workdir`` reuses what is already there (generation and crops are resumable).
    The result is labelled synthetic: it says nothing about accuracy on real faces.

    ``mode="auto"`` trains only the last layer on a frozen ImageNet backbone ("head") when the
    weights of ``arch`` are on this machine, else fine-tunes everything ("full"): on a CPU,
    8 epochs of fine-tuning 20 photos per class took minutes and ended below chance, while
    the frozen head learns in seconds (README: figures).
    """
    from edu_core import models

    if mode == "auto":
        mode = "head" if models.pretrained_weights_path(arch) is not None else "full"
    from edu_core.aihub_demo import write_demo_set

    work = Path(workdir)
    data_dir, cache_dir, model_dir = work / "aihub_demo", work / "cache", work / "model"
    if not (data_dir / "DEMO_README.txt").is_file():
        if data_dir.exists():
            import shutil

            shutil.rmtree(data_dir)  # an interrupted generation; start it again
        write_demo_set(
            data_dir,
            per_class,
            seed,
            long_side=long_side,
            progress=(lambda d, t: progress("generate", d / t)) if progress else None,
        )
    summary = prepare(
        data_dir,
        cache_dir,
        PrepareConfig(per_class=None, crop_source=crop_source, seed=seed, workers=2, shard_size=256),
        progress=(lambda d, t, _s: progress("prepare", d / max(t, 1))) if progress else None,
    )
    cfg = TrainConfig(
        arch=arch,
        epochs=epochs,
        batch_size=32,
        lr=lr if lr is not None else (DEMO_HEAD_LR if mode == "head" else TrainConfig.lr),
        weight_decay=DEMO_HEAD_WEIGHT_DECAY if mode == "head" else TrainConfig.weight_decay,
        image_size=image_size,
        workers=0,
        seed=seed,
        patience=epochs,
        cpu_threads=cpu_threads,
        mode=mode,
    )
    metrics = train(
        cache_dir,
        model_dir,
        cfg,
        on_epoch_end=(lambda info: progress("train", (info["epoch"] + 1) / epochs) and None)
        if progress
        else None,
    )
    return DemoPipelineResult(
        dataset_dir=str(data_dir),
        cache_dir=str(cache_dir),
        model_dir=str(model_dir),
        checkpoint=str(model_dir / "best.pt"),
        prepare=asdict(summary),
        metrics=metrics,
    )


def compare_preprocessing(
    root: str | Path,
    workdir: str | Path,
    prep: PrepareConfig = PrepareConfig(),
    train_cfg: TrainConfig = TrainConfig(),
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """The paper's table on this data: the same network trained on whole photos resized vs face crops.

    Both caches hold the same photos with the same split. Returns our accuracies next to the
    paper's numbers (which were measured on the real data set).
    """
    work = Path(workdir)
    imported = import_dataset(root)
    crop_dir, resize_dir = work / "cache_crop", work / "cache_resize"
    prepare(
        imported,
        crop_dir,
        replace(prep, mode="crop"),
        progress=(lambda d, t, s: progress("prepare_crop", d / max(t, 1))) if progress else None,
    )
    prepare(
        imported,
        resize_dir,
        replace(prep, mode="resize"),
        same_as=crop_dir,
        progress=(lambda d, t, s: progress("prepare_resize", d / max(t, 1))) if progress else None,
    )
    rows = {}
    for name, cache in (("resize", resize_dir), ("face_crop", crop_dir)):
        m = train(cache, work / f"model_{name}", train_cfg)
        rows[name] = {
            "accuracy": m["accuracy"],
            "per_class_accuracy": m["per_class_accuracy"],
            "n_test": m["n"],
        }
        if progress:
            progress(f"train_{name}", 1.0)
    return {
        "arch": train_cfg.arch,
        "ours": rows,
        "paper": PAPER_RESULTS,
        "synthetic": CropCache(crop_dir).synthetic,
        "note": "paper numbers: real AI Hub data, 49,000 images; ours: this data set and these settings",
    }


# --------------------------------------------------------------------------------------------
# 6. command line


def _progress_bar(enabled: bool) -> Callable[[int, int, str], None]:
    last = [0.0]

    def show(done: int, total: int, stage: str) -> None:
        if not enabled:
            return
        now = time.monotonic()
        if done < total and now - last[0] < 0.5:
            return
        last[0] = now
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{stage} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _emit(obj: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False, indent=1, default=str))
    else:
        text = json.dumps(obj, ensure_ascii=False, indent=1, default=str)
        print(text if len(text) < 4000 else text[:4000] + "\n...")


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; see the module docstring."""
    p = argparse.ArgumentParser(
        prog="python -m edu_core.korean7", description="Korean seven-class emotion pipeline"
    )
    sub = p.add_subparsers(dest="cmd", required=True)

    pi = sub.add_parser("import", help="read the data set, report labels and missing photos")
    pi.add_argument("root", type=Path)
    pi.add_argument("--min-agree", type=int, choices=(2, 3), default=2)

    pp = sub.add_parser("prepare", help="build the crop cache (resumable)")
    pp.add_argument("root", type=Path)
    pp.add_argument("--cache", type=Path, required=True)
    pp.add_argument("--per-class", type=int, default=7000, help="0 = every labelled photo")
    pp.add_argument("--min-agree", type=int, choices=(2, 3), default=2)
    pp.add_argument("--mode", choices=("crop", "resize"), default="crop")
    pp.add_argument("--crop-source", choices=("engine", "boxes"), default="engine")
    pp.add_argument("--size", type=int, default=256)
    pp.add_argument("--margin", type=float, default=0.25)
    pp.add_argument("--workers", type=int, default=max(1, min(8, os.cpu_count() or 1)))
    pp.add_argument("--seed", type=int, default=0)
    pp.add_argument("--same-as", type=Path, help="use the photos and split of this other cache")

    pt = sub.add_parser("train", help="train on a cache (torchrun for several GPUs)")
    pt.add_argument("--cache", type=Path, required=True)
    pt.add_argument("--out", type=Path, required=True)
    pt.add_argument("--arch", choices=("resnet18", "efficientnet_lite0"), default="resnet18")
    pt.add_argument("--epochs", type=int, default=150)
    pt.add_argument("--batch-size", type=int, default=128)
    pt.add_argument("--lr", type=float, default=3e-4)
    pt.add_argument("--image-size", type=int, default=224)
    pt.add_argument("--pretrained", choices=("auto", "yes", "no"), default="auto")
    pt.add_argument("--patience", type=int, default=30)
    pt.add_argument("--workers", type=int, default=4)
    pt.add_argument("--seed", type=int, default=0)
    pt.add_argument("--device", default="auto")
    pt.add_argument("--no-amp", action="store_true")
    pt.add_argument("--no-resume", action="store_true")
    pt.add_argument("--limit-train", type=int, default=None)
    pt.add_argument("--cpu-threads", type=int, default=None, help="torch threads for CPU runs")
    pt.add_argument("--mode", choices=("full", "head"), default="full", help="head: frozen backbone")

    pe = sub.add_parser("evaluate", help="accuracy, per-class accuracy, confusion matrix")
    pe.add_argument("--checkpoint", type=Path, required=True)
    pe.add_argument("--cache", type=Path, required=True)
    pe.add_argument("--split", choices=("train", "val", "test"), default="test")
    pe.add_argument("--device", default="cpu")

    pr = sub.add_parser("predict", help="seven probabilities for photos")
    pr.add_argument("--checkpoint", type=Path, required=True)
    pr.add_argument("images", type=Path, nargs="+")

    pd = sub.add_parser("demo", help="synthetic demo: generate, prepare, train")
    pd.add_argument("--workdir", type=Path, required=True)
    pd.add_argument("--per-class", type=int, default=DEMO_PER_CLASS)
    pd.add_argument("--epochs", type=int, default=DEMO_HEAD_EPOCHS)
    pd.add_argument("--arch", choices=("resnet18", "efficientnet_lite0"), default="efficientnet_lite0")
    pd.add_argument("--crop-source", choices=("engine", "boxes"), default="engine")
    pd.add_argument(
        "--mode",
        choices=("auto", "head", "full"),
        default="auto",
        help="head: frozen backbone + last layer; full: fine-tune all; auto: head when the weights are here",
    )

    pc = sub.add_parser("compare", help="the paper's table: whole photo resized vs face crop")
    pc.add_argument("root", type=Path)
    pc.add_argument("--workdir", type=Path, required=True)
    pc.add_argument("--per-class", type=int, default=7000)
    pc.add_argument("--arch", choices=("resnet18", "efficientnet_lite0"), default="resnet18")
    pc.add_argument("--epochs", type=int, default=150)
    pc.add_argument("--image-size", type=int, default=224)
    pc.add_argument("--crop-source", choices=("engine", "boxes"), default="engine")
    pc.add_argument("--workers", type=int, default=max(1, min(8, os.cpu_count() or 1)))

    for sp in (pi, pp, pt, pe, pr, pd, pc):
        sp.add_argument("--json", action="store_true", help="machine-readable output")
    args = p.parse_args(argv)
    bar = _progress_bar(not args.json and sys.stderr.isatty())
    try:
        if args.cmd == "import":
            res = import_dataset(args.root)
            _, lrep = agreement_labels(res.records, args.min_agree)
            rep = asdict(res.report)
            rep["missing_images"] = rep["missing_images"][:100]
            _emit({"import": rep, "labels": asdict(lrep)}, args.json)
        elif args.cmd == "prepare":
            cfg = PrepareConfig(
                per_class=args.per_class or None,
                min_agree=args.min_agree,
                mode=args.mode,
                crop_source=args.crop_source,
                size=args.size,
                margin=args.margin,
                workers=args.workers,
                seed=args.seed,
            )
            _emit(asdict(prepare(args.root, args.cache, cfg, progress=bar, same_as=args.same_as)), args.json)
        elif args.cmd == "train":
            tcfg = TrainConfig(
                arch=args.arch,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                image_size=args.image_size,
                pretrained=args.pretrained,
                patience=args.patience,
                workers=args.workers,
                seed=args.seed,
                device=args.device,
                amp=not args.no_amp,
                resume=not args.no_resume,
                limit_train=args.limit_train,
                cpu_threads=args.cpu_threads,
                mode=args.mode,
            )

            def log(info: dict[str, Any]) -> None:
                if not args.json:
                    sys.stderr.write(json.dumps(info) + "\n")

            m = train(args.cache, args.out, tcfg, on_epoch_end=log)
            if m:
                _emit(m, args.json)
        elif args.cmd == "evaluate":
            _emit(evaluate(args.checkpoint, args.cache, split=args.split, device=args.device), args.json)
        elif args.cmd == "predict":
            model = load_model(args.checkpoint)
            out = []
            for path in args.images:
                pred = predict_bytes(model, path)
                out.append({"image": str(path), **{k: v for k, v in asdict(pred).items() if k != "crop"}})
            _emit({"synthetic_model": model.synthetic, "predictions": out}, args.json)
        elif args.cmd == "demo":
            res_demo = build_demo_pipeline(
                args.workdir,
                args.per_class,
                (lambda s, f: bar(int(f * 100), 100, s)) if not args.json else None,
                epochs=args.epochs,
                arch=args.arch,
                crop_source=args.crop_source,
                mode=args.mode,
            )
            _emit(asdict(res_demo), args.json)
        elif args.cmd == "compare":
            res_cmp = compare_preprocessing(
                args.root,
                args.workdir,
                PrepareConfig(per_class=args.per_class, crop_source=args.crop_source, workers=args.workers),
                TrainConfig(arch=args.arch, epochs=args.epochs, image_size=args.image_size),
            )
            _emit(res_cmp, args.json)
    except EduError as exc:
        err = {"error": exc.code, "detail": exc.detail}
        print(json.dumps(err, ensure_ascii=False), file=sys.stdout if args.json else sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
