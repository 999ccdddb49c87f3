"""The training loop: from labelled faces to a model bundle, with live progress.

``train`` knows nothing of the user interface: it reports each epoch through
``on_epoch_end(epoch, metrics)`` and stops when the ``cancel`` event is set.

Two modes:

* **head** — the CNN backbone stays frozen; each photo's embedding (and its mirror
  image's) is computed once and cached, so the epochs only train a linear head and
  finish in well under a second. The pieces model always trains this way.
* **full** — every CNN layer is fine-tuned on augmented crops (flip, small rotation
  and scale, colour jitter, Random Erasing); meant for a GPU.

The pieces live in their own modules: settings in :mod:`edu_core.trainconfig`, devices in
:mod:`edu_core.devices`, embeddings in :mod:`edu_core.embeddings`, the two fitting loops in
:mod:`edu_core.fitting`, class folders in :mod:`edu_core.classfolders`. Their public names are
importable from here too, as callers have always done.
"""

from __future__ import annotations

import argparse
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from edu_core.classfolders import extract_cached, scan_class_folders
from edu_core.cli import print_error, print_json
from edu_core.dataset import choose_per_class, resample, stratified_holdout
from edu_core.devices import choose_device, device_name, seed_everything
from edu_core.embeddings import EmbeddingCache, embed_crops
from edu_core.errors import EduError
from edu_core.evaluate import evaluate_bundle
from edu_core.fitting import (
    FitRun,
    class_weights,
    fit_head,
    fit_norms,
    fit_norms_combined_full,
    full_finetune,
    make_augmenter,
    resize_crop,
)
from edu_core.labels import LESSON_CLASSES
from edu_core.models import (
    ExpressionModel,
    ModelBundle,
    feature_spec,
    one_cpu_thread,
    pieces_matrix,
    save_bundle,
)
from edu_core.trainconfig import MODEL_KINDS, EpochCallback, TrainConfig, TrainingCancelled, TrainingDataError
from edu_core.trainjob import JobState, TrainingJob

__all__ = [
    "MODEL_KINDS",
    "EmbeddingCache",
    "EpochCallback",
    "JobState",
    "TrainConfig",
    "TrainResult",
    "TrainingCancelled",
    "TrainingDataError",
    "TrainingJob",
    "choose_device",
    "choose_per_class",
    "class_weights",
    "device_name",
    "embed_crops",
    "extract_cached",
    "main",
    "make_augmenter",
    "resample",
    "scan_class_folders",
    "seed_everything",
    "stratified_holdout",
    "train",
]


@dataclass
class TrainResult:
    """What one training run produced."""

    bundle: ModelBundle
    history: list[dict[str, float]]  # one dict per epoch: epoch, loss, acc, val_loss, val_acc
    device: str  # "cuda", "mps" or "cpu"
    device_name: str  # e.g. "NVIDIA H100" or "CPU"
    best_epoch: int
    stopped_early: bool
    seconds: float
    n_train: int
    n_val: int
    config: TrainConfig = field(default_factory=TrainConfig)


def _labels_to_ids(labels: Sequence[str], class_names: Sequence[str]) -> list[int]:
    pos = {c: i for i, c in enumerate(class_names)}
    bad = sorted({y for y in labels if y not in pos})
    if bad:
        raise ValueError(f"unknown labels {bad}; allowed: {', '.join(class_names)}")
    return [pos[y] for y in labels]


