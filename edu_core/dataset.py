"""Labelled data sets for the lesson: splits, sampling, planted mistakes, zip files.

The pure functions here work on plain records: anything with ``id``, ``label`` and
optionally ``person`` and ``group`` attributes (an :class:`Item`, or the store's
``ImageRecord``). They never touch the database, so they are easy to test and to
reuse in experiments. The import/export helpers at the bottom take a
:class:`~edu_core.store.Store` and move whole data sets in and out of it.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import inspect
import io
import json
import math
import random
import sys
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from edu_core.errors import StoreError
from edu_core.labels import LESSON_CLASSES, korean_name, normalize_label

if TYPE_CHECKING:  # the store imports this module; only type hints go the other way
    from edu_core.faces import FaceResult
    from edu_core.store import Store

MANIFEST_FORMAT = "expression-lab-dataset"
MANIFEST_VERSION = 1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".bmp", ".gif", ".tif", ".tiff")
REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "sample_images"


class Record(Protocol):
    """What the pure functions need from a record."""

    id: Any
    label: str | None


@dataclass(frozen=True)
class Item:
    """A plain labelled record: an image id, its class and (when known) who it shows."""

    id: Any
    label: str
    person: str | None = None
    group: str | None = None


R = TypeVar("R")


@dataclass(frozen=True)
class Split:
    """Which records are for training and which are held back for testing."""

    train: tuple[Any, ...]
    test: tuple[Any, ...]
    seed: int
    test_ratio: float
    by_person: bool = False

    @property
    def train_ids(self) -> list[Any]:
        return [r.id for r in self.train]

    @property
    def test_ids(self) -> list[Any]:
        return [r.id for r in self.test]


@dataclass(frozen=True)
class BalanceRule:
    """When the lesson warns that a data set is lopsided (see :func:`imbalance_warning`)."""

    min_per_class: int = 5  # fewer than this in any class: too little to learn from
    max_ratio: float = 1.5  # biggest class / smallest class above this: imbalanced


# --------------------------------------------------------------------------- pure helpers


def _label(r: Any) -> str:
    label = getattr(r, "label", None)
    if label is None:
        raise ValueError(f"record {getattr(r, 'id', r)!r} has no label")
    return label


def _id_key(value: Any) -> tuple[int, Any]:
    """Sort ids numerically when they are numbers, else as text (never mixing the two)."""
    return (0, value) if isinstance(value, int) else (1, str(value))


def _id_order(r: Any) -> tuple[int, Any]:
    return _id_key(r.id)


def _by_class(items: Iterable[R]) -> dict[str, list[R]]:
    groups: dict[str, list[R]] = defaultdict(list)
    for r in items:
        groups[_label(r)].append(r)
    return groups


def _check_ratio(test_ratio: float) -> None:
    if not 0.0 < test_ratio < 1.0:
        raise ValueError(f"test_ratio must be between 0 and 1 (exclusive), got {test_ratio}")


def split_test_counts(
    class_sizes: Mapping[str, int], test_ratio: float, rng: random.Random
) -> dict[str, int]:
    """How many of each class go to the test side.

    Each class gets ``floor`` or ``ceil`` of its share (so it is stratified within
    one image), every class keeps at least one training image, and the total is as
    close to ``round(N * ratio)`` as those rules allow (40 images → 8 test).
    Ties for the leftover places are broken by ``rng``, so the seed decides them.
    """
    _check_ratio(test_ratio)
    total = sum(class_sizes.values())
    target = round(total * test_ratio)
    counts: dict[str, int] = {}
    room: list[tuple[float, float, str]] = []
    for cls in sorted(class_sizes):
        n = class_sizes[cls]
        share = n * test_ratio
        base = min(math.floor(share), max(n - 1, 0))
        counts[cls] = base
        upper = min(math.ceil(share), max(n - 1, 0))
        if upper > base:
            room.append((-(share - base), rng.random(), cls))
    room.sort()
    missing = target - sum(counts.values())
    for _, _, cls in room[: max(missing, 0)]:
        counts[cls] += 1
    return counts


def split_stratified(items: Sequence[R], test_ratio: float = 0.2, seed: int = 0) -> Split:
    """Random train/test split that keeps each class's share (40 images → 32/8).

    The same items, ratio and seed always give the same split, whatever order the
    items come in.
    """
    rng = random.Random(seed)
    groups = _by_class(items)
    counts = split_test_counts({c: len(v) for c, v in groups.items()}, test_ratio, rng)
    test_ids: set[Any] = set()
    for cls in sorted(groups):
        members = sorted(groups[cls], key=_id_order)
        rng.shuffle(members)
        test_ids.update(r.id for r in members[: counts[cls]])
    return _split_from(items, test_ids, seed, test_ratio)


def _split_from(
    items: Sequence[R], test_ids: set[Any], seed: int, test_ratio: float, *, by_person: bool = False
) -> Split:
    """The split that puts ``test_ids`` on the test side, both sides in a stable id order."""
    ordered = sorted(items, key=_id_order)
    return Split(
        train=tuple(r for r in ordered if r.id not in test_ids),
        test=tuple(r for r in ordered if r.id in test_ids),
        seed=seed,
        test_ratio=test_ratio,
        by_person=by_person,
    )


def person_key(r: Any) -> str:
    """Who is in a photo, for keeping each person on one side of a split."""
    person = getattr(r, "person", None)
    if person not in (None, ""):
        return f"p:{person}"
    student = getattr(r, "student_id", None)
    return f"s:{student}" if student is not None else f"id:{r.id}"


def split_by_person(items: Sequence[R], test_ratio: float = 0.2, seed: int = 0) -> Split:
    """Split so that every person's photos stay on one side.

    A model that has seen a face in training recognises *that face* in the test,
    which makes the score look better than it is. A record without a ``person`` is a
    photo of the student who uploaded it (``student_id``, as the store's records have)
    or, without that either, its own person. People are taken in a seeded random order
    and put on the test side whenever that brings the per-class test counts closer to
    the stratified target; at least one person always stays in training.
    """
    _check_ratio(test_ratio)
    rng = random.Random(seed)
    people: dict[str, list[R]] = defaultdict(list)
    for r in items:
        people[person_key(r)].append(r)
    sizes = Counter(_label(r) for r in items)
    targets = {c: n * test_ratio for c, n in sizes.items()}
    current: Counter[str] = Counter()
    order = sorted(people)
    rng.shuffle(order)

    def cost(counts: Mapping[str, float]) -> float:
        return sum((counts.get(c, 0) - t) ** 2 for c, t in targets.items())

    test_people: set[str] = set()
    for key in order:
        if len(test_people) + 1 >= len(people):
            break  # keep at least one person for training
        add = Counter(_label(r) for r in people[key])
        trial = current + add
        if cost(trial) < cost(current):
            current = trial
            test_people.add(key)
    test_ids = {r.id for key in test_people for r in people[key]}
    return _split_from(items, test_ids, seed, test_ratio, by_person=True)


def sample_per_class(items: Sequence[R], n: int | Mapping[str, int], seed: int = 0) -> list[R]:
    """Take ``n`` random records of every class (or ``n[class]``; unnamed classes are dropped).

    A class with fewer records than asked gives all it has; compare
    :func:`class_counts` of the result with the request to tell the student.
    """
    rng = random.Random(seed)
    groups = _by_class(items)
    wanted = {c: n for c in groups} if isinstance(n, int) else dict(n)
    if any(v < 0 for v in wanted.values()):
        raise ValueError("counts per class must be >= 0")
    keep: set[Any] = set()
    for cls in sorted(groups):
        if cls not in wanted:
            continue
        members = sorted(groups[cls], key=_id_order)
        rng.shuffle(members)
        keep.update(r.id for r in members[: wanted[cls]])
    return [r for r in items if r.id in keep]


def make_imbalanced(items: Sequence[R], counts: Mapping[str, int], seed: int = 0) -> list[R]:
    """Cut the named classes down to ``counts`` (e.g. ``{"sadness": 20}``); other classes keep all."""
    sizes = Counter(_label(r) for r in items)
    wanted = {c: counts.get(c, n) for c, n in sizes.items()}
    return sample_per_class(items, wanted, seed)


def inject_mislabels(
    items: Sequence[R],
    source_class: str,
    fraction: float,
    seed: int = 0,
    targets: Sequence[str] | None = None,
) -> tuple[list[R], list[Any]]:
    """Give ``fraction`` of ``source_class`` a wrong label; return the new records and their ids.

    The lesson plants label errors (an anger photo filed as joy) to show how they
    confuse a model. Wrong labels are drawn from ``targets`` (default: the other
    classes present). Records are copied with :func:`dataclasses.replace`, never changed.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    rng = random.Random(seed)
    present = sorted({_label(r) for r in items})
    choices = [c for c in (targets if targets is not None else present) if c != source_class]
    if not choices:
        raise ValueError("no other class to move mislabelled images to")
    members = sorted((r for r in items if _label(r) == source_class), key=_id_order)
    rng.shuffle(members)
    k = round(len(members) * fraction)
    flip = {r.id: choices[rng.randrange(len(choices))] for r in members[:k]}
    out: list[R] = []
    for r in items:
        if r.id in flip:
            if not dataclasses.is_dataclass(r):
                raise TypeError("inject_mislabels needs dataclass records (e.g. Item)")
            r = dataclasses.replace(r, label=flip[r.id])  # type: ignore[type-var]
        out.append(r)
    return out, sorted(flip, key=_id_key)


def class_counts(items: Iterable[Any], labels: Sequence[str] | None = None) -> dict[str, int]:
    """Number of records per class, in ``labels`` order (zeros included)."""
    counts = Counter(_label(r) for r in items)
    order = list(labels) if labels is not None else sorted(counts)
    out = {c: counts.get(c, 0) for c in order}
    for c in sorted(counts):
        out.setdefault(c, counts[c])
    return out


def imbalance_warning(counts: Mapping[str, int], rule: BalanceRule = BalanceRule()) -> str | None:
    """A reason code when the data set is not fit to train a fair model, else ``None``.

    ``empty_class`` (a class has no images), ``too_few_images`` (a class has fewer
    than ``rule.min_per_class``) or ``imbalanced`` (the biggest class is more than
    ``rule.max_ratio`` times the smallest, e.g. 40 joy vs 20 sadness).
    Messages for the codes live in ``edu_core.i18n``.
    """
    if not counts:
        return "empty_class"
    values = list(counts.values())
    if min(values) == 0:
        return "empty_class"
    if min(values) < rule.min_per_class:
        return "too_few_images"
    if max(values) / min(values) > rule.max_ratio:
        return "imbalanced"
    return None


# --------------------------------------------------------------------------- zip files


@dataclass(frozen=True)
class ImportReport:
    """What an import did: ids of the stored images, counts, and files skipped with why."""

    image_ids: tuple[int, ...]
    counts: dict[str, int]
    skipped: tuple[tuple[str, str], ...] = ()  # (file name, reason code)
    split_id: int | None = None


@dataclass(frozen=True)
class ImportLimits:
    """Guards against zip bombs and runaway uploads."""

    max_files: int = 5000
    max_file_bytes: int = 25 * 1024 * 1024
    max_total_bytes: int = 2 * 1024 * 1024 * 1024


# Called as ``extractor(list_of_bytes, progress=callback)``; the default runs MediaPipe.
Extractor = Callable[..., "list[FaceResult]"]


def face_version(extractor: Extractor | None = None) -> str:
    """A tag for the extraction settings, so cached results are redone when the rules change."""
    if extractor is not None:
        return f"custom:{getattr(extractor, '__qualname__', type(extractor).__name__)}"
    from edu_core.faces import CropConfig

    return "mp:" + hashlib.sha1(repr(CropConfig()).encode()).hexdigest()[:12]


def _default_extractor(blobs: Sequence[bytes], progress: Callable[[int, int], None] | None = None) -> list:
    from edu_core import faces  # MediaPipe is heavy: load it only when photos need it

    return faces.extract_many(list(blobs), progress=progress)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _safe_name(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(name).name)
    return keep.strip("._") or "image"


def export_zip(
    store: Store,
    viewer: Any,
    dest: Path | None = None,
    *,
    image_ids: Sequence[int] | None = None,
    split_id: int | None = None,
    labelled_only: bool = True,
) -> bytes:
    """Write a data set as a zip (``images/<class>/…``, ``labels.csv``, ``manifest.json``).

    ``viewer`` is the student id or teacher session asking (ownership is checked by
    the store). With ``split_id`` each row records train/test. Returns the zip
    bytes and, when ``dest`` is given, also writes them there atomically.
    """
    records = store.list_images(viewer)
    if not isinstance(viewer, int):  # the class's data: kept photos only once the teacher accepted them
        records = [r for r in records if r.kept_accepted or not r.kept]
    if image_ids is not None:
        wanted = set(image_ids)
        records = [r for r in records if r.id in wanted]
    if labelled_only:
        records = [r for r in records if r.label]
    parts: dict[int, str] = {}
    split_meta: dict[str, Any] | None = None
    if split_id is not None:
        split = store.get_split(viewer, split_id)
        parts = {i: "train" for i in split.train_ids} | {i: "test" for i in split.test_ids}
        split_meta = {"seed": split.seed, "test_ratio": split.test_ratio, "by_person": split.by_person}
    labels = store.class_labels(viewer)
    buf = io.BytesIO()
    files: dict[str, str] = {}
    rows = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # photos are already compressed
        for r in records:
            data = store.original_bytes(viewer, r.id)
            sha = _sha(data)
            folder = r.label or "unlabelled"
            stem = Path(_safe_name(r.filename)).stem
            path = f"images/{folder}/{sha[:12]}_{stem}.{r.ext}"
            if path in files:
                continue
            zf.writestr(path, data)
            files[path] = sha
            rows.append(
                {
                    "file": path,
                    "class": r.label or "",
                    "split": parts.get(r.id, ""),
                    "person": r.person or "",
                    "group": r.group or "",
                    "source": r.source,
                    "sha256": sha,
                }
            )
        out = io.StringIO()
        writer = csv.DictWriter(
            out, fieldnames=["file", "class", "split", "person", "group", "source", "sha256"]
        )
        writer.writeheader()
        writer.writerows(rows)
        csv_bytes = out.getvalue().encode("utf-8")
        zf.writestr("labels.csv", csv_bytes)
        manifest = {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "classes": list(labels),
            "class_names": {c: store.display_name(viewer, c) for c in labels},
            "count": len(rows),
            "counts": class_counts([Item(r["file"], r["class"]) for r in rows if r["class"]], labels),
            "split": split_meta,
            "labels_csv_sha256": _sha(csv_bytes),
            "files": files,
        }
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    data = buf.getvalue()
    if dest is not None:
        _atomic_write(Path(dest), data)
    return data


def _atomic_write(path: Path, data: bytes) -> None:
    import os

    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_zip(source: bytes | Path, limits: ImportLimits = ImportLimits()) -> tuple[dict, list[dict]]:
    """Open and verify a data-set zip: return its manifest and rows, each row with its ``data`` bytes.

    Every file's SHA-256 must match the manifest, or :class:`StoreError` ``bad_checksum``
    is raised; anything that is not one of our zips raises ``bad_archive``. Nothing is
    extracted to disk, so names like ``../x`` cannot escape anywhere.
    """
    try:
        raw = Path(source).read_bytes() if isinstance(source, Path) else source
    except FileNotFoundError as exc:
        raise StoreError("not_found", str(source)) from exc
    except OSError as exc:
        raise StoreError("io_error", str(exc)) from exc
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            return _read_open_zip(zf, limits)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        UnicodeDecodeError,
        ValueError,
        KeyError,
    ) as exc:
        raise StoreError("bad_archive", str(exc)) from exc


