"""Measuring and using a seven-class checkpoint: accuracy per class, the confusion matrix,
probabilities for one photo, and what the page shows about a model.

A model trained without some class (the public AI Hub crops have no 중립) predicts only the
classes it was trained on; :class:`Korean7Model` and :func:`model_report` name the absent ones.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from edu_core import models
from edu_core.errors import ImageError, ModelFileError
from edu_core.faces import CropConfig, extract
from edu_core.images import decode
from edu_core.korean7.base import CHECKPOINT_FORMAT, Korean7Error
from edu_core.korean7.cache import CropCache
from edu_core.korean7.data import BatchDataset, Korean7TrainConfig, device_augment, make_loader, norm_tensors
from edu_core.labels import KOREAN7_CLASSES, KOREAN7_NAMES
from edu_core.metrics import confusion_matrix


def confusion_of(y_true: Sequence[int], y_pred: Sequence[int], classes: Sequence[str]) -> np.ndarray:
    """Counts[i, j] = images of ``classes[i]`` predicted as ``classes[j]`` (positions in, ids out)."""
    return confusion_matrix(
        [classes[int(i)] for i in y_true], [classes[int(j)] for j in y_pred], labels=list(classes)
    )


def metrics_from_confusion(cm: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class accuracy (recall) and the matrix, as plain JSON-ready values."""
    total = int(cm.sum())
    per_class = {
        c: (round(float(cm[i, i] / cm[i].sum()), 4) if cm[i].sum() else None) for i, c in enumerate(classes)
    }
    return {
        "accuracy": round(float(np.trace(cm) / total), 4) if total else None,
        "n": total,
        "per_class_accuracy": per_class,
        "support": {c: int(cm[i].sum()) for i, c in enumerate(classes)},
        "confusion": cm.tolist(),
        "classes": list(classes),
    }


def evaluate_net(
    net: Any, loader: Any, device: Any, cfg: Korean7TrainConfig, mean: Any, std: Any, classes: Sequence[str]
) -> np.ndarray:
    """The confusion matrix of ``net`` over every batch of ``loader``."""
    net.eval()
    cm = np.zeros((len(classes), len(classes)), dtype=np.int64)
    amp = device.type == "cuda" and cfg.amp
    with torch.no_grad():
        for x, y in loader:
            x = device_augment(x.to(device, non_blocking=True), False, cfg.image_size, 0.0, mean, std, None)
            if device.type == "cuda" and cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                pred = net(x).argmax(1).cpu().numpy()
            cm += confusion_of(y.numpy(), pred, classes)
    return cm


@dataclass(frozen=True)
class Korean7Model:
    """A loaded seven-class checkpoint, ready to predict."""

    net: Any  # torch.nn.Module in eval mode
    classes: tuple[str, ...]  # what it predicts: the classes its training photos had
    arch: str
    image_size: int
    cache_mode: str  # "crop" or "resize": what the network was trained on
    cache_size: int
    margin: float
    synthetic: bool
    metrics: dict[str, Any]  # validation metrics stored with the checkpoint
    path: str
    absent_classes: tuple[str, ...] = ()  # of the seven, those it never saw (e.g. neutral)