def train(
    kind_or_model: str | ExpressionModel,
    faces: Sequence[Any],
    labels: Sequence[str],
    cfg: TrainConfig = TrainConfig(),
    *,
    class_names: Sequence[str],
    on_epoch_end: EpochCallback | None = None,
    cancel: threading.Event | None = None,
    embedding_cache: EmbeddingCache | None = None,
    curve: bool = True,
) -> TrainResult:
    """Train a model of ``kind`` ("pieces", "cnn", "combined") on accepted faces.

    ``labels`` are class ids from ``class_names``. A stratified ``cfg.val_fraction``
    of the faces gives the validation curve and, in full fine-tuning, the best-epoch
    checkpoint and early stop; in head mode the model is then retrained on all faces
    (``cfg.refit``, ``cfg.refit_epochs``). Raises :class:`TrainingCancelled`
    when ``cancel`` is set, ``ValueError`` for unknown labels and
    :class:`TrainingDataError` when there are too few faces.

    ``curve=False`` is for callers that never show the validation curve (the lab's many runs, the
    detective's folds): when the head is retrained on all faces for the planned epochs anyway, the
    first pass only draws that curve, so it is skipped, which halves the time; ``history`` is then
    empty. The final model is trained the same way, from a freshly drawn head.
    """
    t0 = time.perf_counter()
    if len(faces) != len(labels):
        raise ValueError(f"{len(faces)} faces but {len(labels)} labels")
    class_names = tuple(class_names)
    if len(class_names) < 2:
        raise TrainingDataError("too_few_classes", "need at least two classes")
    y_list = _labels_to_ids(labels, class_names)
    rejected = [i for i, f in enumerate(faces) if not getattr(f, "ok", False)]
    if rejected:
        raise TrainingDataError(
            "rejected_faces", f"{len(rejected)} faces were not extracted (first: {rejected[0]})"
        )
    if len(set(y_list)) < 2:
        raise TrainingDataError("too_few_classes", "the faces cover fewer than two classes")

    device = choose_device(cfg.device)
    kind = kind_or_model.kind if isinstance(kind_or_model, ExpressionModel) else kind_or_model
    rc = cfg.resolved(kind, device)
    gen = seed_everything(rc.seed)
    if isinstance(kind_or_model, ExpressionModel):
        model = kind_or_model
    else:
        model = ExpressionModel(
            kind, len(class_names), arch=rc.arch, hidden=rc.hidden, image_size=rc.image_size, pretrained=True
        )
    y = torch.tensor(y_list, dtype=torch.long)

    keep, val_idx = stratified_holdout(labels, rc.val_fraction, rc.seed)
    train_idx = resample(keep, y_list, rc.sampling, rc.seed)
    weight = class_weights([y_list[i] for i in train_idx], len(class_names)) if rc.class_weighting else None

    feats = torch.from_numpy(pieces_matrix(faces)) if model.uses_pieces else None
    history: list[dict[str, float]]
    if rc.mode == "head":
        emb: dict[str, torch.Tensor | None] = {"plain": None, "mirrored": None}
        if model.uses_images:
            cache = embedding_cache if embedding_cache is not None else EmbeddingCache()
            model.cnn.to(device)
            crops = [f.crop for f in faces]
            emb["plain"] = embed_crops(model, crops, device=device, cache=cache, cancel=cancel)
            if rc.augment:
                emb["mirrored"] = embed_crops(
                    model, crops, device=device, mirrored=True, cache=cache, cancel=cancel
                )
            model.cnn.to("cpu")
        # When the final model is retrained for the planned epochs anyway, this first pass only
        # draws the curves: stopping it early would only cut the curve short of the epochs asked for.
        planned_refit = rc.refit and rc.refit_epochs == "planned"
        curve_cfg = replace(rc, patience=None) if planned_refit else rc
        with one_cpu_thread():
            if curve or not (planned_refit and val_idx):
                fit_norms(model, emb["plain"], feats, train_idx)
                pass1 = FitRun(y, train_idx, val_idx, curve_cfg, gen, weight, on_epoch_end, cancel)
                history, best_epoch, stopped = fit_head(
                    model, emb, feats, pass1, epochs=int(rc.epochs or 1), select_best=True
                )
            else:
                history, best_epoch, stopped = [], 0, False
            full_idx = train_idx
            if rc.refit and val_idx:
                full_idx = resample(sorted(keep + val_idx), y_list, rc.sampling, rc.seed)
                if rc.class_weighting:
                    weight = class_weights([y_list[i] for i in full_idx], len(class_names))
                fit_norms(model, emb["plain"], feats, full_idx)
                refit = FitRun(y, full_idx, [], rc, gen, weight, cancel=cancel)  # no curve: already drawn
                epochs = int(rc.epochs or 1) if rc.refit_epochs == "planned" else max(best_epoch, 1)
                fit_head(model, emb, feats, refit, epochs=epochs, select_best=False)
        n_fit = len(full_idx)
    else:
        crops_t = torch.from_numpy(np.stack([resize_crop(f.crop, rc.image_size) for f in faces])).permute(
            0, 3, 1, 2
        )
        if model.kind == "combined" and feats is not None:
            fit_norms_combined_full(model, [f.crop for f in faces], feats, train_idx, device)
        run = FitRun(y, train_idx, val_idx, rc, gen, weight, on_epoch_end, cancel)
        history, best_epoch, stopped = full_finetune(model, crops_t, feats, run, device=device)
        model.to("cpu")
        n_fit = len(train_idx)
    model.eval()
    last = history[best_epoch - 1] if 0 < best_epoch <= len(history) else (history[-1] if history else {})
    metrics = {
        "best_epoch": best_epoch,
        "train_acc": last.get("acc", math.nan),
        "val_acc": last.get("val_acc", math.nan),
        "n_train": n_fit,
        "n_val": len(val_idx),
        "device": device.type,
    }
    bundle = ModelBundle(
        model=model,
        kind=kind,
        class_names=class_names,
        config=asdict(rc),
        metrics=metrics,
        feature_spec=feature_spec(),
        backbone_frozen=rc.mode == "head" and kind != "pieces",
    )
    return TrainResult(
        bundle=bundle,
        history=history,
        device=device.type,
        device_name=device_name(device),
        best_epoch=best_epoch,
        stopped_early=stopped,
        seconds=time.perf_counter() - t0,
        n_train=n_fit,
        n_val=len(val_idx),
        config=rc,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edu_core.train --data DIR --model pieces|cnn|combined ...``"""
    ap = argparse.ArgumentParser(prog="python -m edu_core.train", description="Train an expression model.")
    ap.add_argument("--data", required=True, help="folder with one subfolder of photos per class")
    ap.add_argument("--model", default="pieces", choices=MODEL_KINDS)
    ap.add_argument("--per-class", type=int, default=None, help="training photos per class (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="where to write the model file (.pt)")
    ap.add_argument("--mode", default="auto", choices=("auto", "head", "full"))
    ap.add_argument("--arch", default="efficientnet_lite0")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--test-fraction", type=float, default=0.25, help="when labels.csv has no split column")
    ap.add_argument("--threshold", type=float, default=0.5, help="below this top probability: cannot tell")
    ap.add_argument("--cache", default=None, help="face extraction cache folder")
    ap.add_argument("--json", action="store_true", help="print the test metrics as JSON")
    args = ap.parse_args(argv)

    try:
        files = scan_class_folders(args.data)
        faces = extract_cached([f.path for f in files], args.cache)
    except EduError as exc:
        return print_error(exc, as_json=args.json)
    ok = [i for i, f in enumerate(faces) if f.ok]
    labels = [f.label for f in files]
    if all(files[i].split for i in ok):
        pool = [i for i in ok if files[i].split == "train"]
        test = [i for i in ok if files[i].split == "test"]
    else:
        keep, hold = stratified_holdout([labels[i] for i in ok], args.test_fraction, args.seed)
        pool, test = [ok[i] for i in keep], [ok[i] for i in hold]
    chosen = choose_per_class(pool, labels, args.per_class, args.seed)
    present = {labels[i] for i in chosen}
    class_names = [c for c in LESSON_CLASSES if c in present] + sorted(present - set(LESSON_CLASSES))
    test = [i for i in test if labels[i] in present]
    cfg = TrainConfig(seed=args.seed, mode=args.mode, arch=args.arch, epochs=args.epochs, device=args.device)
    result = train(
        args.model, [faces[i] for i in chosen], [labels[i] for i in chosen], cfg, class_names=class_names
    )
    report = evaluate_bundle(
        result.bundle,
        [faces[i] for i in test],
        [labels[i] for i in test],
        ids=[files[i].path.relative_to(args.data).as_posix() for i in test],
        threshold=args.threshold,
    )
    result.bundle.metrics.update({"test_acc": report["accuracy"], "n_test": len(test)})
    if args.out:
        save_bundle(result.bundle, args.out)
    summary = {
        "model": args.model,
        "mode": result.config.mode,
        "device": result.device,
        "device_name": result.device_name,
        "per_class": args.per_class,
        "seed": args.seed,
        "n_train": len(chosen),
        "n_test": len(test),
        "n_rejected": len(faces) - len(ok),
        "class_names": class_names,
        "train_seconds": round(result.seconds, 3),
        "best_epoch": result.best_epoch,
        "test": report,
        "out": args.out,
    }
    if args.json:
        print_json(summary)
    else:
        print(
            f"{args.model} ({result.config.mode}, {result.device_name}): trained on {len(chosen)} faces "
            f"in {result.seconds:.2f} s; test accuracy {report['accuracy']:.3f} on {len(test)} faces"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