def _read_open_zip(zf: zipfile.ZipFile, limits: ImportLimits) -> tuple[dict, list[dict]]:
    infos = {i.filename: i for i in zf.infolist()}
    if "manifest.json" not in infos or "labels.csv" not in infos:
        raise StoreError("bad_archive", "manifest.json or labels.csv missing")
    if len(infos) > limits.max_files + 2:
        raise StoreError("too_many_files", str(len(infos)))
    if sum(i.file_size for i in infos.values()) > limits.max_total_bytes:
        raise StoreError("too_large", "archive expands too much")
    manifest = json.loads(zf.read("manifest.json"))
    csv_bytes = zf.read("labels.csv")
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != MANIFEST_FORMAT
        or not isinstance(manifest.get("files"), dict)
    ):
        raise StoreError("bad_archive", "not an Expression Lab data set")
    if int(manifest.get("version", 0)) > MANIFEST_VERSION:
        raise StoreError("bad_archive", f"made by a newer version ({manifest.get('version')})")
    if manifest.get("labels_csv_sha256") not in (None, _sha(csv_bytes)):
        raise StoreError("bad_checksum", "labels.csv")
    rows = list(csv.DictReader(io.StringIO(csv_bytes.decode("utf-8-sig"))))
    files: dict[str, str] = manifest["files"]
    for row in rows:
        name = row.get("file") or ""
        info = infos.get(name)
        if info is None or name not in files:
            raise StoreError("bad_archive", f"{name!r} listed but not in the archive")
        if info.file_size > limits.max_file_bytes:
            raise StoreError("too_large", name)
        data = zf.read(info)
        if _sha(data) != files[name] or (row.get("sha256") and row["sha256"] != files[name]):
            raise StoreError("bad_checksum", name)
        row["data"] = data
    return manifest, rows