def load_model(path: str | Path, *, device: str = "cpu") -> Korean7Model:
    """Load ``best.pt`` (or any checkpoint written by :func:`~edu_core.korean7.training.train_korean7`)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError("model_missing", f"{path} not found")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise ModelFileError("model_invalid", f"{path}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError("model_invalid", f"{path} is not a Korean-7 checkpoint")
    net = models.build_cnn(state["arch"], len(state["classes"]), pretrained=False)
    net.load_state_dict(state["state_dict"])
    net.to(device).eval()
    return Korean7Model(
        net=net,
        classes=tuple(state["classes"]),
        arch=state["arch"],
        image_size=int(state["image_size"]),
        cache_mode=state.get("cache_mode", "crop"),
        cache_size=int(state.get("cache_size", 256)),
        margin=float(state.get("margin", 0.25)),
        synthetic=bool(state.get("synthetic", False)),
        metrics=dict(state.get("val_metrics", {})),
        path=str(path),
        absent_classes=tuple(state.get("absent_classes", ())),
    )


def evaluate_korean7(
    checkpoint: str | Path | Korean7Model, cache_dir: str | Path, *, split: str = "test", device: str = "cpu"
) -> dict[str, Any]:
    """Accuracy, per-class accuracy and the confusion matrix of a checkpoint on one split."""
    model = checkpoint if isinstance(checkpoint, Korean7Model) else load_model(checkpoint, device=device)
    cache = CropCache(cache_dir)
    if tuple(cache.classes) != model.classes:
        raise Korean7Error("class_mismatch", "the cache and the checkpoint have different classes")
    pos = cache.subset(split)
    if not pos:
        raise Korean7Error("split_empty", f"no {split} images in {cache_dir}")
    dev = next(model.net.parameters()).device
    cfg = Korean7TrainConfig(image_size=model.image_size, batch_size=64, workers=0, amp=dev.type == "cuda")
    mean, std = norm_tensors(model.arch, dev)
    cm = evaluate_net(
        model.net,
        make_loader(BatchDataset(cache, pos), cfg, shuffle=False),
        dev,
        cfg,
        mean,
        std,
        model.classes,
    )
    result = metrics_from_confusion(cm, model.classes)
    result.update(
        {"split": split, "synthetic": cache.synthetic, "checkpoint": model.path, "cache_mode": cache.mode}
    )
    return result


@dataclass(frozen=True)
class Korean7Prediction:
    """A probability per class the model knows, for one photo, or why no face could be used."""

    status: str  # "ok" or "rejected"
    probabilities: dict[str, float] = field(default_factory=dict)  # class id -> 0..1
    label: str | None = None
    reason: str | None = None  # a face-engine reason code when rejected
    crop: np.ndarray | None = None  # what the network saw (before resizing)


def predict_crops(model: Korean7Model, crops: np.ndarray) -> np.ndarray:
    """Class probabilities (n, len(model.classes)) for uint8 crops (n, H, W, 3) prepared like the cache."""
    dev = next(model.net.parameters()).device
    mean, std = norm_tensors(model.arch, dev)
    x = torch.from_numpy(np.ascontiguousarray(crops)).to(dev)
    with torch.no_grad():
        x = device_augment(x, False, model.image_size, 0.0, mean, std, None)
        return torch.softmax(model.net(x).float(), dim=1).cpu().numpy()


def predict_korean7(
    model: Korean7Model, data: bytes | str | Path, *, landmarker: Any = None
) -> Korean7Prediction:
    """Predict one photo: cut the face like the cache did, then run the network."""
    if model.cache_mode == "resize":
        try:
            img = decode(data, max_side=model.cache_size)
        except ImageError as exc:
            return Korean7Prediction(status="rejected", reason=exc.code)
        crop = np.asarray(
            Image.fromarray(img.rgb).resize((model.cache_size, model.cache_size), Image.Resampling.BILINEAR)
        )
    else:
        face = extract(
            data, CropConfig(crop_size=model.cache_size, margin=model.margin), landmarker=landmarker
        )
        if not face.ok or face.crop is None:
            return Korean7Prediction(status="rejected", reason=face.reason)
        crop = face.crop
    probs = predict_crops(model, crop[None])[0]
    result = {c: round(float(p), 4) for c, p in zip(model.classes, probs, strict=True)}
    return Korean7Prediction(
        status="ok", probabilities=result, label=model.classes[int(np.argmax(probs))], crop=crop
    )


def model_report(model: Korean7Model | str | Path) -> dict[str, Any]:
    """What the page shows about a checkpoint: accuracy, per-class accuracy, confusion matrix.

    Prefers the test-set metrics written next to the checkpoint (``metrics.json``) and falls
    back to the validation metrics stored inside it.
    """
    m = model if isinstance(model, Korean7Model) else load_model(model)
    metrics_path = Path(m.path).with_name("metrics.json")
    if metrics_path.is_file():
        data = json.loads(metrics_path.read_text(encoding="utf-8"))
        data.setdefault("split", "test")
    else:
        data = dict(m.metrics, split="val")
    data["synthetic"] = m.synthetic
    data["arch"] = m.arch
    data["cache_mode"] = m.cache_mode
    data["korean_names"] = {c: KOREAN7_NAMES[c] for c in m.classes}
    data["absent_classes"] = [c for c in KOREAN7_CLASSES if c not in m.classes]
    leak_path = Path(m.path).with_name("leak.json")
    if leak_path.is_file():  # written by the identity-leak comparison (edu_core.korean7.leak)
        data["leak"] = json.loads(leak_path.read_text(encoding="utf-8"))
    return data
