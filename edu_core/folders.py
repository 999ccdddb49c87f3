"""Class folders and ``labels.csv``: one reader, one schema.

A photo set on disk is a folder with one subfolder per class, named in Korean or English
(``기쁨/`` or ``joy/``), and optionally a ``labels.csv`` with one row per photo. Its columns:

==================  ==========================================================================
``file``            the photo's path inside the folder, with ``/`` (``joy/kim_01.jpg``)
``class``           the class as written (a lesson id, a Korean name, or a data set's own label)
``split``           ``train`` or ``test``, empty when not decided
``person``          who is in the photo (splits keep one person on one side)
``group``           a group for the fairness lesson (an age group, a class of the school, ...)
``expected_reason`` for sample photos that are meant to be rejected: the reason code
``source``          where the photo came from (a data set's name, ``upload``, ...)
``sha256``          the photo's content hash, to check a copy
==================  ==========================================================================

Only ``file`` is required. Older files used other spellings, which are still read: ``identity``
and ``person_id_if_known`` (the dev set) for ``person``, ``age_group`` for ``group``. Any other
column is kept in :attr:`LabelRow.extra`. :func:`write_labels` always writes the names above.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from edu_core.errors import FolderError
from edu_core.fsutil import atomic_write
from edu_core.labels import normalize_label

LABELS_CSV = "labels.csv"
#: The schema, in the order :func:`write_labels` writes it.
COLUMNS: tuple[str, ...] = (
    "file",
    "class",
    "split",
    "person",
    "group",
    "expected_reason",
    "source",
    "sha256",
)
#: Column names read as another column (older files); the first present, non-empty one wins.
ALIASES: Mapping[str, tuple[str, ...]] = {
    "person": ("person", "identity", "person_id_if_known"),
    "group": ("group", "age_group"),
}
#: Files a class folder may hold that the photo decoder reads (edu_core.images).
IMAGE_SUFFIXES: tuple[str, ...] = (
    ".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".bmp", ".gif", ".tif", ".tiff",
)  # fmt: skip


@dataclass(frozen=True)
class LabelRow:
    """One row of ``labels.csv``; empty cells are ``None``."""

    file: str  # posix path relative to the folder
    label: str | None = None  # the ``class`` column as written
    split: str | None = None  # "train" / "test", lower case
    person: str | None = None
    group: str | None = None
    expected_reason: str | None = None
    source: str | None = None
    sha256: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)  # every other column

    def as_dict(self) -> dict[str, str]:
        """The row in :data:`COLUMNS` (then its extra columns), empty strings for ``None``."""
        known = {c: getattr(self, _FIELD.get(c, c)) or "" for c in COLUMNS}
        return {**known, **self.extra}


_FIELD = {"class": "label"}
_READ_AS = {alias for names in ALIASES.values() for alias in names}


def _cell(row: Mapping[str, str | None], name: str) -> str | None:
    for col in ALIASES.get(name, (name,)):
        value = (row.get(col) or "").strip()
        if value:
            return value
    return None


def parse_labels(text: str, *, exact_files: bool = False) -> list[LabelRow]:
    """The rows of a ``labels.csv`` text. Raises :class:`FolderError` without a ``file`` column.

    ``file`` is normalised to a posix path (``\\`` to ``/``) unless ``exact_files`` is set: a zip
    member is found by its name as written, so the data-set zip reads its rows unchanged.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    if reader.fieldnames is None or "file" not in reader.fieldnames:
        raise FolderError("bad_labels", f"labels.csv has no 'file' column: {reader.fieldnames}")
    rows = []
    for raw in reader:
        file = raw.get("file") or ""
        if not exact_files:  # (an exact empty name stays, so the zip can refuse it)
            if not file.strip():
                continue
            file = PurePosixPath(file.strip().replace("\\", "/")).as_posix()
        split = _cell(raw, "split")
        extra = {k: v or "" for k, v in raw.items() if k and k not in COLUMNS and k not in _READ_AS}
        rows.append(
            LabelRow(
                file=file,
                label=_cell(raw, "class"),
                split=split.lower() if split else None,
                person=_cell(raw, "person"),
                group=_cell(raw, "group"),
                expected_reason=_cell(raw, "expected_reason"),
                source=_cell(raw, "source"),
                sha256=_cell(raw, "sha256"),
                extra=extra,
            )
        )
    return rows


