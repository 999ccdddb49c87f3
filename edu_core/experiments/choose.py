"""Choosing what an experiment compares from the data: the probe photo and the hard pair."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from edu_core import dataset
from edu_core.experiments.config import ExperimentConfig, ExperimentError, Variant
from edu_core.experiments.data import Example, LabData
from edu_core.experiments.results import VariantResult
from edu_core.experiments.variants import plan_variants
from edu_core.metrics import confusion_matrix
from edu_core.predict import predict_proba
from edu_core.train import TrainConfig, train


def compared(cfg: ExperimentConfig, variants: Sequence[Variant]) -> tuple[int, int]:
    """(better, worse): the indices of the two variants whose difference the lesson shows.

    More photos against fewer, clean labels against the most mislabelled, balanced (more
    data) against the imbalance, both groups against one, the easy pair against the hard pair
    (both at the smaller size).
    """
    keys = [v.variant.key if isinstance(v, VariantResult) else v.key for v in variants]
    last = len(keys) - 1
    if cfg.experiment == "size":
        return last, 0
    if cfg.experiment == "imbalance":
        return (keys.index("more_data") if "more_data" in keys else last), (
            keys.index("none") if "none" in keys else 0
        )
    if cfg.experiment == "groups":
        return min(1, last), 0
    if cfg.experiment == "pairs":  # the first (easy) pair against the second (hard) one, both small
        return 0, min(len(keys) // 2, last)
    return 0, last  # mislabel: 0 % against the largest share


def probe_compared(cfg: ExperimentConfig, variants: Sequence[Variant | VariantResult]) -> tuple[int, int]:
    """(better, worse) for the probe photo: as :func:`compared`, except that a pair experiment
    shows what more photos do for the hard pair (its bigger size against its smaller one)."""
    if cfg.experiment == "pairs" and len(variants) >= 2:
        return len(variants) - 1, len(variants) // 2
    return compared(cfg, variants)


def pick_probe(
    cfg: ExperimentConfig,
    data: LabData,
    variants: Sequence[Variant],
    probs: Sequence[Sequence[Mapping[str, np.ndarray]]],
) -> Example | None:
    """The test photo where the compared models differ most in the right answer's probability.

    A photo chosen at random often gets the same bars from both models and shows nothing;
    this one shows what the difference in data does to one answer. Photos of the focus class
    come first (the scarce class, the mislabelled class, the added group) when it has any.
    """
    good, bad = probe_compared(cfg, variants)
    both = set(variants[good].classes) & set(variants[bad].classes)
    pool = [e for e in data.test if e.label in both and e.id in probs[good][0] and e.id in probs[bad][0]]
    focus = focus_class(cfg, data)
    mine = [e for e in pool if e.label == focus]
    if cfg.experiment == "groups":
        mine = [e for e in mine if e.group in cfg.add_groups] or mine
    pool = mine or pool
    if not pool:
        return None

    def true_p(k: int, e: Example) -> float:
        col = variants[k].classes.index(e.label)
        return float(np.mean([p[e.id][col] for p in probs[k]]))

    return max(sorted(pool, key=lambda e: e.id), key=lambda e: true_p(good, e) - true_p(bad, e))


def focus_class(cfg: ExperimentConfig, data: LabData) -> str:
    """The class the lesson watches in this experiment (the one whose probe photo is shown)."""
    variants = plan_variants(cfg, data)
    classes = variants[0].classes
    if cfg.experiment == "imbalance":
        counts = dict(variants[0].params["counts"])
        return min(classes, key=lambda c: counts[c])
    if cfg.experiment == "mislabel":
        return str(variants[0].params["source"])
    return "anger" if "anger" in classes else classes[-1]


def default_probe(cfg: ExperimentConfig, data: LabData) -> Example:
    """A test photo of the focus class (of the added group in ``groups``), the same every time."""
    cls = focus_class(cfg, data)
    pool = [e for e in data.test if e.label == cls]
    if cfg.experiment == "groups":
        pool = [e for e in pool if e.group in cfg.add_groups] or pool
    if not pool:
        raise ExperimentError("no_test_photos", f"no test photo of {cls}")
    return min(pool, key=lambda e: e.id)


def rank_pairs(
    data: LabData, *, model: str = "pieces", per_class: int = 20, seeds: Sequence[int] = (0, 1, 2)
) -> list[tuple[tuple[str, str], float]]:
    """Every pair of classes with how often a model of all classes mixes them up, hardest first.

    The share is (a taken for b + b taken for a) / (test photos of a and b), averaged over
    ``seeds`` models trained on ``per_class`` photos per class: which pair is hard depends on
    whose faces these are, so the lab asks the data instead of assuming one.
    """

    classes = data.classes()
    if len(classes) < 2 or not data.test:
        raise ExperimentError("too_few_classes", "ranking pairs needs two classes and test photos")
    mixed = np.zeros((len(classes), len(classes)))
    test = [e for e in data.test if e.label in classes]
    truth = [e.label for e in test]
    for seed in seeds:
        chosen = dataset.sample_per_class([e for e in data.train if e.label in classes], per_class, seed)
        res = train(
            model,
            [e.face for e in chosen],
            [e.label for e in chosen],
            TrainConfig(seed=seed, mode="head"),
            class_names=classes,
            curve=False,
        )
        probs = predict_proba(res.bundle, [e.face for e in test])
        pred = [classes[int(i)] for i in probs.argmax(axis=1)]
        mixed += confusion_matrix(truth, pred, labels=classes)
    n = mixed.sum(axis=1)
    out = []
    for i, j in itertools.combinations(range(len(classes)), 2):
        total = n[i] + n[j]
        out.append(((classes[i], classes[j]), float((mixed[i, j] + mixed[j, i]) / total) if total else 0.0))
    return sorted(out, key=lambda kv: (-kv[1], kv[0]))
