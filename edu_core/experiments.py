"""The lesson's comparisons, run fairly and repeated over seeds.

Five experiments show that *data* changes what a model believes:

* ``size``      — too little data: 20 vs 60 photos per class (all classes or a pair);
* ``pairs``     — easy vs hard pairs: joy/anger against surprise/anger at 20 and 35 per class;
* ``imbalance`` — e.g. joy 40 vs sadness 20, and the remedies (over-sampling, under-sampling,
  class weights, more real data) as variants of the same experiment;
* ``mislabel``  — k % of one class filed under other classes (0, 10, 30 %), and whether the
  mislabel detective finds the planted ones;
* ``groups``    — train on one age group only, test on every group, then add the missing group.

Fairness rules, enforced here rather than left to the page: every variant is tested on
the *same* fixed test set (the rows marked ``split == test``, or a person-wise split drawn
once), which never overlaps any training set; every variant uses the same model kind and
settings; each variant is trained once per seed and the seed decides both which photos
are drawn and how the model starts, so the spread over seeds shows what is luck.

A result holds its config, seeds and a fingerprint of the data, so it can be stored and
re-run to the same numbers (:func:`rerun`).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import io
import json
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edu_core import dataset
from edu_core.errors import EduError
from edu_core.labels import LESSON_CLASSES, normalize_label

if TYPE_CHECKING:  # heavy imports stay out of module import time (the page imports this early)
    import plotly.graph_objects as go

    from edu_core.store import Store, TeacherSession

EXPERIMENTS: tuple[str, ...] = ("size", "pairs", "imbalance", "mislabel", "groups")
REMEDIES: tuple[str, ...] = ("none", "oversample", "undersample", "class_weights", "more_data")
MODEL_CHOICES: tuple[str, ...] = ("pieces", "cnn")
RESULT_FORMAT = "expression-lab-experiment"
RESULT_VERSION = 1
Progress = Callable[[int, int], None]


class ExperimentError(EduError):
    """An experiment cannot run on this data (too few photos, unknown class or group, ...)."""

    code = "experiment_error"


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


def _read_labels_csv(root: Path) -> list[dict[str, str]]:
    with open(root / "labels.csv", encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


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
    from edu_core.train import extract_cached, scan_class_folders

    root = Path(data_dir)
    if not root.is_dir():
        raise ExperimentError("no_data", f"{root} is not a folder")
    rows: list[dict[str, str]] = []
    if (root / "labels.csv").is_file():
        for r in _read_labels_csv(root):
            if (r.get("expected_reason") or "").strip() or not r.get("file"):
                continue
            path = root / r["file"]
            if not path.is_file():
                continue
            rows.append(
                {
                    "id": Path(r["file"]).as_posix(),
                    "path": str(path),
                    "label": normalize_label(r["class"]),
                    "person": r.get("identity") or r.get("person") or "",
                    "group": r.get("age_group") or r.get("group") or "",
                    "split": (r.get("split") or "").strip().lower(),
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


# --------------------------------------------------------------------------- configs and variants


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that decides an experiment's numbers (stored with every result)."""

    experiment: str = "size"
    model: str = "pieces"
    repeats: int = 5
    seed: int = 0
    # size: photos per class; () classes = every class of the data, or e.g. ("joy", "anger")
    sizes: tuple[int, ...] = (20, 60)
    classes: tuple[str, ...] = ()
    # pairs: each pair at each size
    pairs: tuple[tuple[str, str], ...] = (("joy", "anger"), ("surprise", "anger"))
    pair_sizes: tuple[int, ...] = (20, 35)
    # imbalance: photos per class (only these classes are trained) and the remedies to compare
    counts: tuple[tuple[str, int], ...] = (("joy", 40), ("sadness", 20))
    remedies: tuple[str, ...] = REMEDIES
    # mislabel: which class loses a share of its photos to the other classes
    mislabel_class: str = "anger"
    fractions: tuple[float, ...] = (0.0, 0.1, 0.3)
    detective: bool = True  # the pieces model only (see _detective_on)
    detective_folds: int = 3
    # groups: train on these age groups only, then add the missing ones
    train_groups: tuple[str, ...] = ("adult",)
    add_groups: tuple[str, ...] = ("child",)
    # training settings shared by every variant
    epochs: int | None = None
    mode: str = "auto"
    device: str = "auto"
    tiny: bool = False  # a few epochs on 64 px crops: for tests only

    def __post_init__(self) -> None:
        if self.experiment not in EXPERIMENTS:
            raise ValueError(f"unknown experiment {self.experiment!r}; allowed: {', '.join(EXPERIMENTS)}")
        if self.model not in MODEL_CHOICES:
            raise ValueError(f"unknown model {self.model!r}; allowed: {', '.join(MODEL_CHOICES)}")
        if self.repeats < 1:
            raise ValueError("repeats must be >= 1")
        bad = sorted(set(self.remedies) - set(REMEDIES))
        if bad:
            raise ValueError(f"unknown remedies {bad}; allowed: {', '.join(REMEDIES)}")
        if any(not 0.0 <= f < 1.0 for f in self.fractions):
            raise ValueError("mislabel fractions must be in [0, 1)")

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.seed, self.seed + self.repeats))

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExperimentConfig:
        """Inverse of :meth:`to_dict` (lists become tuples; unknown keys are refused)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}")

        def tup(v: Any) -> Any:
            return tuple(tup(x) for x in v) if isinstance(v, list) else v

        return cls(**{k: tup(v) for k, v in d.items()})


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment: its stable key, classes and how its training set is made."""

    key: str
    classes: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)


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