def _call_extractor(
    extractor: Extractor, blobs: list[bytes], progress: Callable[[int, int], None]
) -> list[FaceResult]:
    """Call ``extractor``, passing ``progress=`` only when it takes one."""
    try:
        params = inspect.signature(extractor).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature
        params = ()
    takes = any(p.name == "progress" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    return extractor(blobs, progress=progress) if takes else extractor(blobs)


def _extract_cached(
    store: Store,
    blobs: Sequence[bytes],
    extractor: Extractor | None,
    progress: Callable[[int, int], None] | None = None,
    version: str | None = None,
) -> tuple[list[FaceResult], str]:
    """Face extraction for many photos, reusing results the store already has for the same bytes.

    Returns the results and the version tag they were made with.
    """
    version = face_version(extractor) if version is None else version
    results: list[FaceResult | None] = [store.cached_face(_sha(b), version) for b in blobs]
    todo = [i for i, r in enumerate(results) if r is None]
    cached = len(blobs) - len(todo)
    if progress is not None:
        progress(cached, len(blobs))
    if todo:

        def report(done: int, _total: int) -> None:
            if progress is not None:
                progress(cached + done, len(blobs))

        fresh = _call_extractor(extractor or _default_extractor, [blobs[i] for i in todo], report)
        if len(fresh) != len(todo):
            raise ValueError("extractor returned a different number of results")
        for i, res in zip(todo, fresh, strict=True):
            results[i] = res
    return [r for r in results if r is not None], version


def _add_all(
    store: Store,
    student_id: int,
    entries: Sequence[dict],
    source: str,
    extractor: Extractor | None,
    progress: Callable[[int, int], None] | None,
    version: str | None = None,
) -> list[int]:
    """Extract (or reuse) faces for every entry, then store them.

    ``progress(done, total)`` counts photos (the page says "finding faces… 37/100"), so
    ``total`` is the number of photos: the last step is reported once every photo is stored.
    """
    n = len(entries)

    def extract_progress(done: int, _total: int) -> None:
        if progress is not None:
            # the last photo counts once it is stored too, so the bar reaches the end only then
            progress(min(done, max(n - 1, 0)), n)

    results, version = _extract_cached(
        store, [e["data"] for e in entries], extractor, extract_progress, version
    )
    from edu_core.store import NewImage

    ids: list[int] = []
    batch = 32  # one transaction per batch: far fewer commits than one per photo
    pairs = list(zip(entries, results, strict=True))
    for start in range(0, n, batch):
        photos = [
            NewImage(
                data=e["data"],
                filename=e["filename"],
                source=source,  # type: ignore[arg-type]
                face=face,
                person=e.get("person") or None,
                group=e.get("group") or None,
                label=e.get("label") or None,
                face_version=version,
            )
            for e, face in pairs[start : start + batch]
        ]
        ids.extend(r.id for r in store.add_images(student_id, photos))
    if progress is not None:
        progress(n, n)
    return ids


def import_zip(
    store: Store,
    student_id: int,
    source: bytes | Path,
    *,
    extractor: Extractor | None = None,
    progress: Callable[[int, int], None] | None = None,
    face_version: str | None = None,
    keep_split: bool = True,
) -> ImportReport:
    """Load a data-set zip made by :func:`export_zip` into a student's workspace.

    Checksums are verified before anything is stored. Class names may be Korean or
    English. When the zip carries a split and ``keep_split`` is set, the same
    train/test assignment is saved too.
    """
    manifest, rows = read_zip(source)
    allowed = set(store.class_labels(student_id))
    entries, skipped = [], []
    for row in rows:
        label = None
        if row.get("class"):
            try:
                label = normalize_label(row["class"])
            except ValueError:
                skipped.append((row["file"], "unknown_class"))
                continue
            if label not in allowed:
                skipped.append((row["file"], "unknown_class"))
                continue
        entries.append(
            {
                "data": row["data"],
                "filename": Path(row["file"]).name,
                "label": label,
                "person": row.get("person"),
                "group": row.get("group"),
                "split": row.get("split", ""),
            }
        )
    entries = _drop_empty(entries, skipped)
    ids = _add_all(store, student_id, entries, "upload", extractor, progress, face_version)
    split_id = None
    split_meta = manifest.get("split")
    if keep_split and split_meta and any(e["split"] for e in entries):
        train = [i for i, e in zip(ids, entries, strict=True) if e["split"] == "train"]
        test = [i for i, e in zip(ids, entries, strict=True) if e["split"] == "test"]
        split_id = store.save_split(
            student_id,
            train,
            test,
            seed=int(split_meta.get("seed", 0)),
            test_ratio=float(split_meta.get("test_ratio", 0.2)),
            by_person=bool(split_meta.get("by_person", False)),
        )
    labels = [e["label"] for e in entries if e["label"]]
    return ImportReport(
        image_ids=tuple(ids),
        counts=class_counts([Item(i, c) for i, c in enumerate(labels)]),
        skipped=tuple(skipped),
        split_id=split_id,
    )


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


def _drop_empty(entries: list[dict], skipped: list[tuple[str, str]]) -> list[dict]:
    """Leave out empty files (the store refuses them) so one of them never stops an import."""
    for e in entries:
        if not e["data"]:
            skipped.append((e["filename"], "empty_file"))
    return [e for e in entries if e["data"]]


def import_folder(
    store: Store,
    student_id: int,
    folder: Path,
    *,
    extractor: Extractor | None = None,
    progress: Callable[[int, int], None] | None = None,
    face_version: str | None = None,
) -> ImportReport:
    """Import a folder whose subfolders are named after classes (Korean or English)."""
    entries, skipped = scan_folder(folder)
    allowed = set(store.class_labels(student_id))
    keep = []
    for e in entries:
        if e["label"] not in allowed:
            skipped.append((e["filename"], "unknown_class"))
            continue
        e["data"] = Path(e["path"]).read_bytes()
        keep.append(e)
    keep = _drop_empty(keep, skipped)
    ids = _add_all(store, student_id, keep, "upload", extractor, progress, face_version)
    return ImportReport(
        image_ids=tuple(ids),
        counts=class_counts([Item(i, e["label"]) for i, e in enumerate(keep)]),
        skipped=tuple(skipped),
    )


def _sample_label(row: Mapping[str, str]) -> str | None:
    """The class id of a sample row, or ``None`` when it has no (known) class."""
    try:
        return normalize_label(row.get("class") or "")
    except ValueError:
        return None


def sample_rows(
    sample_dir: Path = SAMPLE_DIR,
    *,
    per_class: int = 20,
    seed: int = 0,
    classes: Sequence[str] = LESSON_CLASSES,
    include_rejects: bool = False,
    split: str | None = None,
    rejects_per_reason: int = 1,
) -> list[dict]:
    """Rows of ``sample_images/labels.csv`` chosen for a workspace: ``per_class`` of each class.

    Photos that are meant to be rejected (``expected_reason`` set) are left out unless
    ``include_rejects`` is set; then ``rejects_per_reason`` of each reason (mask, sunglasses,
    close-up, …) are added on top of the per-class count. ``split`` ("train"/"test") keeps
    only the accepted faces of that part of the sample set.
    """
    csv_path = Path(sample_dir) / "labels.csv"
    if not csv_path.is_file():
        raise StoreError("samples_missing", str(csv_path))
    with open(csv_path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if split is not None:
        rows = [
            r
            for r in rows
            if (r.get("split") or "").strip() == split or (r.get("expected_reason") or "").strip()
        ]
    good = [
        Item(i, label, r.get("identity") or None, r.get("age_group") or None)
        for i, r in enumerate(rows)
        if not (r.get("expected_reason") or "").strip() and (label := _sample_label(r)) in classes
    ]
    chosen = {it.id for it in sample_per_class(good, {c: per_class for c in classes}, seed)}
    if include_rejects:
        by_reason: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            reason = (r.get("expected_reason") or "").strip()
            if reason:
                by_reason[reason].append(i)
        rng = random.Random(seed)
        for reason in sorted(by_reason):
            picks = list(by_reason[reason])
            rng.shuffle(picks)
            chosen.update(picks[:rejects_per_reason])
    return [rows[i] for i in sorted(chosen)]


def _sample_path(sample_dir: Path, row: Mapping[str, str]) -> Path:
    path = Path(sample_dir) / row["file"]
    if path.is_file() or (label := _sample_label(row)) is None:
        return path
    return Path(sample_dir) / label / Path(row["file"]).name  # "file" may omit the class folder


def load_samples(
    store: Store,
    student_id: int,
    per_class: int = 20,
    *,
    seed: int = 0,
    sample_dir: Path = SAMPLE_DIR,
    include_rejects: bool = False,
    split: str | None = None,
    rejects_per_reason: int = 1,
    extractor: Extractor | None = None,
    progress: Callable[[int, int], None] | None = None,
    face_version: str | None = None,
) -> ImportReport:
    """Put ``per_class`` committed sample faces of each class into a student's workspace, labelled.

    ``counts`` in the report covers the faces meant to be accepted; with ``include_rejects``
    the photos meant to be refused (mask, sunglasses, close-up…) are added on top.

    Face extraction results are cached in the store by file checksum, so the second
    student (or class) loading the same samples skips MediaPipe entirely. The cache is
    tagged with ``face_version`` (default: :func:`face_version` of ``extractor``); a custom
    extractor that runs the standard rules (e.g. with a shared landmarker pool) should pass
    ``face_version=face_version()`` to share the cache with everyone else.
    ``extractor(blobs)`` may also take a ``progress=`` keyword.
    """
    classes = store.class_labels(student_id)
    rows = sample_rows(
        sample_dir,
        per_class=per_class,
        seed=seed,
        classes=classes,
        include_rejects=include_rejects,
        split=split,
        rejects_per_reason=rejects_per_reason,
    )
    entries = []
    for r in rows:
        path = _sample_path(sample_dir, r)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StoreError("samples_missing", str(path)) from exc
        label = _sample_label(r)
        entries.append(
            {
                "data": data,
                "filename": Path(r["file"]).name,
                "label": label if label in classes else None,
                "person": r.get("identity") or None,
                "group": r.get("age_group") or None,
            }
        )
    ids = _add_all(store, student_id, entries, "sample", extractor, progress, face_version)
    return ImportReport(
        image_ids=tuple(ids),
        counts=class_counts(
            [
                Item(i, e["label"])
                for i, (e, r) in enumerate(zip(entries, rows, strict=True))
                if e["label"] and not (r.get("expected_reason") or "").strip()
            ],
            classes,
        ),
    )


def korean_class_names(classes: Sequence[str]) -> dict[str, str]:
    """Default Korean display names for class ids."""
    return {c: korean_name(c) for c in classes}


# --------------------------------------------------------------------------- command line


def _items_from(path: Path) -> tuple[list[Item], dict[str, Any]]:
    """Records (file name, class, person) from a data-set zip or a folder of class subfolders."""
    if path.is_dir():
        entries, skipped = scan_folder(path)
        items = [Item(str(e["path"].relative_to(path)), e["label"]) for e in entries]
        return items, {"kind": "folder", "skipped": [list(s) for s in skipped]}
    manifest, rows = read_zip(path)
    items = [
        Item(r["file"], normalize_label(r["class"]), r.get("person") or None, r.get("group") or None)
        for r in rows
        if r.get("class")
    ]
    return items, {
        "kind": "zip",
        "checksums": "ok",
        "split": manifest.get("split"),
        "classes": manifest["classes"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edu_core.dataset``: inspect a data set (zip or folder) and try splits on it."""
    parser = argparse.ArgumentParser(prog="python -m edu_core.dataset", description=main.__doc__)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("inspect", help="verify a zip's checksums / scan a folder; count per class")
    p.add_argument("path", type=Path)
    p = sub.add_parser("split", help="show the train/test counts a split would give")
    p.add_argument("path", type=Path)
    p.add_argument("--test-ratio", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--by-person", action="store_true")
    args = parser.parse_args(argv)
    try:
        items, info = _items_from(args.path)
    except StoreError as exc:
        out: dict[str, Any] = {"error": exc.code, "detail": exc.detail}
        print(json.dumps(out, ensure_ascii=False) if args.json else f"error: {exc.code} {exc.detail}")
        return 2
    counts = class_counts(items)
    if args.cmd == "inspect":
        out = {**info, "count": len(items), "counts": counts, "warning": imbalance_warning(counts)}
    else:
        fn = split_by_person if args.by_person else split_stratified
        split = fn(items, test_ratio=args.test_ratio, seed=args.seed)
        out = {
            "train": class_counts(split.train),
            "test": class_counts(split.test),
            "n_train": len(split.train),
            "n_test": len(split.test),
            "by_person": split.by_person,
        }
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        for key, value in out.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
