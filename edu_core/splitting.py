"""Pure splitting and mislabelling of labelled records: stratified and by-person splits, counts.

They work on plain records, anything with ``id``, ``label`` and optionally ``person`` and
``student_id`` attributes (the store's ``ImageRecord``, or ``edu_core.dataset.Item``), and never
touch the database. The store's :meth:`~edu_core.store.Store.make_split` and
:meth:`~edu_core.store.Store.inject_mislabels` use them, and so do the data-set tools, so both
sides of the store stand on this module instead of on each other.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "Split",
    "class_counts",
    "inject_mislabels",
    "person_key",
    "split_by_person",
    "split_stratified",
    "split_test_counts",
]

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
    # In class-name order, not the input's: the cost is a float sum, and summing in another order
    # can break a tie the other way, so the same photos in another order gave another split.
    targets = {c: sizes[c] * test_ratio for c in sorted(sizes)}
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
