"""Labelled data sets for the lesson: splits, sampling, imbalance and planted mistakes.

The functions here work on plain records: anything with ``id``, ``label`` and
optionally ``person`` and ``group`` attributes (an :class:`Item`, or the store's
``ImageRecord``), or on indices into a list of labels. They never touch the database,
so they are easy to test and to reuse in experiments; :mod:`edu_core.photosets` moves
whole data sets in and out of the store.

``python -m edu_core.dataset inspect|split PATH`` checks a data-set zip or a folder of
class subfolders and shows what a split would give.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edu_core.archive import read_zip
from edu_core.classfolders import scan_folder
from edu_core.cli import print_error, print_json
from edu_core.errors import StoreError
from edu_core.labels import korean_name, normalize_label
from edu_core.splitting import (
    R,
    Split,
    _by_class,
    _id_order,
    _label,
    class_counts,
    inject_mislabels,
    person_key,
    split_by_person,
    split_stratified,
    split_test_counts,
)

# The splits live in edu_core.splitting (the store uses them too, and must not import this
# module's folder and zip tools); they are part of this module's data-set API all the same.
__all__ = [
    "SAMPLE_DIR",
    "BalanceRule",
    "Item",
    "Record",
    "Split",
    "choose_per_class",
    "class_counts",
    "imbalance_warning",
    "inject_mislabels",
    "korean_class_names",
    "make_imbalanced",
    "person_key",
    "resample",
    "sample_per_class",
    "split_by_person",
    "split_stratified",
    "split_test_counts",
    "stratified_holdout",
]

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


@dataclass(frozen=True)
class BalanceRule:
    """When the lesson warns that a data set is lopsided (see :func:`imbalance_warning`)."""

    min_per_class: int = 5  # fewer than this in any class: too little to learn from
    max_ratio: float = 1.5  # biggest class / smallest class above this: imbalanced


# --------------------------------------------------------------------------- pure helpers


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


# --------------------------------------------------------------------------- indices of a label list


def stratified_holdout(labels: Sequence[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Split indices into (keep, holdout) with ``fraction`` of every class held out.

    A class with a single example is never held out, so every class is trained on.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    hold: list[int] = []
    for cls in sorted(set(labels)):
        idx = [i for i, y in enumerate(labels) if y == cls]
        rng.shuffle(idx)
        n_hold = int(round(len(idx) * fraction)) if len(idx) >= 2 else 0
        n_hold = min(n_hold, len(idx) - 1)
        hold += idx[:n_hold]
        keep += idx[n_hold:]
    return sorted(keep), sorted(hold)


def resample(indices: Sequence[int], y: Sequence[int], how: str, seed: int) -> list[int]:
    """Over-sample (duplicate scarce classes) or under-sample (drop from big ones) to balance."""
    if how == "none":
        return list(indices)
    rng = np.random.default_rng(seed + 7)
    by_cls: dict[int, list[int]] = {}
    for i in indices:
        by_cls.setdefault(int(y[i]), []).append(i)
    sizes = [len(v) for v in by_cls.values()]
    target = max(sizes) if how == "oversample" else min(sizes)
    out: list[int] = []
    for members in by_cls.values():
        if len(members) >= target:
            out += list(rng.choice(members, size=target, replace=False))
        else:
            out += members + list(rng.choice(members, size=target - len(members), replace=True))
    return sorted(int(i) for i in out)


def choose_per_class(items: Sequence[int], labels: Sequence[str], n: int | None, seed: int) -> list[int]:
    """Up to ``n`` random items of every class (all when ``n`` is None)."""
    if n is None:
        return list(items)
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for cls in sorted({labels[i] for i in items}):
        members = [i for i in items if labels[i] == cls]
        out += [members[j] for j in sorted(rng.permutation(len(members))[:n])]
    return sorted(out)


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
        return print_error(exc, as_json=args.json, file=sys.stdout)
    out: dict[str, Any]
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
        print_json(out, indent=2)
    else:
        for key, value in out.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
