"""Reading a data set folder as it arrived: the AI Hub layout, or a plain folder of face crops.

Both go through :func:`import_dataset`. It walks the tree (folders and zips), reads every label
file and joins its records to photos by file name. When the walk finds no label file at all,
the folder is taken as one of already-cropped faces: each photo's class comes from its folder
name (``기쁨/``, ``happy/``) or from its file name (the AI Hub pattern
``<person>_<sex>_<age>_<emotion>_<place>_<time>`` or any ``_``-separated part naming a class),
and its person from the file name, so that the split can keep every person on one side.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from edu_core.korean7.base import PHOTO_SUFFIXES, Korean7Error
from edu_core.korean7.records import (
    ImageRef,
    Korean7Record,
    decode_label_bytes,
    nfc,
    records_from,
    split_hint,
    zip_member_name,
)
from edu_core.labels import KOREAN7_CLASSES, normalize_label

# A shorter hex head than the AI Hub's 64 characters still names one person (re-packaged copies
# cut it to 12 or 16); 8 is where chance collisions among a few thousand people stay negligible.
_HEX_PERSON_RE = re.compile(r"^[0-9a-fA-F]{8,}$")
_SEX_TOKENS = frozenset({"남", "여", "m", "f", "male", "female"})


@dataclass
class Korean7ImportReport:
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
    layout: str = "aihub"  # "aihub" (label files found) or "face_folder"
    label_sources: dict[str, int] = field(default_factory=dict)  # annotators / folder / filename
    unlabelled_images: list[str] = field(default_factory=list)  # face folder: no class in the name
    label_conflicts: int = 0  # face folder: folder and file name name different classes
    persons: int = 0  # distinct person ids among the records
    without_person: int = 0  # records whose name carries no person id
    absent_classes: list[str] = field(default_factory=list)  # of the seven, those with no record


@dataclass(frozen=True)
class ImportResult:
    """The records (photos joined) and the report of one import."""

    records: tuple[Korean7Record, ...]
    report: Korean7ImportReport


@dataclass
class _Walk:
    """Everything one pass over the tree collected."""

    report: Korean7ImportReport
    images: dict[str, ImageRef] = field(default_factory=dict)  # NFC base name -> first photo
    photos: list[tuple[str, ImageRef]] = field(default_factory=list)  # (NFC relative path, photo)
    records: dict[str, Korean7Record] = field(default_factory=dict)
    encodings: Counter[str] = field(default_factory=Counter)

    def add_image(self, rel: str, ref: ImageRef) -> None:
        key = nfc(PurePosixPath(rel).name)
        self.report.images += 1
        self.photos.append((nfc(rel), ref))
        if key in self.images:
            self.report.duplicate_images += 1
            return
        self.images[key] = ref

    def add_labels(self, data: bytes, where: str, hint: str) -> None:
        try:
            items, enc = decode_label_bytes(data)
        except Korean7Error as exc:
            self.report.unreadable_label_files.append(f"{where}: {exc.detail}")
            return
        found = 0
        for rec in records_from(items, where, hint):
            found += 1
            if rec.filename in self.records:
                self.report.duplicate_records += 1
                continue
            self.records[rec.filename] = rec
        if found:
            self.report.label_files += 1
            self.encodings[enc] += 1


def _walk_zip(walk: _Walk, path: Path, rel: str) -> None:
    walk.report.zips += 1
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                real = zip_member_name(info)
                suffix = PurePosixPath(real).suffix.lower()
                if suffix in PHOTO_SUFFIXES:
                    # the zip's own name stands for a folder level (기쁨.zip holds 기쁨 photos)
                    walk.add_image(f"{rel[: -len('.zip')]}/{real}", ImageRef(str(path), info.filename))
                elif suffix == ".json":
                    walk.add_labels(zf.read(info), f"{rel}!{real}", split_hint(rel, real))
    except (zipfile.BadZipFile, OSError) as exc:
        walk.report.unreadable_label_files.append(f"{rel}: broken zip ({exc})")


def _walk_tree(root: Path, progress: Callable[[int, str], None] | None) -> tuple[_Walk, int]:
    walk = _Walk(Korean7ImportReport(root=str(root)))
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for seen, path in enumerate(paths, 1):
        if progress is not None and seen % 200 == 0:
            progress(seen, str(path))
        suffix = path.suffix.lower()
        rel = path.relative_to(root).as_posix() if path != root else path.name
        if suffix in PHOTO_SUFFIXES:
            walk.add_image(rel, ImageRef(str(path)))
        elif suffix == ".json":
            walk.add_labels(path.read_bytes(), rel, split_hint(rel))
        elif suffix == ".zip":
            _walk_zip(walk, path, rel)
    return walk, len(paths)


def _join_label_files(walk: _Walk) -> list[Korean7Record]:
    report = walk.report
    joined = []
    # File systems and zip tools change the case of extensions (".JPG"); match on that too.
    folded = {name.casefold(): ref for name, ref in walk.images.items()}
    for name, rec in walk.records.items():
        ref = walk.images.get(name) or folded.get(name.casefold())
        if ref is None:
            report.missing_images.append(name)
        joined.append(replace(rec, image=ref))
    report.records = len(walk.records)
    report.matched = report.records - len(report.missing_images)
    report.orphan_images = len({n.casefold() for n in walk.images} - {n.casefold() for n in walk.records})
    return joined


def class_from_name(name: str) -> str | None:
    """The seven-class id a folder name or a file-name part names (기쁨, happy, Anger ...), if any."""
    try:
        cid = normalize_label(nfc(name))
    except ValueError:
        return None
    return cid if cid in KOREAN7_CLASSES else None


def parse_face_filename(name: str) -> tuple[str | None, str | None]:
    """(class id, person id) from a face crop's file name; either may be None.

    The AI Hub pattern ``<person>_<sex>_<age>_<emotion>_<place>_<time>`` gives both; otherwise
    the class is the first ``_``-part that names one, and the person a leading hex id.
    """
    parts = nfc(PurePosixPath(name).stem).split("_")
    if len(parts) >= 4 and parts[1].lower() in _SEX_TOKENS and class_from_name(parts[3]):
        return class_from_name(parts[3]), parts[0].lower()
    label = next((c for c in map(class_from_name, parts[1:] or parts) if c), None)
    person = parts[0].lower() if len(parts) > 1 and _HEX_PERSON_RE.match(parts[0]) else None
    return label, person


def _face_record(rel: str, ref: ImageRef, report: Korean7ImportReport) -> Korean7Record | None:
    folders = PurePosixPath(rel).parts[:-1]
    from_folder = next((c for c in map(class_from_name, reversed(folders)) if c), None)
    from_name, person = parse_face_filename(rel)
    label = from_folder or from_name
    if label is None:
        report.unlabelled_images.append(rel)
        return None
    if from_folder and from_name and from_folder != from_name:
        report.label_conflicts += 1  # the teacher's sorting into folders wins
    return Korean7Record(
        filename=rel,
        uploader=label,
        annotators=(),
        boxes=(),
        person=person,
        source_split=split_hint(*folders),
        label_file="",
        image=ref,
        label_source="folder" if from_folder else "filename",
        precropped=True,
    )


def _face_folder_records(walk: _Walk) -> list[Korean7Record]:
    walk.report.layout = "face_folder"
    records = [r for rel, ref in walk.photos if (r := _face_record(rel, ref, walk.report)) is not None]
    walk.report.records = walk.report.matched = len(records)
    return records


def _finish_report(report: Korean7ImportReport, records: Iterable[Korean7Record], encodings: Counter) -> None:
    records = list(records)
    report.encodings = dict(encodings)
    report.per_uploader = dict(Counter(r.uploader for r in records))
    report.label_sources = dict(Counter(r.label_source for r in records))
    report.persons = len({r.person for r in records if r.person})
    report.without_person = sum(1 for r in records if not r.person)
    report.absent_classes = [c for c in KOREAN7_CLASSES if c not in report.per_uploader]


def import_dataset(root: str | Path, progress: Callable[[int, str], None] | None = None) -> ImportResult:
    """Walk ``root`` (folders and zips, any layout), read every label file, join photos by name.

    Without any label file, ``root`` is read as a folder of face crops labelled by folder or
    file name. ``progress(n_files_seen, current_path)`` is called as the walk proceeds.
    """
    root = Path(root)
    if not root.exists():
        raise Korean7Error("not_found", f"{root} does not exist")
    walk, seen = _walk_tree(root, progress)
    records = _join_label_files(walk) if walk.records else _face_folder_records(walk)
    _finish_report(walk.report, records, walk.encodings)
    if progress is not None:
        progress(seen, "done")
    return ImportResult(records=tuple(records), report=walk.report)
