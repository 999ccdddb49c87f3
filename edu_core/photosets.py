"""Labelled photo sets in and out of the store: sample faces, class folders and data-set zips.

Every import finds the faces (reusing results the store already has for the same bytes, tagged
with :func:`face_version`), stores the photos in batches and returns an :class:`ImportReport`.
"""

from __future__ import annotations

import hashlib
import inspect
import random
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edu_core import faces
from edu_core.archive import ZipPhoto, read_zip, sha256_hex, write_zip
from edu_core.classfolders import scan_folder
from edu_core.dataset import SAMPLE_DIR, Item, class_counts, sample_per_class
from edu_core.errors import StoreError
from edu_core.faces import CropConfig, FaceResult
from edu_core.folders import LABELS_CSV, read_labels
from edu_core.labels import LESSON_CLASSES, normalize_label
from edu_core.store import NewImage, Store

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ImportReport:
    """What an import did: ids of the stored images, counts, and files skipped with why."""

    image_ids: tuple[int, ...]
    counts: dict[str, int]
    skipped: tuple[tuple[str, str], ...] = ()  # (file name, reason code)
    split_id: int | None = None


# Called as ``extractor(list_of_bytes, progress=callback)``; the default runs MediaPipe.
Extractor = Callable[..., "list[FaceResult]"]


def face_version(extractor: Extractor | None = None) -> str:
    """A tag for the extraction settings, so cached results are redone when the rules change."""
    if extractor is not None:
        return f"custom:{getattr(extractor, '__qualname__', type(extractor).__name__)}"
    return "mp:" + hashlib.sha1(repr(CropConfig()).encode()).hexdigest()[:12]


def _default_extractor(blobs: Sequence[bytes], progress: Progress | None = None) -> list[FaceResult]:
    return faces.extract_many(list(blobs), progress=progress)


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

    def photos() -> Iterator[ZipPhoto]:
        for r in records:  # one photo in memory at a time
            yield ZipPhoto(
                data=store.original_bytes(viewer, r.id),
                filename=r.filename,
                ext=r.ext,
                label=r.label,
                split=parts.get(r.id, ""),
                person=r.person,
                group=r.group,
                source=r.source,
            )

    return write_zip(
        photos(),
        classes=labels,
        class_names={c: store.display_name(viewer, c) for c in labels},
        split=split_meta,
        dest=dest,
    )


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
    results: list[FaceResult | None] = [store.cached_face(sha256_hex(b), version) for b in blobs]
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


def _sample_label(written: str | None) -> str | None:
    """The class id of a sample row's ``class`` cell, or ``None`` when it has no (known) class."""
    try:
        return normalize_label(written or "")
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
    only the accepted faces of that part of the sample set. Each row is a dict in
    :data:`edu_core.folders.COLUMNS` (``LabelRow.as_dict``).
    """
    csv_path = Path(sample_dir) / LABELS_CSV
    if not csv_path.is_file():
        raise StoreError("samples_missing", str(csv_path))
    rows = read_labels(csv_path)
    if split is not None:
        rows = [r for r in rows if r.split == split or r.expected_reason]
    good = [
        Item(i, label, r.person, r.group)
        for i, r in enumerate(rows)
        if not r.expected_reason and (label := _sample_label(r.label)) in classes
    ]
    chosen = {it.id for it in sample_per_class(good, {c: per_class for c in classes}, seed)}
    if include_rejects:
        by_reason: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            if r.expected_reason:
                by_reason[r.expected_reason].append(i)
        rng = random.Random(seed)
        for reason in sorted(by_reason):
            picks = list(by_reason[reason])
            rng.shuffle(picks)
            chosen.update(picks[:rejects_per_reason])
    return [rows[i].as_dict() for i in sorted(chosen)]


def _sample_path(sample_dir: Path, row: Mapping[str, str]) -> Path:
    path = Path(sample_dir) / row["file"]
    if path.is_file() or (label := _sample_label(row["class"])) is None:
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
        label = _sample_label(r["class"])
        entries.append(
            {
                "data": data,
                "filename": Path(r["file"]).name,
                "label": label if label in classes else None,
                "person": r["person"] or None,
                "group": r["group"] or None,
            }
        )
    ids = _add_all(store, student_id, entries, "sample", extractor, progress, face_version)
    return ImportReport(
        image_ids=tuple(ids),
        counts=class_counts(
            [
                Item(i, e["label"])
                for i, (e, r) in enumerate(zip(entries, rows, strict=True))
                if e["label"] and not r["expected_reason"]
            ],
            classes,
        ),
    )
