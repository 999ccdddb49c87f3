"""The zips a teacher downloads and brings back: the data set and a trained model.

The data-set zip holds ``images/<class>/…``, ``labels.csv`` and a ``manifest.json`` of
checksums. :func:`write_zip` and :func:`read_zip` turn photos into that file and back, checking
every checksum and guarding against zip bombs; they know nothing of the store (the import and
the export in :mod:`edu_core.photosets` bring the photos in and out of it). :func:`model_zip`
packs a checkpoint with its card.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edu_core.errors import FolderError, StoreError
from edu_core.folders import LabelRow, format_labels, parse_labels
from edu_core.fsutil import atomic_write

MANIFEST_FORMAT = "expression-lab-dataset"
MANIFEST_VERSION = 1
#: The columns of the zip's labels.csv, in order.
ZIP_COLUMNS = ("file", "class", "split", "person", "group", "source", "sha256")


@dataclass(frozen=True)
class ImportLimits:
    """Guards against zip bombs and runaway uploads."""

    max_files: int = 5000
    max_file_bytes: int = 25 * 1024 * 1024
    max_total_bytes: int = 2 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class ZipPhoto:
    """One photo going into a data-set zip."""

    data: bytes
    filename: str  # the name it was uploaded with
    ext: str  # "jpg", "png", ...
    label: str | None
    split: str = ""  # "train", "test" or ""
    person: str | None = None
    group: str | None = None
    source: str = ""


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as hex: the checksum of every file in the zip (and the face cache key)."""
    return hashlib.sha256(data).hexdigest()


def _safe_name(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(name).name)
    return keep.strip("._") or "image"


def _counts(labels: Iterable[str], classes: Sequence[str]) -> dict[str, int]:
    # per class in ``classes`` order (zeros included), then any other class found, sorted
    found = Counter(labels)
    out = {c: found.get(c, 0) for c in classes}
    for c in sorted(found):
        out.setdefault(c, found[c])
    return out


def write_zip(
    photos: Iterable[ZipPhoto],
    *,
    classes: Sequence[str],
    class_names: Mapping[str, str],
    split: Mapping[str, Any] | None = None,
    dest: Path | None = None,
) -> bytes:
    """The data-set zip of ``photos`` (read one at a time, so pass a generator for big sets).

    ``classes`` and ``class_names`` (id -> display name) describe the class list; ``split``
    (seed, test_ratio, by_person) says how the rows' train/test column was drawn. A photo whose
    file would repeat an earlier one (same class, content and name) is left out. Returns the
    bytes and, when ``dest`` is given, also writes them there atomically.
    """
    buf = io.BytesIO()
    files: dict[str, str] = {}
    rows = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # photos are already compressed
        for p in photos:
            sha = sha256_hex(p.data)
            folder = p.label or "unlabelled"
            stem = Path(_safe_name(p.filename)).stem
            path = f"images/{folder}/{sha[:12]}_{stem}.{p.ext}"
            if path in files:
                continue
            zf.writestr(path, p.data)
            files[path] = sha
            rows.append(
                LabelRow(
                    file=path,
                    label=p.label,
                    split=p.split or None,
                    person=p.person,
                    group=p.group,
                    source=p.source or None,
                    sha256=sha,
                )
            )
        # the zip keeps its own published layout (no expected_reason column, CRLF rows)
        csv_bytes = format_labels(rows, columns=ZIP_COLUMNS, lineterminator="\r\n").encode("utf-8")
        zf.writestr("labels.csv", csv_bytes)
        manifest = {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "classes": list(classes),
            "class_names": {c: class_names[c] for c in classes},
            "count": len(rows),
            "counts": _counts((r.label for r in rows if r.label), classes),
            "split": dict(split) if split is not None else None,
            "labels_csv_sha256": sha256_hex(csv_bytes),
            "files": files,
        }
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    data = buf.getvalue()
    if dest is not None:
        atomic_write(Path(dest), data)
    return data


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
    if manifest.get("labels_csv_sha256") not in (None, sha256_hex(csv_bytes)):
        raise StoreError("bad_checksum", "labels.csv")
    try:
        labelled = parse_labels(csv_bytes.decode("utf-8-sig"), exact_files=True)
    except FolderError as exc:
        raise StoreError("bad_archive", exc.detail) from exc
    files: dict[str, str] = manifest["files"]
    rows = []
    for label_row in labelled:
        row: dict[str, Any] = label_row.as_dict()
        name = row["file"]
        info = infos.get(name)
        if info is None or name not in files:
            raise StoreError("bad_archive", f"{name!r} listed but not in the archive")
        if info.file_size > limits.max_file_bytes:
            raise StoreError("too_large", name)
        data = zf.read(info)
        if sha256_hex(data) != files[name] or (row.get("sha256") and row["sha256"] != files[name]):
            raise StoreError("bad_checksum", name)
        row["data"] = data
        rows.append(row)
    return manifest, rows


#: Stored run figures left out of a model's card: per-photo ids and the epoch-by-epoch curve.
_CARD_SKIPS = ("confusion_ids", "history")


def model_zip(db: Any, viewer: Any, model_id: int, *, metrics: Mapping[str, Any]) -> bytes:
    """A model as a zip: the checkpoint plus a small JSON card (name, classes, test figures).

    ``metrics`` are the figures stored when the model was tested (``jobs.run_metrics``).
    """
    record = db.model(viewer, model_id)
    card = {
        "name": record.name,
        "kind": record.kind,
        "classes": list(record.labels),
        "metrics": {k: v for k, v in metrics.items() if k not in _CARD_SKIPS},
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.pt", db.model_bytes(viewer, model_id))
        zf.writestr("model.json", json.dumps(card, ensure_ascii=False, indent=1))
    return buf.getvalue()