# --------------------------------------------------------------------------- results


def _mean_sd(values: Sequence[float]) -> dict[str, float]:
    v = np.array([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if len(v) == 0:
        return {"mean": float("nan"), "sd": float("nan")}
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0}


@dataclass(frozen=True)
class SeedRun:
    """One training of one variant with one seed, and its numbers on the fixed test set."""

    seed: int
    train_ids: tuple[str, ...]
    train_counts: dict[str, int]
    accuracy: float
    recall: dict[str, float]
    confusion: list[list[int]]
    probe: dict[str, float] | None = None
    group_accuracy: dict[str, float] = field(default_factory=dict)
    planted: tuple[str, ...] = ()
    found: tuple[str, ...] = ()  # planted photos among the detective's top suspects
    seconds: float = 0.0


@dataclass(frozen=True)
class VariantResult:
    """One variant's runs (one per seed) and their means and sds."""

    variant: Variant
    runs: tuple[SeedRun, ...]

    def accuracy(self) -> dict[str, float]:
        return _mean_sd([r.accuracy for r in self.runs])

    def recall(self) -> dict[str, dict[str, float]]:
        return {c: _mean_sd([r.recall[c] for r in self.runs]) for c in self.variant.classes}

    def probe(self) -> dict[str, dict[str, float]] | None:
        if any(r.probe is None for r in self.runs):
            return None
        return {c: _mean_sd([r.probe[c] for r in self.runs if r.probe]) for c in self.variant.classes}

    def group_accuracy(self) -> dict[str, dict[str, float]]:
        groups = sorted({g for r in self.runs for g in r.group_accuracy})
        return {g: _mean_sd([r.group_accuracy.get(g, float("nan")) for r in self.runs]) for g in groups}

    def confusion(self) -> np.ndarray:
        """The confusion matrix averaged over seeds (counts of the fixed test set)."""
        return np.mean([np.asarray(r.confusion, dtype=float) for r in self.runs], axis=0)

    def detective(self) -> dict[str, float] | None:
        planted = sum(len(r.planted) for r in self.runs)
        if not planted:
            return None
        return {
            "planted": planted / len(self.runs),
            "found": sum(len(r.found) for r in self.runs) / len(self.runs),
            "share": _mean_sd([len(r.found) / len(r.planted) for r in self.runs if r.planted])["mean"],
        }

    def n_train(self) -> float:
        return float(np.mean([len(r.train_ids) for r in self.runs]))

    def n_test(self) -> int:
        """Test photos this variant was scored on: those of its own classes (a pair sees two)."""
        return int(np.sum(self.runs[0].confusion)) if self.runs else 0

    def summary(self) -> dict[str, Any]:
        """JSON-ready means and sds (the CLI contract)."""
        out: dict[str, Any] = {
            "variant": self.variant.key,
            "classes": list(self.variant.classes),
            "n_train": self.n_train(),
            "n_test": self.n_test(),
            "accuracy": self.accuracy(),
            "recall": self.recall(),
        }
        if self.probe() is not None:
            out["probe"] = self.probe()
        if self.group_accuracy():
            out["group_accuracy"] = self.group_accuracy()
        if self.detective() is not None:
            out["detective"] = self.detective()
        return out


@dataclass(frozen=True)
class ExperimentResult:
    """A finished experiment: config, data fingerprint, the fixed test set and every variant."""

    config: ExperimentConfig
    fingerprint: str
    test_ids: tuple[str, ...]
    variants: tuple[VariantResult, ...]
    seconds: float
    device: str
    probe_id: str | None = None
    created_at: float = field(default_factory=time.time)

    def summary(self) -> dict[str, Any]:
        """Per variant: mean/sd accuracy and per-class recall (what the CLI prints)."""
        return {
            "experiment": self.config.experiment,
            "model": self.config.model,
            "repeats": self.config.repeats,
            "seeds": list(self.config.seeds),
            "n_test": len(self.test_ids),
            "fingerprint": self.fingerprint,
            "seconds": round(self.seconds, 3),
            "device": self.device,
            "probe": self.probe_id,
            "variants": [v.summary() for v in self.variants],
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, including each seed's training ids, for storing and re-running (JSON values only)."""
        return json.loads(json.dumps(self._raw_dict()))

    def _raw_dict(self) -> dict[str, Any]:
        return {
            "format": RESULT_FORMAT,
            "version": RESULT_VERSION,
            "config": self.config.to_dict(),
            "fingerprint": self.fingerprint,
            "test_ids": list(self.test_ids),
            "seconds": self.seconds,
            "device": self.device,
            "probe_id": self.probe_id,
            "created_at": self.created_at,
            "variants": [
                {
                    "key": v.variant.key,
                    "classes": list(v.variant.classes),
                    "params": dict(v.variant.params),
                    "runs": [dataclasses.asdict(r) for r in v.runs],
                }
                for v in self.variants
            ],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExperimentResult:
        """Inverse of :meth:`to_dict`; refuses other formats and results from a newer version."""
        if d.get("format") != RESULT_FORMAT:
            raise ExperimentError("not_an_experiment", "not an Expression Lab experiment result")
        if int(d.get("version", 0)) > RESULT_VERSION:
            raise ExperimentError("not_an_experiment", f"made by a newer version ({d.get('version')})")
        variants = []
        for v in d["variants"]:
            runs = tuple(
                SeedRun(
                    **{
                        **r,
                        "train_ids": tuple(r["train_ids"]),
                        "planted": tuple(r["planted"]),
                        "found": tuple(r["found"]),
                    }
                )
                for r in v["runs"]
            )
            variants.append(VariantResult(Variant(v["key"], tuple(v["classes"]), dict(v["params"])), runs))
        return cls(
            config=ExperimentConfig.from_dict(d["config"]),
            fingerprint=d["fingerprint"],
            test_ids=tuple(d["test_ids"]),
            variants=tuple(variants),
            seconds=float(d["seconds"]),
            device=d["device"],
            probe_id=d.get("probe_id"),
            created_at=float(d.get("created_at", 0.0)),
        )


# --------------------------------------------------------------------------- running


def _train_config(cfg: ExperimentConfig, seed: int, overrides: Mapping[str, Any]) -> Any:
    from edu_core.train import TrainConfig

    base = TrainConfig(epochs=cfg.epochs, mode=cfg.mode, device=cfg.device, seed=seed, tiny=cfg.tiny)
    return replace(base, **overrides)


def _torch_device(name: str) -> Any:
    import torch

    return torch.device(name)


def _proba(bundle: Any, faces: Sequence[Any], cache: Any, device: Any) -> np.ndarray:
    """Class probabilities on ``device``; a frozen-backbone CNN reuses the shared embedding cache."""
    from edu_core.predict import predict_proba

    if not faces:
        return np.zeros((0, len(bundle.class_names)))
    if bundle.kind == "pieces":
        return predict_proba(bundle, faces)
    bundle.model.to(device)  # train() hands the model back on the CPU; test on the GPU when there is one
    try:
        return predict_proba(bundle, faces, embedding_cache=cache)
    finally:
        bundle.model.to("cpu")


def _detective_on(cfg: ExperimentConfig) -> bool:
    # k-fold CNN models would embed every photo again per fold (minutes on a CPU), so the
    # detective runs with the pieces model only
    return cfg.detective and cfg.model == "pieces"


def _detective(
    cfg: ExperimentConfig,
    chosen: Sequence[Example],
    classes: Sequence[str],
    seed: int,
    planted: Sequence[str],
) -> tuple[str, ...]:
    """Planted ids among the k most surprising labels (k = number planted), from held-out predictions."""
    from edu_core.detective import out_of_fold_proba
    from edu_core.metrics import rank_by_loss

    probs = out_of_fold_proba(
        cfg.model,
        [e.face for e in chosen],
        [e.label for e in chosen],
        _train_config(cfg, seed, {}),
        class_names=classes,
        folds=cfg.detective_folds,
    )
    ranked = rank_by_loss(
        probs, [e.label for e in chosen], [e.id for e in chosen], labels=classes, top=len(planted)
    )
    hits = {r["id"] for r in ranked} & set(planted)
    return tuple(sorted(hits))


def _one_run(
    cfg: ExperimentConfig,
    variant: Variant,
    data: LabData,
    seed: int,
    probe: Example | None,
    cache: Any,
    cancel: threading.Event | None,
) -> SeedRun:
    from edu_core.metrics import confusion_matrix
    from edu_core.train import train

    t0 = time.perf_counter()
    classes = variant.classes
    chosen, overrides, planted = training_set(variant, data, seed)
    if len({e.label for e in chosen}) < 2:
        raise ExperimentError("too_few_photos", f"{variant.key}: fewer than two classes to train on")
    res = train(
        cfg.model,
        [e.face for e in chosen],
        [e.label for e in chosen],
        _train_config(cfg, seed, overrides),
        class_names=classes,
        cancel=cancel,
        embedding_cache=cache,
    )
    test = [e for e in data.test if e.label in classes]
    device = _torch_device(res.device)  # where train() ran: the GPU when there is one
    probs = _proba(res.bundle, [e.face for e in test], cache, device)
    truth = [e.label for e in test]
    pred = [classes[int(i)] for i in probs.argmax(axis=1)]
    hits = np.array([a == b for a, b in zip(truth, pred, strict=True)], dtype=float)
    recall = {c: float(hits[[t == c for t in truth]].mean()) if c in truth else float("nan") for c in classes}
    groups = sorted({e.group for e in test if e.group})
    group_acc = {}
    if cfg.experiment == "groups":
        group_acc = {g: float(hits[[e.group == g for e in test]].mean()) for g in groups}
    probe_p = None
    if probe is not None:
        probe_p = {
            c: float(p)
            for c, p in zip(classes, _proba(res.bundle, [probe.face], cache, device)[0], strict=True)
        }
    found: tuple[str, ...] = ()
    if planted and _detective_on(cfg):
        found = _detective(cfg, chosen, classes, seed, planted)
    return SeedRun(
        seed=seed,
        train_ids=tuple(sorted(e.id for e in chosen)),
        train_counts=dataset.class_counts(chosen, classes),
        accuracy=float(hits.mean()) if len(hits) else float("nan"),
        recall=recall,
        confusion=confusion_matrix(truth, pred, labels=classes).tolist(),
        probe=probe_p,
        group_accuracy=group_acc,
        planted=tuple(sorted(planted)),
        found=found,
        seconds=time.perf_counter() - t0,
    )


def n_trainings(cfg: ExperimentConfig, data: LabData) -> int:
    """How many models the experiment trains (the detective's k-fold models included)."""
    variants = plan_variants(cfg, data)
    extra = 0
    if cfg.experiment == "mislabel" and _detective_on(cfg):
        extra = sum(cfg.detective_folds for v in variants if v.params["fraction"] > 0)
    return (len(variants) + extra) * cfg.repeats


def run_experiment(
    cfg: ExperimentConfig,
    data: LabData,
    *,
    probe: Example | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ExperimentResult:
    """Train every variant once per seed and test each model on the same fixed test set.

    ``probe`` is a face shown to every model (the same photo side by side); it must
    not be a training photo. ``progress(done, total)`` counts finished trainings.
    Raises :class:`ExperimentError` when the data cannot support the experiment and
    ``edu_core.train.TrainingCancelled`` when ``cancel`` is set.
    """
    from edu_core.models import one_cpu_thread
    from edu_core.train import EmbeddingCache, choose_device

    t0 = time.perf_counter()
    if probe is not None and probe.id in {e.id for e in data.train}:
        raise ExperimentError("probe_in_training", "the probe photo is one of the training photos")
    if not data.test:
        raise ExperimentError("no_test_photos", "the data has no test photos")
    variants = plan_variants(cfg, data)
    short = shortfall(cfg, data)
    if short:
        detail = ", ".join(f"{c}: {have}/{need}" for c, (need, have) in short.items())
        raise ExperimentError("too_few_for_size", f"training photos per class (have/need): {detail}")
    cache = EmbeddingCache()  # one per experiment: every crop is embedded once, whatever the variant
    total, done = len(variants) * cfg.repeats, 0
    results = []
    with one_cpu_thread(cfg.model == "pieces"):
        for variant in variants:
            runs = []
            for seed in cfg.seeds:
                runs.append(_one_run(cfg, variant, data, seed, probe, cache, cancel))
                done += 1
                if progress is not None:
                    progress(done, total)
            results.append(VariantResult(variant, tuple(runs)))
    return ExperimentResult(
        config=cfg,
        fingerprint=data.fingerprint,
        test_ids=tuple(sorted(e.id for e in data.test)),
        variants=tuple(results),
        seconds=time.perf_counter() - t0,
        device=choose_device(cfg.device).type,
        probe_id=probe.id if probe is not None else None,
    )


def rerun(
    stored: ExperimentResult | Mapping[str, Any],
    data: LabData,
    *,
    probe: Example | None = None,
    progress: Progress | None = None,
) -> ExperimentResult:
    """Run a stored experiment again from its config and seeds (refused if the data changed)."""
    old = stored if isinstance(stored, ExperimentResult) else ExperimentResult.from_dict(stored)
    if old.fingerprint != data.fingerprint:
        raise ExperimentError("data_changed", f"stored on data {old.fingerprint}, now {data.fingerprint}")
    return run_experiment(old.config, data, probe=probe, progress=progress)


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


# --------------------------------------------------------------------------- timing


#: Seconds per training, measured on an idle 2-core CPU (see bench/experiments.py). The CNN
#: figures are defaults only: :func:`measure_embed_seconds` times this machine instead.
_PIECES_S = 0.3
_CNN_EMBED_S = {"cpu": 0.04, "cuda": 0.002, "mps": 0.01}  # per crop and view, once per experiment
_CNN_HEAD_FIT_S = 0.5
_CNN_FULL_FACTOR = 3.0  # a fine-tuning step (forward + backward + augmentation) vs one embedding


def measure_embed_seconds(model: str = "cnn", device: str = "auto", n: int = 4) -> float:
    """Seconds to embed one face crop with the CNN backbone here, timed on ``n`` blank crops.

    Takes about a second on a CPU; a page can keep the figure for the whole server,
    since it describes the machine, not a student.
    """
    import torch

    from edu_core.models import ExpressionModel
    from edu_core.train import choose_device, embed_crops

    dev = choose_device(device)
    net = ExpressionModel(model, 2).to(dev)
    crops = [np.full((256, 256, 3), 128 + i, dtype=np.uint8) for i in range(n + 1)]
    embed_crops(net, crops[:1], device=dev)  # the first call pays one-off set-up costs
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    embed_crops(net, crops[1:], device=dev)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / n


def estimate_seconds(cfg: ExperimentConfig, data: LabData, *, embed_s: float | None = None) -> float:
    """A rough time for the whole experiment, shown before it starts.

    ``embed_s`` is this machine's time to embed one crop (:func:`measure_embed_seconds`);
    without it a typical figure for the device type is used.
    """
    from edu_core.train import TrainConfig, choose_device

    device = choose_device(cfg.device)
    runs = n_trainings(cfg, data)
    if cfg.model == "pieces":
        return runs * _PIECES_S
    per_crop = embed_s if embed_s is not None else _CNN_EMBED_S.get(device.type, 0.04)
    rc = TrainConfig(epochs=cfg.epochs, mode=cfg.mode, device=cfg.device).resolved(cfg.model, device)
    variants = plan_variants(cfg, data)
    if rc.mode == "head":
        used = {e.id for v in variants for s in cfg.seeds for e in training_set(v, data, s)[0]}
        return (len(used) * 2 + len(data.test)) * per_crop + runs * _CNN_HEAD_FIT_S
    n_train = float(np.mean([len(training_set(v, data, cfg.seed)[0]) for v in variants]))
    per_run = n_train * int(rc.epochs or 20) * per_crop * _CNN_FULL_FACTOR + len(data.test) * per_crop
    return runs * per_run


# --------------------------------------------------------------------------- storing


def save_result(store: Store, viewer: int | TeacherSession, result: ExperimentResult) -> int:
    """Store a result as a finished run (its config and seeds make it reproducible); returns the run id."""
    run_id = store.start_run(viewer, config={"type": "experiment", **result.config.to_dict()})
    store.finish_run(viewer, run_id, metrics=result.to_dict())
    return run_id


def list_results(store: Store, viewer: int | TeacherSession) -> list[tuple[int, ExperimentResult]]:
    """Every stored experiment this viewer may see, newest first."""
    out = []
    for run in store.list_runs(viewer):
        if run.config.get("type") == "experiment" and run.metrics.get("format") == RESULT_FORMAT:
            out.append((run.id, ExperimentResult.from_dict(run.metrics)))
    return sorted(out, key=lambda p: -p[0])


def load_result(store: Store, viewer: int | TeacherSession, run_id: int) -> ExperimentResult:
    run = store.run(viewer, run_id)
    if run.config.get("type") != "experiment":
        raise ExperimentError("not_an_experiment", f"run {run_id} is a training run")
    return ExperimentResult.from_dict(run.metrics)


# --------------------------------------------------------------------------- words


def text(key: str, lang: str = "ko", **fmt: object) -> str:
    """A lab UI string (kept with every other string in ``edu_core.i18n``)."""
    from edu_core import i18n

    return i18n.t(key, lang, **fmt)


def reason_text(code: str, lang: str = "ko") -> str:
    """The message for an experiment error code."""
    from edu_core import i18n

    return i18n.reason_message(code, lang)


def _class_word(c: str, lang: str) -> str:
    from edu_core.i18n import class_name

    return class_name(c, lang)


def _group_word(g: str, lang: str) -> str:
    from edu_core import i18n

    key = f"lab.group.{g}"
    return text(key, lang) if i18n.has_key(key) else g


def group_label(lang: str = "ko") -> Callable[[str], str]:
    """A formatter for age-group names (teacher-made group names are shown as they are)."""
    return lambda g: _group_word(g, lang)


def variant_label(variant: Variant, lang: str = "ko") -> str:
    """A short name for a variant in the student's language."""
    p = variant.params
    if p.get("pair"):
        a, b = variant.classes
        return text("lab.var.pair", lang, a=_class_word(a, lang), b=_class_word(b, lang), n=p["per_class"])
    if "per_class" in p:
        return text("lab.var.n", lang, n=p["per_class"])
    if "remedy" in p:
        return text(f"lab.var.{p['remedy']}", lang)
    if "fraction" in p:
        return text("lab.var.mislabel", lang, pct=round(float(p["fraction"]) * 100))
    words = " + ".join(_group_word(g, lang) for g in p["groups"])
    return text("lab.var.same_size" if "same_size_as" in p else "lab.var.groups", lang, groups=words)


# --------------------------------------------------------------------------- export


def result_csv(result: ExperimentResult) -> str:
    """Long-format CSV: one row per variant, seed (or mean/sd) and measure, for spreadsheets."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["experiment", "model", "variant", "seed", "measure", "class", "value"])
    exp, model = result.config.experiment, result.config.model
    for v in result.variants:
        key = v.variant.key
        for r in v.runs:
            w.writerow([exp, model, key, r.seed, "n_train", "", len(r.train_ids)])
            w.writerow([exp, model, key, r.seed, "accuracy", "", f"{r.accuracy:.6f}"])
            for c, x in r.recall.items():
                w.writerow([exp, model, key, r.seed, "recall", c, f"{x:.6f}"])
            for g, x in r.group_accuracy.items():
                w.writerow([exp, model, key, r.seed, "group_accuracy", g, f"{x:.6f}"])
            for c, x in (r.probe or {}).items():
                w.writerow([exp, model, key, r.seed, "probe", c, f"{x:.6f}"])
            if r.planted:
                w.writerow(
                    [exp, model, key, r.seed, "detective_found", "", f"{len(r.found)}/{len(r.planted)}"]
                )
        for stat in ("mean", "sd"):
            w.writerow([exp, model, key, stat, "accuracy", "", f"{v.accuracy()[stat]:.6f}"])
            for c, ms in v.recall().items():
                w.writerow([exp, model, key, stat, "recall", c, f"{ms[stat]:.6f}"])
    return buf.getvalue()


def _hangul_font() -> str | None:
    from matplotlib import font_manager

    wanted = (
        "Noto Sans CJK KR",
        "Noto Sans KR",
        "NanumGothic",
        "Malgun Gothic",
        "AppleGothic",
        "Apple SD Gothic Neo",
        "UnDotum",
        "Baekmuk Gulim",
    )
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in wanted if n in names), None)


def result_png(result: ExperimentResult, lang: str = "ko", *, dpi: int = 110) -> bytes:
    """Accuracy (mean ± sd, one dot per seed) and per-class recall side by side, as PNG bytes.

    Drawn with matplotlib on the server so it also works from the CLI. Without a font
    that has Hangul the labels fall back to English rather than printing empty boxes.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from edu_core.charts import class_color

    font = _hangul_font()
    if lang == "ko" and font is None:
        lang = "en"
    rc = {"font.size": 13, **({"font.family": font} if font else {})}
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(13, 5.2), dpi=dpi)
        ax_acc, ax_rec = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
        names = [variant_label(v.variant, lang) for v in result.variants]
        xs = np.arange(len(names))
        means = [v.accuracy()["mean"] for v in result.variants]
        sds = [v.accuracy()["sd"] for v in result.variants]
        ax_acc.bar(xs, means, yerr=sds, capsize=8, color="#56B4E9", edgecolor="black")
        for i, v in enumerate(result.variants):
            ax_acc.scatter([i] * len(v.runs), [r.accuracy for r in v.runs], color="black", s=14, zorder=3)
            ax_acc.text(i, min(means[i] + sds[i] + 0.03, 1.02), f"{means[i]:.0%}", ha="center")
        ax_acc.set_xticks(xs, names, rotation=20, ha="right")
        ax_acc.set_ylim(0, 1.08)
        ax_acc.set_title(text("lab.accuracy", lang))
        classes = list(dict.fromkeys(c for v in result.variants for c in v.variant.classes))
        width = 0.8 / max(len(result.variants), 1)
        for i, v in enumerate(result.variants):
            rec = v.recall()
            ys = [rec.get(c, {"mean": np.nan})["mean"] for c in classes]
            es = [rec.get(c, {"sd": 0.0})["sd"] for c in classes]
            ax_rec.bar(
                np.arange(len(classes)) + (i - (len(result.variants) - 1) / 2) * width,
                ys,
                width,
                yerr=es,
                capsize=3,
                label=names[i],
                edgecolor="black",
                color=[class_color(c) for c in classes],
                alpha=0.35 + 0.65 * (i + 1) / len(result.variants),
                hatch=["", "//", "..", "xx", "\\\\", "++"][i % 6],
            )
        ax_rec.set_xticks(np.arange(len(classes)), [_class_word(c, lang) for c in classes])
        ax_rec.set_ylim(0, 1.08)
        ax_rec.set_title(text("lab.recall", lang))
        ax_rec.legend(fontsize=10, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(3, len(names)))
        fig.suptitle(
            text(
                "lab.png_title",
                lang,
                experiment=text(f"lab.exp.{result.config.experiment}", lang),
                model=text(f"lab.model_name.{result.config.model}", lang),
                repeats=len(result.config.seeds),
            ),
            fontsize=15,
        )
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()


# --------------------------------------------------------------------------- figures (plotly)


def accuracy_figure(result: ExperimentResult, lang: str = "ko", *, height: int = 420) -> go.Figure:
    """One bar per variant: mean accuracy with ± sd error bars and a dot for every seed."""
    import plotly.graph_objects as go

    from edu_core.charts import style

    names = [variant_label(v.variant, lang) for v in result.variants]
    acc = [v.accuracy() for v in result.variants]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[a["mean"] for a in acc],
            error_y={
                "type": "data",
                "array": [a["sd"] for a in acc],
                "color": "#000000",
                "thickness": 3,
                "width": 14,
            },
            marker={"color": "#56B4E9", "line": {"color": "#000000", "width": 2}},
            text=[f"{a['mean']:.0%}" for a in acc],
            textposition="inside",
            insidetextanchor="start",
            hovertemplate="%{x}: %{y:.1%}<extra></extra>",
            name=text("lab.accuracy", lang),
        )
    )
    fig.add_scatter(
        x=[n for n, v in zip(names, result.variants, strict=True) for _ in v.runs],
        y=[r.accuracy for v in result.variants for r in v.runs],
        mode="markers",
        marker={"color": "#000000", "size": 9, "symbol": "circle-open", "line": {"width": 2}},
        name=text("lab.seed_dots", lang),
        hovertemplate="seed: %{y:.1%}<extra></extra>",
    )
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    style(fig, text("lab.accuracy", lang), height, legend=True)
    return fig


def recall_figure(result: ExperimentResult, lang: str = "ko", *, height: int = 460) -> go.Figure:
    """Per-class recall, variants side by side (mean ± sd); bars keep each class's colour."""
    import plotly.graph_objects as go

    from edu_core.charts import class_color, style

    classes = list(dict.fromkeys(c for v in result.variants for c in v.variant.classes))
    patterns = ["", "/", ".", "x", "\\", "+"]
    fig = go.Figure()
    for i, v in enumerate(result.variants):
        rec = v.recall()
        fig.add_bar(
            name=variant_label(v.variant, lang),
            x=[_class_word(c, lang) for c in classes],
            y=[rec[c]["mean"] if c in rec else None for c in classes],
            error_y={
                "type": "data",
                "array": [rec[c]["sd"] if c in rec else 0 for c in classes],
                "color": "#000000",
                "thickness": 2,
            },
            marker={
                "color": [class_color(c) for c in classes],
                "line": {"color": "#000000", "width": 2},
                "pattern": {"shape": patterns[i % len(patterns)], "fgcolor": "#000000"},
                "opacity": 0.45 + 0.55 * (i + 1) / len(result.variants),
            },
            hovertemplate="%{x}: %{y:.1%}<extra>" + variant_label(v.variant, lang) + "</extra>",
        )
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    fig.update_layout(barmode="group")
    style(fig, text("lab.recall", lang), height, legend=True)
    return fig


def groups_figure(result: ExperimentResult, lang: str = "ko", *, height: int = 420) -> go.Figure:
    """Accuracy on each age group's test photos, variants side by side (mean ± sd)."""
    import plotly.graph_objects as go

    from edu_core.charts import style

    groups = sorted({g for v in result.variants for g in v.group_accuracy()})
    fig = go.Figure()
    colors = ["#E69F00", "#0072B2", "#009E73", "#CC79A7"]
    for i, v in enumerate(result.variants):
        ga = v.group_accuracy()
        fig.add_bar(
            name=variant_label(v.variant, lang),
            x=[_group_word(g, lang) for g in groups],
            y=[ga[g]["mean"] for g in groups],
            error_y={"type": "data", "array": [ga[g]["sd"] for g in groups], "color": "#000000"},
            marker={"color": colors[i % len(colors)], "line": {"color": "#000000", "width": 2}},
        )
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    fig.update_layout(barmode="group")
    style(fig, text("lab.groups_chart", lang), height, legend=True)
    return fig


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edu_core.experiments run {size,pairs,imbalance,mislabel,groups} --data DIR ...``"""
    ap = argparse.ArgumentParser(
        prog="python -m edu_core.experiments",
        description="Run one of the lesson's data experiments, repeated over seeds.",
    )
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run an experiment and print mean/sd per variant")
    run.add_argument("experiment", choices=EXPERIMENTS)
    run.add_argument("--data", required=True, help="folder with one subfolder per class (and labels.csv)")
    run.add_argument("--model", default="pieces", choices=MODEL_CHOICES)
    run.add_argument("--repeats", type=int, default=5, help="number of seeds (>= 5 for the lesson)")
    run.add_argument("--seed", type=int, default=0, help="first seed")
    run.add_argument("--classes", default="", help="comma-separated classes (size, mislabel, groups)")
    run.add_argument("--sizes", default="20,60", help="photos per class (size)")
    run.add_argument("--counts", default="joy=40,sadness=20", help="photos per class (imbalance)")
    run.add_argument("--mislabel-class", default="anger")
    run.add_argument("--fractions", default="0,0.1,0.3")
    run.add_argument("--train-groups", default="adult")
    run.add_argument("--add-groups", default="child")
    run.add_argument(
        "--no-detective", action="store_true", help="skip the mislabel detective (pieces model only anyway)"
    )
    run.add_argument("--epochs", type=int, default=None)
    run.add_argument("--device", default="auto")
    run.add_argument("--cache", default=None, help="face extraction cache folder")
    run.add_argument("--csv", default=None, help="also write the per-seed CSV here")
    run.add_argument("--png", default=None, help="also write the comparison chart (PNG) here")
    run.add_argument("--full", action="store_true", help="with --json: every seed's numbers and training ids")
    run.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    def split(s: str) -> tuple[str, ...]:
        return tuple(x.strip() for x in s.split(",") if x.strip())

    try:
        cfg = ExperimentConfig(
            experiment=args.experiment,
            model=args.model,
            repeats=args.repeats,
            seed=args.seed,
            classes=split(args.classes),
            sizes=tuple(int(x) for x in split(args.sizes)),
            counts=tuple((k, int(v)) for k, v in (x.split("=") for x in split(args.counts))),
            mislabel_class=args.mislabel_class,
            fractions=tuple(float(x) for x in split(args.fractions)),
            detective=not args.no_detective,
            train_groups=split(args.train_groups),
            add_groups=split(args.add_groups),
            epochs=args.epochs,
            device=args.device,
        )
        data = load_folder(args.data, cache_dir=args.cache)
        probe = default_probe(cfg, data)
        if not args.json:
            embed_s = measure_embed_seconds(device=args.device) if cfg.model == "cnn" else None
            eta = estimate_seconds(cfg, data, embed_s=embed_s)
            print(
                f"{len(data.train)} training / {len(data.test)} test photos; about "
                f"{eta:.0f} s for {n_trainings(cfg, data)} trainings",
                file=sys.stderr,
            )
        result = run_experiment(cfg, data, probe=probe)
    except EduError as exc:
        msg = {"error": exc.code, "detail": exc.detail}
        print(json.dumps(msg) if args.json else f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(
            json.dumps({"error": "bad_argument", "detail": str(exc)}) if args.json else f"error: {exc}",
            file=sys.stderr,
        )
        return 2
    if args.csv:
        Path(args.csv).write_text(result_csv(result), encoding="utf-8")
    if args.png:
        Path(args.png).write_bytes(result_png(result))
    if args.json:
        print(json.dumps(result.to_dict() if args.full else result.summary(), ensure_ascii=False))
    else:
        print(
            f"{cfg.experiment} · {cfg.model} · seeds {cfg.seeds[0]}..{cfg.seeds[-1]} · "
            f"{len(result.test_ids)} test photos · {result.seconds:.1f} s"
        )
        for v in result.variants:
            a = v.accuracy()
            rec = "  ".join(f"{c} {m['mean']:.2f}±{m['sd']:.2f}" for c, m in v.recall().items())
            print(f"  {v.variant.key:<24} acc {a['mean']:.3f} ± {a['sd']:.3f}   {rec}")
            if v.detective():
                d = v.detective()
                print(f"  {'':<24} detective found {d['found']:.1f} of {d['planted']:.1f} planted")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
