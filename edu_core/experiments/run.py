"""Running an experiment: training every variant once per seed, and timing estimates."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from edu_core import dataset
from edu_core.detective import out_of_fold_proba
from edu_core.experiments.choose import pick_probe
from edu_core.experiments.config import ExperimentConfig, ExperimentError, Progress, Variant
from edu_core.experiments.data import Example, LabData
from edu_core.experiments.results import ExperimentResult, SeedRun, VariantResult
from edu_core.experiments.variants import plan_variants, shortfall, training_set
from edu_core.metrics import confusion_matrix, rank_by_loss
from edu_core.models import ExpressionModel, one_cpu_thread
from edu_core.predict import predict_proba
from edu_core.train import EmbeddingCache, TrainConfig, choose_device, embed_crops, train

# --------------------------------------------------------------------------- running


def _train_config(cfg: ExperimentConfig, seed: int, overrides: Mapping[str, Any]) -> Any:

    base = TrainConfig(epochs=cfg.epochs, mode=cfg.mode, device=cfg.device, seed=seed, tiny=cfg.tiny)
    return replace(base, **overrides)


def _torch_device(name: str) -> Any:

    return torch.device(name)


def _proba(bundle: Any, faces: Sequence[Any], cache: Any, device: Any) -> np.ndarray:
    """Class probabilities on ``device``; a frozen-backbone CNN reuses the shared embedding cache."""

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
) -> tuple[SeedRun, dict[str, np.ndarray]]:
    """One training and its test numbers, with every test photo's probabilities by id."""

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
        curve=False,  # the lab shows test figures, never a run's validation curve
    )
    test = [e for e in data.test if e.label in classes]
    device = _torch_device(res.device)  # where train() ran: the GPU when there is one
    probs = _proba(res.bundle, [e.face for e in test], cache, device)
    truth = [e.label for e in test]
    pred = [classes[int(i)] for i in probs.argmax(axis=1)]
    hits = np.array([a == b for a, b in zip(truth, pred, strict=True)], dtype=float)
    of_class = {c: np.array([t == c for t in truth], dtype=bool) for c in classes if c in truth}
    recall = {c: float(hits[of_class[c]].mean()) if c in of_class else float("nan") for c in classes}
    confidence = {c: float(probs[of_class[c], ci].mean()) for ci, c in enumerate(classes) if c in of_class}
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
    run = SeedRun(
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
        confidence=confidence,
    )
    return run, {e.id: row for e, row in zip(test, probs, strict=True)}


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
    probe: Example | str | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    embedding_cache: Any | None = None,
) -> ExperimentResult:
    """Train every variant once per seed and test each model on the same fixed test set.

    ``probe`` is a face shown to every model (the same photo side by side); it must
    not be a training photo. ``probe="auto"`` picks it afterwards from the test photos:
    the one where the compared models differ most (:func:`pick_probe`).
    ``progress(done, total)`` counts finished trainings.
    Raises :class:`ExperimentError` when the data cannot support the experiment and
    ``edu_core.train.TrainingCancelled`` when ``cancel`` is set. ``embedding_cache`` (an
    ``EmbeddingCache``) lets a caller that already embedded the crops (a bench) reuse them.
    """

    t0 = time.perf_counter()
    auto = probe == "auto"
    if isinstance(probe, str) and not auto:
        raise ExperimentError("bad_probe", f"probe must be a photo or 'auto', not {probe!r}")
    probe = None if auto else probe
    if probe is not None and probe.id in {e.id for e in data.train}:
        raise ExperimentError("probe_in_training", "the probe photo is one of the training photos")
    if not data.test:
        raise ExperimentError("no_test_photos", "the data has no test photos")
    variants = plan_variants(cfg, data)
    short = shortfall(cfg, data)
    if short:
        detail = ", ".join(f"{c}: {have}/{need}" for c, (need, have) in short.items())
        raise ExperimentError("too_few_for_size", f"training photos per class (have/need): {detail}")
    cache = (
        embedding_cache if embedding_cache is not None else EmbeddingCache()
    )  # one per experiment: every crop is embedded once, whatever the variant
    total, done = len(variants) * cfg.repeats, 0
    results, seen = [], []
    with one_cpu_thread(cfg.model == "pieces"):
        for variant in variants:
            runs, probs = [], []
            for seed in cfg.seeds:
                run, p = _one_run(cfg, variant, data, seed, probe, cache, cancel)
                runs.append(run)
                probs.append(p)
                done += 1
                if progress is not None:
                    progress(done, total)
            results.append(VariantResult(variant, tuple(runs)))
            seen.append(probs)
    if auto:
        probe = pick_probe(cfg, data, [v.variant for v in results], seen)
        if probe is not None:
            results = [
                VariantResult(
                    v.variant,
                    tuple(
                        replace(r, probe=dict(zip(v.variant.classes, map(float, p[probe.id]), strict=True)))
                        if probe.id in p  # a pair experiment's other pair never sees this photo
                        else r
                        for r, p in zip(v.runs, probs, strict=True)
                    ),
                )
                for v, probs in zip(results, seen, strict=True)
            ]
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
