"""Per group the class chose ("안경" / "안경 없음", an age group, ...): how often the face gate
kept a photo, and how often the model was right on the test photos.

The bias lesson in numbers: a gate that rejects one group's photos more often, or a model that
is wrong more often for one group, shows up here side by side, each share with its count
("12/14") and a 95 % Wilson interval so that a handful of photos is not read as a verdict.
Pure functions, no Streamlit: records are anything with ``id``, ``status``, ``group`` and
(optionally) ``kept``, like :class:`edu_core.store.ImageRecord`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edu_core.metrics import wilson_bounds

#: A photo without a group tag is counted under this key (shown as "(그룹 없음)" / "(no group)").
NO_GROUP: str | None = None


@dataclass(frozen=True)
class GroupRow:
    """One group's figures; a share is ``None`` when its count is zero (nothing to say)."""

    group: str | None
    photos: int
    passed: int
    tested: int = 0
    correct: int = 0

    @property
    def keep_rate(self) -> float | None:
        return self.passed / self.photos if self.photos else None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.tested if self.tested else None

    @property
    def keep_interval(self) -> tuple[float, float]:
        return _wilson(self.passed, self.photos)

    @property
    def accuracy_interval(self) -> tuple[float, float]:
        return _wilson(self.correct, self.tested)


def _wilson(k: int, n: int) -> tuple[float, float]:
    if n <= 0:
        return 0.0, 1.0
    low, high = wilson_bounds({"x": k / n}, {"x": n})
    return low["x"], high["x"]


def passed_gate(record: Any) -> bool:
    """Whether the face gate itself accepted the photo (a photo kept by its student after a
    rejection was rejected by the gate)."""
    return record.status == "ok" and not getattr(record, "kept", False)


def gate_counts(records: Iterable[Any]) -> dict[str | None, tuple[int, int]]:
    """Per group: ``(photos, passed by the gate)``."""
    out: dict[str | None, list[int]] = {}
    for r in records:
        n = out.setdefault(r.group or NO_GROUP, [0, 0])
        n[0] += 1
        n[1] += passed_gate(r)
    return {g: (n, k) for g, (n, k) in out.items()}


def run_hits(metrics: Mapping[str, Any]) -> dict[int, bool]:
    """Photo id → answered right, from a training run's stored ``confusion_ids`` (row: true class,
    column: the model's answer)."""
    cells = metrics.get("confusion_ids") or []
    return {int(pid): i == j for i, row in enumerate(cells) for j, ids in enumerate(row) for pid in ids}


def tested_counts(records: Iterable[Any], hits: Mapping[int, bool]) -> dict[str | None, tuple[int, int]]:
    """Per group: ``(test photos, answered right)`` for the records the model was tested on.

    Test photos whose record is not given (deleted since, or a photo the viewer may not see)
    are left out rather than guessed into a group.
    """
    out: dict[str | None, list[int]] = {}
    for r in records:
        if r.id in hits:
            n = out.setdefault(r.group or NO_GROUP, [0, 0])
            n[0] += 1
            n[1] += bool(hits[r.id])
    return {g: (n, k) for g, (n, k) in out.items()}


def group_rows(
    gate: Mapping[str | None, tuple[int, int]],
    tests: Mapping[str | None, tuple[int, int]] | None = None,
) -> list[GroupRow]:
    """One row per group seen in either count, tagged groups by name, the untagged ones last."""
    tests = tests or {}
    names = sorted({g for g in (*gate, *tests) if g is not NO_GROUP})
    if NO_GROUP in gate or NO_GROUP in tests:
        names.append(NO_GROUP)  # type: ignore[arg-type]
    return [GroupRow(g, *gate.get(g, (0, 0)), *tests.get(g, (0, 0))) for g in names]


def group_table(records: Sequence[Any], predictions: Mapping[int, bool] | None = None) -> list[GroupRow]:
    """Per group of ``records``: photos, kept by the gate and, with ``predictions`` (photo id →
    right), test photos and correct answers."""
    return group_rows(gate_counts(records), tested_counts(records, predictions or {}))


def has_groups(rows: Sequence[GroupRow]) -> bool:
    """Whether any photo carries a group tag (else there is nothing to compare)."""
    return any(r.group is not NO_GROUP for r in rows)
