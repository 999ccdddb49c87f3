"""What the store hands out: frozen records, each built from a row by column name.

The SELECTs name every column they read (with ``AS`` where a join or an expression makes it),
so reordering a query or a table can never shift a value into the wrong field.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeVar

from edu_core.faces import FaceResult

Source = Literal["upload", "camera", "sample"]
SOURCES = ("upload", "camera", "sample")


@dataclass(frozen=True)
class ClassRecord:
    id: int
    name: str
    join_code: str
    labels: tuple[str, ...]
    display_names: dict[str, str]
    retention_days: int | None
    created_at: float


@dataclass(frozen=True)
class StudentRecord:
    id: int
    class_id: int
    nickname: str
    resume_code: str
    pool_consent: bool
    created_at: float


@dataclass(frozen=True)
class TeacherSession:
    """Proof that the teacher typed the class PIN; pass it to teacher-only calls."""

    class_id: int
    token: str
    expires_at: float


@dataclass(frozen=True)
class NewImage:
    """A photo to store with :meth:`Store.add_images` (same fields as :meth:`Store.add_image`)."""

    data: bytes
    filename: str
    source: Source
    face: FaceResult
    person: str | None = None
    group: str | None = None
    label: str | None = None
    face_version: str = ""


@dataclass(frozen=True)
class ImageRecord:
    """One photo in a workspace (no pixels: ask the store for those)."""

    id: int
    student_id: int
    class_id: int
    sha: str
    ext: str
    filename: str
    source: str
    status: str
    reason: str | None
    label: str | None
    injected: bool
    person: str | None
    group: str | None
    crop_sha: str | None
    created_at: float
    kept: bool = False  # rejected by the face gate, kept by the student ("it isn't covered")
    kept_accepted: bool = False  # ... and accepted by the teacher for the class pool


@dataclass(frozen=True)
class LabelEvent:
    image_id: int
    old_label: str | None
    new_label: str | None
    actor: str
    injected: bool
    at: float


@dataclass(frozen=True)
class SavedSplit:
    id: int
    seed: int
    test_ratio: float
    by_person: bool
    train_ids: tuple[int, ...]
    test_ids: tuple[int, ...]
    created_at: float


@dataclass(frozen=True)
class ModelRecord:
    id: int
    class_id: int
    student_id: int | None
    name: str
    kind: str
    labels: tuple[str, ...]
    config: dict[str, Any]
    file_sha: str | None
    created_at: float


@dataclass(frozen=True)
class RunRecord:
    id: int
    class_id: int
    student_id: int | None
    model_id: int | None
    split_id: int | None
    status: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    started_at: float
    finished_at: float | None


@dataclass(frozen=True)
class CheckReport:
    """Result of :meth:`Store.check`: the database and the files agree when ``ok``."""

    integrity: str
    missing_files: tuple[str, ...] = ()
    orphan_files: tuple[str, ...] = ()
    removed_orphans: tuple[str, ...] = ()
    temp_files: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.integrity == "ok" and not self.missing_files and not self.orphan_files


@dataclass(frozen=True)
class RecoveryReport:
    """What :meth:`Store.recover` cleaned up after a crash."""

    interrupted_runs: tuple[int, ...] = ()
    removed_orphans: tuple[str, ...] = ()
    removed_temps: int = 0


# ---------------------------------------------------------------------- rows → records

CLASS_COLUMNS = "id, name, join_code, labels, display_names, retention_days, created_at"
STUDENT_COLUMNS = "id, class_id, nickname, resume_code, pool_consent, created_at"
LABEL_EVENT_COLUMNS = "image_id, old_label, new_label, actor, injected, at"
MODEL_COLUMNS = "id, class_id, student_id, name, kind, labels, config, file_sha, created_at"
RUN_COLUMNS = "id, class_id, student_id, model_id, split_id, status, config, metrics, started_at, finished_at"

# A kept photo counts as accepted for its student; its reason stays the gate's.
IMAGE_STATUS = "CASE WHEN k.image_id IS NOT NULL THEN 'ok' ELSE COALESCE(f.status, 'rejected') END"
IMAGE_COLUMNS = f"""
    i.id AS id, i.student_id AS student_id, i.class_id AS class_id, i.sha AS sha, b.ext AS ext,
    i.filename AS filename, i.source AS source, {IMAGE_STATUS} AS status, f.reason AS reason,
    i.label AS label, i.injected AS injected, i.person AS person, i.grp AS "group",
    COALESCE(k.crop_sha, f.crop_sha) AS crop_sha, i.created_at AS created_at,
    k.image_id IS NOT NULL AS kept, COALESCE(k.accepted, 0) AS kept_accepted
"""
IMAGE_FROM = (
    "images i JOIN blobs b ON b.sha = i.sha LEFT JOIN faces f ON f.sha = i.sha "
    "LEFT JOIN kept_faces k ON k.image_id = i.id"
)


T = TypeVar("T")


def _json_tuple(text: str) -> tuple:
    return tuple(json.loads(text))


def _from_row(cls: type[T], row: sqlite3.Row, **parse: Callable[[Any], Any]) -> T:
    """``cls`` with each field taken from the column of the same name; ``parse`` converts some.

    A field with a default may be missing from the row; a required one missing is a ``TypeError``.
    """
    columns = set(row.keys())
    values = {f.name: row[f.name] for f in fields(cls) if f.name in columns}
    for name, convert in parse.items():
        if name in values:
            values[name] = convert(values[name])
    return cls(**values)


def class_record(row: sqlite3.Row) -> ClassRecord:
    """A :class:`ClassRecord` from a row of :data:`CLASS_COLUMNS`."""
    return _from_row(ClassRecord, row, labels=_json_tuple, display_names=json.loads)


def student_record(row: sqlite3.Row) -> StudentRecord:
    """A :class:`StudentRecord` from a row of :data:`STUDENT_COLUMNS`."""
    return _from_row(StudentRecord, row, pool_consent=bool)


def image_record(row: sqlite3.Row) -> ImageRecord:
    """An :class:`ImageRecord` from a row of :data:`IMAGE_COLUMNS`."""
    return _from_row(ImageRecord, row, injected=bool, kept=bool, kept_accepted=bool)


def label_event(row: sqlite3.Row) -> LabelEvent:
    """A :class:`LabelEvent` from a row of :data:`LABEL_EVENT_COLUMNS`."""
    return _from_row(LabelEvent, row, injected=bool)


def model_record(row: sqlite3.Row) -> ModelRecord:
    """A :class:`ModelRecord` from a row of :data:`MODEL_COLUMNS`."""
    return _from_row(ModelRecord, row, labels=_json_tuple, config=json.loads)


def run_record(row: sqlite3.Row) -> RunRecord:
    """A :class:`RunRecord` from a row of :data:`RUN_COLUMNS`."""
    return _from_row(RunRecord, row, config=json.loads, metrics=json.loads)
