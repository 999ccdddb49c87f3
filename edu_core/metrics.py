"""Honest numbers about predictions, in scikit-learn's calling style.

Every function takes ``(y_true, y_pred, *, labels=...)`` (class ids), returns numpy arrays or
floats, and raises ``ValueError`` naming the allowed values. ``y_pred`` may hold
:data:`CANNOT_TELL` where a function says so. Only numpy: the Korean pipeline and the
experiments use these without loading torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: The decision shown when no class is probable enough.
CANNOT_TELL = "cannot_tell"


def _check(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], allow_cannot_tell: bool
) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items but y_pred has {len(y_pred)}")
    allowed = set(labels)
    bad_true = sorted({str(y) for y in y_true} - allowed)
    if bad_true:
        raise ValueError(f"unknown labels in y_true {bad_true}; allowed: {', '.join(labels)}")
    extra = {CANNOT_TELL} if allow_cannot_tell else set()
    bad_pred = sorted({str(y) for y in y_pred} - allowed - extra)
    if bad_pred:
        names = ", ".join([*labels, *sorted(extra)])
        raise ValueError(f"unknown labels in y_pred {bad_pred}; allowed: {names}")


def _columns(labels: Sequence[str], cannot_tell: bool) -> list[str]:
    return [*labels, CANNOT_TELL] if cannot_tell else list(labels)


def accuracy(y_true: Sequence[str], y_pred: Sequence[str], *, labels: Sequence[str]) -> float:
    """Share of predictions equal to the truth ("cannot tell" counts as wrong); nan if empty."""
    _check(y_true, y_pred, labels, True)
    if len(y_true) == 0:
        return float("nan")
    return float(np.mean([a == b for a, b in zip(y_true, y_pred, strict=True)]))


def confusion_matrix(
    y_true: Sequence[str], y_pred: Sequence[str], *, labels: Sequence[str], cannot_tell: bool = False
) -> np.ndarray:
    """Counts (len(labels), len(labels) [+1]): row = truth, column = prediction.

    With ``cannot_tell=True`` a last column counts the "cannot tell" answers.
    """
    cells = confusion_cells(y_true, y_pred, range(len(y_true)), labels=labels, cannot_tell=cannot_tell)
    return np.array([[len(c) for c in row] for row in cells], dtype=np.int64).reshape(
        len(labels), len(_columns(labels, cannot_tell))
    )


def confusion_cells(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    ids: Sequence[Any],
    *,
    labels: Sequence[str],
    cannot_tell: bool = False,
) -> list[list[list[Any]]]:
    """The image ids in every confusion-matrix cell: ``cells[true][pred]`` is a list."""
    _check(y_true, y_pred, labels, cannot_tell)
    if len(ids) != len(y_true):
        raise ValueError(f"{len(ids)} ids for {len(y_true)} items")
    cols = _columns(labels, cannot_tell)
    pos_r = {c: i for i, c in enumerate(labels)}
    pos_c = {c: i for i, c in enumerate(cols)}
    cells: list[list[list[Any]]] = [[[] for _ in cols] for _ in labels]
    for t, p, i in zip(y_true, y_pred, ids, strict=True):
        cells[pos_r[t]][pos_c[p]].append(i)
    return cells


def precision_recall(
    y_true: Sequence[str], y_pred: Sequence[str], *, labels: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support; 0 where undefined (no predictions)."""
    m = confusion_matrix(y_true, y_pred, labels=labels, cannot_tell=True)
    tp = np.diag(m[:, : len(labels)]).astype(np.float64)
    predicted = m[:, : len(labels)].sum(axis=0).astype(np.float64)
    support = m.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1, support


def recall_per_class(y_true: Sequence[str], y_pred: Sequence[str], *, labels: Sequence[str]) -> np.ndarray:
    """Per-class recall (share of each class's photos predicted right); nan for a class with none.

    Unlike :func:`precision_recall` an absent class is nan, not 0: averaged over seeds it must
    not pull the mean down as if the model had missed every photo of it.
    """
    m = confusion_matrix(y_true, y_pred, labels=labels, cannot_tell=True)
    support = m.sum(axis=1).astype(np.float64)
    hits = np.diag(m[:, : len(labels)]).astype(np.float64)
    return np.divide(hits, support, out=np.full(len(labels), np.nan), where=support > 0)


def cross_entropy_per_item(probs: np.ndarray, y_true: Sequence[str], *, labels: Sequence[str]) -> np.ndarray:
    """−log p(true class) for every row of ``probs`` (columns in ``labels`` order)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape != (len(y_true), len(labels)):
        raise ValueError(f"probs must have shape ({len(y_true)}, {len(labels)}), got {p.shape}")
    _check(y_true, [labels[0]] * len(y_true), labels, False)
    pos = {c: i for i, c in enumerate(labels)}
    idx = np.array([pos[y] for y in y_true], dtype=np.int64)
    return -np.log(np.clip(p[np.arange(len(idx)), idx], 1e-12, 1.0))


def rank_by_loss(
    probs: np.ndarray,
    y_true: Sequence[str],
    ids: Sequence[Any],
    *,
    labels: Sequence[str],
    top: int | None = None,
) -> list[dict[str, Any]]:
    """Items sorted from the most to the least surprising label (the mislabel detective).

    Each entry: id, label, loss, the model's guess and its probability.
    """
    loss = cross_entropy_per_item(probs, y_true, labels=labels)
    p = np.asarray(probs, dtype=np.float64)
    order = np.argsort(-loss, kind="stable")
    if top is not None:
        order = order[:top]
    return [
        {
            "id": ids[i],
            "label": y_true[i],
            "loss": float(loss[i]),
            "guess": labels[int(p[i].argmax())],
            "guess_probability": float(p[i].max()),
        }
        for i in order
    ]


def wilson_bounds(
    share: Mapping[str, float], n: Mapping[str, int], *, z: float = 1.96
) -> tuple[dict[str, float], dict[str, float]]:
    """Lower and upper ends of a 95 % Wilson interval for each class's share (for error bars).

    With 8 test photos a class's 75 % could honestly be anywhere from 41 % to 93 %;
    the bars make that visible instead of pretending to precision.
    """
    low: dict[str, float] = {}
    high: dict[str, float] = {}
    for c, p in share.items():
        k = int(n.get(c, 0))
        if k <= 0:
            low[c], high[c] = 0.0, 1.0
            continue
        denom = 1 + z * z / k
        centre = (p + z * z / (2 * k)) / denom
        half = z * math.sqrt(p * (1 - p) / k + z * z / (4 * k * k)) / denom
        low[c], high[c] = max(0.0, centre - half), min(1.0, centre + half)
    return low, high
