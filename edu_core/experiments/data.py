"""The photos an experiment runs on: examples, the fixed train/test split, loaders."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edu_core import dataset
from edu_core.experiments.config import ExperimentError, Progress
from edu_core.folders import read_labels
from edu_core.labels import LESSON_CLASSES, normalize_label
from edu_core.train import extract_cached, scan_class_folders

if TYPE_CHECKING:  # heavy imports stay out of module import time (the page imports this early)
    from edu_core.store import Store, TeacherSession

# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Example:
    """One accepted face with its label and (when known) the person and age group it shows."""

    id: str
    label: str
    person: str | None = None
    group: str | None = None
    face: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class LabData:
    """The photos an experiment draws from: a training pool and the one fixed test set."""

    train: tuple[Example, ...]
    test: tuple[Example, ...]
    source: str = ""
    n_rejected: int = 0

    def __post_init__(self) -> None:
        overlap = {e.id for e in self.train} & {e.id for e in self.test}
        if overlap:
            raise ExperimentError("test_overlap", f"{len(overlap)} photos on both sides, e.g. {min(overlap)}")
        people = {e.person for e in self.train if e.person} & {e.person for e in self.test if e.person}
        if people:  # a face seen in training makes the test look easier than it is
            raise ExperimentError("person_overlap", f"{len(people)} people on both sides, e.g. {min(people)}")

    @property
    def fingerprint(self) -> str:
        """Hash of every id and label on both sides: stored results are re-run only on the same data."""
        h = hashlib.sha256()
        for side, items in (("train", self.train), ("test", self.test)):
            for e in sorted(items, key=lambda e: e.id):
                h.update(f"{side}\t{e.id}\t{e.label}\t{e.group or ''}\n".encode())
        return h.hexdigest()[:16]

    def classes(self) -> list[str]:
        present = {e.label for e in self.train} | {e.label for e in self.test}
        return [c for c in LESSON_CLASSES if c in present] + sorted(present - set(LESSON_CLASSES))

    def groups(self) -> list[str]:
        return sorted({e.group for e in (*self.train, *self.test) if e.group})


def make_data(
    examples: Sequence[Example],
    *,
    test_ids: Sequence[str] | None = None,
    test_ratio: float = 0.25,
    split_seed: int = 0,
    source: str = "",
    n_rejected: int = 0,
) -> LabData:
    """Split examples into the training pool and the fixed test set.

    With ``test_ids`` those photos are the test set; otherwise a person-wise split is
    drawn once with ``split_seed`` (a stratified one when no person is known).
    """
    ok = [e for e in examples if getattr(e.face, "ok", False)]
    if test_ids is not None:
        wanted = set(test_ids)
        test = [e for e in ok if e.id in wanted]
        train = [e for e in ok if e.id not in wanted]
    else:
        has_people = any(e.person for e in ok)
        split = (dataset.split_by_person if has_people else dataset.split_stratified)(
            ok, test_ratio, split_seed
        )
        train, test = list(split.train), list(split.test)
    return LabData(tuple(train), tuple(test), source, n_rejected + len(examples) - len(ok))


def load_folder(
    data_dir: str | Path,
    *,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    test_ratio: float = 0.25,
    split_seed: int = 0,
) -> LabData:
    """Faces of a folder with one subfolder per class (e.g. ``sample_images/``).

    ``labels.csv`` (when present) gives each photo's person (``identity``), age group
    and train/test split; photos with an ``expected_reason`` are meant to be rejected
    and are skipped. Face extraction results are cached on disk by file content.
    """

    root = Path(data_dir)
    if not root.is_dir():
        raise ExperimentError("no_data", f"{root} is not a folder")
    rows: list[dict[str, str]] = []
    for r in read_labels(root):
        path = root / r.file
        if r.expected_reason or not path.is_file():
            continue
        rows.append(
            {
                "id": r.file,
                "path": str(path),
                "label": normalize_label(r.label or ""),
                "person": r.person or "",
                "group": r.group or "",
                "split": r.split or "",
            }
        )
    if not rows:
        for f in scan_class_folders(root):
            rows.append(
                {
                    "id": f.path.relative_to(root).as_posix(),
                    "path": str(f.path),
                    "label": f.label,
                    "person": "",
                    "group": "",
                    "split": f.split or "",
                }
            )
    faces = extract_cached([Path(r["path"]) for r in rows], cache_dir, progress=progress)
    examples = [
        Example(r["id"], r["label"], r["person"] or None, r["group"] or None, face)
        for r, face in zip(rows, faces, strict=True)
    ]
    ok_rows = [r for r, face in zip(rows, faces, strict=True) if face.ok]
    fixed = ok_rows and all(r["split"] in ("train", "test") for r in ok_rows)
    test_ids = [r["id"] for r in ok_rows if r["split"] == "test"] if fixed else None
    return make_data(
        examples, test_ids=test_ids, test_ratio=test_ratio, split_seed=split_seed, source=str(root)
    )


def load_store(
    store: Store, viewer: int | TeacherSession, *, split_id: int | None = None, split_seed: int = 0
) -> LabData:
    """A student's (or the class pool's) labelled, accepted photos from the store.

    With ``split_id`` the saved split's test photos are the test set; otherwise a
    person-wise split is drawn once with ``split_seed``.
    """
    if isinstance(viewer, int):
        records = [r for r in store.list_images(viewer) if r.label and r.status == "ok"]
    else:
        records = store.pool(viewer)  # kept photos join the class's data only once accepted
    faces = store.faces(viewer, [r.id for r in records])
    examples = [
        Example(f"img:{r.id}", r.label, r.person or None, r.group or None, face)
        for r, face in zip(records, faces, strict=True)
    ]
    test_ids = None
    if split_id is not None:
        test_ids = [f"img:{i}" for i in store.get_split(viewer, split_id).test_ids]
    return make_data(examples, test_ids=test_ids, split_seed=split_seed, source="store")
