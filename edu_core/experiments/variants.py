"""Planning an experiment's variants and drawing each variant's training set."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from edu_core import dataset
from edu_core.experiments.config import ExperimentConfig, ExperimentError, Variant
from edu_core.experiments.data import Example, LabData
from edu_core.labels import normalize_label


def _check_classes(classes: Sequence[str], data: LabData) -> tuple[str, ...]:
    present = data.classes()
    out = tuple(normalize_label(c) for c in classes)
    missing = [c for c in out if c not in present]
    if missing:
        raise ExperimentError("unknown_class", f"no photos of {missing}; present: {present}")
    if len(set(out)) < 2:
        raise ExperimentError("too_few_classes", "an experiment needs at least two classes")
    return out


def plan_variants(cfg: ExperimentConfig, data: LabData) -> list[Variant]:
    """The variants of ``cfg.experiment``, in the order they are shown side by side."""
    if cfg.experiment == "size":
        classes = _check_classes(cfg.classes or data.classes(), data)
        return [Variant(f"n{n}", classes, {"per_class": n}) for n in cfg.sizes]
    if cfg.experiment == "pairs":
        out = []
        for a, b in cfg.pairs:
            pair = _check_classes((a, b), data)
            out += [
                Variant(f"{pair[0]}-{pair[1]}@{n}", pair, {"per_class": n, "pair": True})
                for n in cfg.pair_sizes
            ]
        return out
    if cfg.experiment == "imbalance":
        counts = {normalize_label(c): int(n) for c, n in cfg.counts}
        classes = _check_classes(list(counts), data)
        return [Variant(r, classes, {"counts": counts, "remedy": r}) for r in cfg.remedies]
    if cfg.experiment == "mislabel":
        classes = _check_classes(cfg.classes or data.classes(), data)
        source = normalize_label(cfg.mislabel_class)
        if source not in classes:
            raise ExperimentError("unknown_class", f"{source} is not among {classes}")
        return [
            Variant(f"mislabel{round(f * 100)}", classes, {"source": source, "fraction": f})
            for f in cfg.fractions
        ]
    classes = _check_classes(cfg.classes or data.classes(), data)
    present = data.groups()
    missing = [g for g in (*cfg.train_groups, *cfg.add_groups) if g not in present]
    if missing:
        raise ExperimentError("unknown_group", f"no photos of groups {missing}; present: {present}")
    base, both = tuple(cfg.train_groups), tuple(cfg.train_groups) + tuple(cfg.add_groups)
    return [
        Variant("+".join(base), classes, {"groups": base}),
        Variant("+".join(both), classes, {"groups": both}),
        Variant("+".join(both) + "=", classes, {"groups": both, "same_size_as": base}),
    ]


def photos_needed(cfg: ExperimentConfig, data: LabData) -> dict[str, int]:
    """Training photos per class that the hungriest variant asks for.

    Only variants that name a number of photos count (size, pairs, imbalance); the others
    use whatever there is. A class with fewer photos would make two variants train on the
    same photos under different labels, so :func:`run_experiment` refuses that.
    """
    need: dict[str, int] = {}
    for v in plan_variants(cfg, data):
        p = v.params
        if "per_class" in p:
            asks = dict.fromkeys(v.classes, int(p["per_class"]))
        elif "remedy" in p:
            asks = dict(p["counts"])
            if p["remedy"] == "more_data":
                asks = dict.fromkeys(asks, max(asks.values()))
        else:
            continue
        for c, n in asks.items():
            need[c] = max(need.get(c, 0), int(n))
    return need


def shortfall(cfg: ExperimentConfig, data: LabData) -> dict[str, tuple[int, int]]:
    """``{class: (needed, available)}`` for the classes with too few training photos."""
    have = Counter(e.label for e in data.train)
    return {c: (n, have.get(c, 0)) for c, n in photos_needed(cfg, data).items() if have.get(c, 0) < n}


def most_per_class(cfg: ExperimentConfig, data: LabData) -> int:
    """The most training photos per class every class of the experiment can give."""
    have = Counter(e.label for e in data.train)
    classes = photos_needed(cfg, data) or dict.fromkeys(data.classes(), 0)
    return min((have.get(c, 0) for c in classes), default=0)


def training_set(
    variant: Variant, data: LabData, seed: int
) -> tuple[list[Example], dict[str, Any], list[str]]:
    """The training photos of one variant for one seed, its TrainConfig changes and any planted ids.

    Only ``data.train`` is ever drawn from, so no test photo can reach training.
    """
    pool = [e for e in data.train if e.label in variant.classes]
    p = variant.params
    overrides: dict[str, Any] = {}
    planted: list[str] = []
    if "per_class" in p:
        chosen = dataset.sample_per_class(pool, {c: int(p["per_class"]) for c in variant.classes}, seed)
    elif "remedy" in p:
        counts = dict(p["counts"])
        remedy = p["remedy"]
        if remedy == "more_data":  # collect real photos of the scarce class up to the biggest count
            counts = dict.fromkeys(counts, max(counts.values()))
        # same seed: the smaller draw of a class is a prefix of the bigger one, so "more data"
        # keeps every photo of the imbalanced set and only adds new ones
        chosen = dataset.sample_per_class(pool, counts, seed)
        overrides = {
            "oversample": {"sampling": "oversample"},
            "undersample": {"sampling": "undersample"},
            "class_weights": {"class_weighting": True},
        }.get(remedy, {})
    elif "fraction" in p:
        chosen, planted = dataset.inject_mislabels(pool, p["source"], float(p["fraction"]), seed)
    else:
        groups = set(p["groups"])
        chosen = [e for e in pool if e.group in groups]
        if "same_size_as" in p:  # as many photos as the smaller variant: the *kind* of data, not more
            small = dataset.class_counts([e for e in pool if e.group in set(p["same_size_as"])])
            chosen = dataset.sample_per_class(chosen, small, seed)
    return list(chosen), overrides, [str(i) for i in planted]