def read_labels(path: str | Path) -> list[LabelRow]:
    """The rows of ``labels.csv`` at ``path`` (or inside the folder ``path``); ``[]`` when it is absent."""
    path = Path(path)
    if path.is_dir():
        path = path / LABELS_CSV
    try:
        return parse_labels(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise FolderError("bad_labels", f"{path}: {exc}") from exc


def format_labels(
    rows: Iterable[LabelRow], *, columns: Sequence[str] = COLUMNS, lineterminator: str = "\n"
) -> str:
    """``rows`` as ``labels.csv`` text: ``columns`` (a subset of :data:`COLUMNS`), then extra columns.

    ``columns`` and ``lineterminator`` let a file with a published layout of its own (the data-set
    zip's, :data:`edu_core.archive.ZIP_COLUMNS` with CRLF) keep it while sharing the row type.
    """
    dicts = [r.as_dict() for r in rows]
    extras = sorted({k for d in dicts for k in d} - set(COLUMNS))
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=[*columns, *extras], restval="", extrasaction="ignore", lineterminator=lineterminator
    )
    writer.writeheader()
    writer.writerows(dicts)
    return out.getvalue()


def write_labels(path: str | Path, rows: Iterable[LabelRow]) -> None:
    """Write ``rows`` as ``labels.csv`` (at ``path``, or inside the folder ``path``) atomically."""
    path = Path(path)
    if path.is_dir():
        path = path / LABELS_CSV
    atomic_write(path, format_labels(rows))


@dataclass(frozen=True)
class ClassPhoto:
    """A photo found in a class folder, with its ``labels.csv`` row when it has one."""

    path: Path
    file: str  # posix path relative to the folder
    label: str  # the lesson class id of its folder (edu_core.labels.normalize_label)
    row: LabelRow | None = None

    @property
    def split(self) -> str | None:
        return self.row.split if self.row else None

    @property
    def person(self) -> str | None:
        return self.row.person if self.row else None

    @property
    def group(self) -> str | None:
        return self.row.group if self.row else None


@dataclass(frozen=True)
class FolderScan:
    """What :func:`scan_class_folders` found, and what it left out with a reason code."""

    photos: list[ClassPhoto]
    skipped: list[tuple[str, str]]  # (name, "unknown_class" | "unsupported_format")


def scan_class_folders(
    root: str | Path,
    *,
    recursive: bool = False,
    suffixes: tuple[str, ...] = IMAGE_SUFFIXES,
    labels: bool = True,
) -> FolderScan:
    """The photos in ``root``'s class subfolders, sorted, each joined to its ``labels.csv`` row.

    A subfolder whose name is not a class (``normalize_label`` refuses it) is skipped as
    ``unknown_class``; a file that is not a picture as ``unsupported_format``; hidden files
    silently. ``recursive`` also looks into folders inside the class folders. A row is found by
    the photo's path in the folder, else by a row that names only its file (``kim_01.jpg``).
    ``labels=False`` leaves ``labels.csv`` unread (every ``row`` is ``None``), for callers that
    take the class from the folder name only.
    """
    root = Path(root)
    if not root.is_dir():
        raise FolderError("not_found", f"{root} is not a folder")
    by_file: dict[str, LabelRow] = {}
    for row in read_labels(root) if labels else ():
        by_file.setdefault(row.file, row)
    photos: list[ClassPhoto] = []
    skipped: list[tuple[str, str]] = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            label = normalize_label(sub.name)
        except ValueError:
            skipped.append((sub.name + "/", "unknown_class"))
            continue
        for f in sorted(sub.rglob("*") if recursive else sub.iterdir()):
            if not f.is_file() or f.name.startswith("."):
                continue
            rel = f.relative_to(root).as_posix()
            if f.suffix.lower() not in suffixes:
                skipped.append((rel, "unsupported_format"))
                continue
            photos.append(ClassPhoto(f, rel, label, by_file.get(rel) or by_file.get(f.name)))
    return FolderScan(photos, skipped)
