"""Whole runs in one call: the synthetic demo (generate, prepare, train), a teacher's own folder
(prepare, train, the identity-leak comparison) and the paper's table (the same network on whole
photos resized vs face crops)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from edu_core import models
from edu_core.korean7.base import PAPER_RESULTS
from edu_core.korean7.cache import CropCache, PrepareConfig
from edu_core.korean7.data import Korean7TrainConfig
from edu_core.korean7.demo import write_demo_set
from edu_core.korean7.layout import import_dataset
from edu_core.korean7.leak import leak_comparison
from edu_core.korean7.prepare import prepare
from edu_core.korean7.training import train_korean7


@dataclass(frozen=True)
class DemoPipelineResult:
    """Where the demo pipeline put things, and what it measured. Always synthetic."""

    dataset_dir: str
    cache_dir: str
    model_dir: str
    checkpoint: str
    prepare: dict[str, Any]
    metrics: dict[str, Any]
    synthetic: bool = True


#: Demo defaults, measured on this project's 2-core CPU (README): photos per class, the frozen
#: head's full-batch epochs, learning rate and weight decay.
DEMO_PER_CLASS = 40
DEMO_HEAD_EPOCHS = 100
DEMO_HEAD_LR = 3e-3
DEMO_HEAD_WEIGHT_DECAY = 1e-2


def build_demo_pipeline(
    workdir: str | Path,
    per_class: int = DEMO_PER_CLASS,
    progress: Callable[[str, float], None] | None = None,
    *,
    seed: int = 0,
    arch: str = "efficientnet_lite0",
    epochs: int = DEMO_HEAD_EPOCHS,
    long_side: int = 480,
    image_size: int = 128,
    crop_source: str = "engine",
    cpu_threads: int | None = None,
    mode: str = "auto",
    lr: float | None = None,
) -> DemoPipelineResult:
    """Generate the synthetic demo set, import it, cache the crops and train a small model.

    ``progress(stage, fraction)`` with stage in generate / prepare / train. Re-running with the
    same ``workdir`` reuses what is already there (generation and crops are resumable).
    The result is labelled synthetic: it says nothing about accuracy on real faces.

    ``mode="auto"`` trains only the last layer on a frozen ImageNet backbone ("head") when the
    weights of ``arch`` are on this machine, else fine-tunes everything ("full"): on a CPU,
    8 epochs of fine-tuning 20 photos per class took minutes and ended below chance, while
    the frozen head learns in seconds (README: figures).
    """
    if mode == "auto":
        mode = "head" if models.pretrained_weights_path(arch) is not None else "full"
    work = Path(workdir)
    data_dir, cache_dir, model_dir = work / "aihub_demo", work / "cache", work / "model"
    if not (data_dir / "DEMO_README.txt").is_file():
        if data_dir.exists():
            shutil.rmtree(data_dir)  # an interrupted generation; start it again
        write_demo_set(
            data_dir,
            per_class,
            seed,
            long_side=long_side,
            progress=(lambda d, t: progress("generate", d / t)) if progress else None,
        )
    summary = prepare(
        data_dir,
        cache_dir,
        PrepareConfig(per_class=None, crop_source=crop_source, seed=seed, workers=2, shard_size=256),
        progress=(lambda d, t, _s: progress("prepare", d / max(t, 1))) if progress else None,
    )
    cfg = Korean7TrainConfig(
        arch=arch,
        epochs=epochs,
        batch_size=32,
        lr=lr if lr is not None else (DEMO_HEAD_LR if mode == "head" else Korean7TrainConfig.lr),
        weight_decay=DEMO_HEAD_WEIGHT_DECAY if mode == "head" else Korean7TrainConfig.weight_decay,
        image_size=image_size,
        workers=0,
        seed=seed,
        patience=epochs,
        cpu_threads=cpu_threads,
        mode=mode,
    )
    metrics = train_korean7(
        cache_dir,
        model_dir,
        cfg,
        on_epoch_end=(lambda info: progress("train", (info["epoch"] + 1) / epochs) and None)
        if progress
        else None,
    )
    return DemoPipelineResult(
        dataset_dir=str(data_dir),
        cache_dir=str(cache_dir),
        model_dir=str(model_dir),
        checkpoint=str(model_dir / "best.pt"),
        prepare=asdict(summary),
        metrics=metrics,
    )


def compare_preprocessing(
    root: str | Path,
    workdir: str | Path,
    prep: PrepareConfig = PrepareConfig(),
    train_cfg: Korean7TrainConfig = Korean7TrainConfig(),
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """The paper's table on this data: the same network trained on whole photos resized vs face crops.

    Both caches hold the same photos with the same split. Returns our accuracies next to the
    paper's numbers (which were measured on the real data set).
    """
    work = Path(workdir)
    imported = import_dataset(root)
    crop_dir, resize_dir = work / "cache_crop", work / "cache_resize"
    prepare(
        imported,
        crop_dir,
        replace(prep, mode="crop"),
        progress=(lambda d, t, s: progress("prepare_crop", d / max(t, 1))) if progress else None,
    )
    prepare(
        imported,
        resize_dir,
        replace(prep, mode="resize"),
        same_as=crop_dir,
        progress=(lambda d, t, s: progress("prepare_resize", d / max(t, 1))) if progress else None,
    )
    rows = {}
    for name, cache in (("resize", resize_dir), ("face_crop", crop_dir)):
        m = train_korean7(cache, work / f"model_{name}", train_cfg)
        rows[name] = {
            "accuracy": m["accuracy"],
            "per_class_accuracy": m["per_class_accuracy"],
            "n_test": m["n"],
        }
        if progress:
            progress(f"train_{name}", 1.0)
    return {
        "arch": train_cfg.arch,
        "ours": rows,
        "paper": PAPER_RESULTS,
        "synthetic": CropCache(crop_dir).synthetic,
        "note": "paper numbers: real AI Hub data, 49,000 images; ours: this data set and these settings",
    }


@dataclass(frozen=True)
class FolderRunResult:
    """Where :func:`train_on_folder` put things, and what it measured."""

    cache_dir: str
    model_dir: str
    checkpoint: str
    prepare: dict[str, Any]
    metrics: dict[str, Any]  # the test on new people (person-disjoint)
    leak: dict[str, Any] | None  # the identity-leak comparison, when asked for


def train_on_folder(
    root: str | Path,
    workdir: str | Path,
    prep: PrepareConfig,
    cfg: Korean7TrainConfig,
    *,
    leak: bool = True,
    progress: Callable[[str, float], None] | None = None,
) -> FolderRunResult:
    """A teacher's data set (AI Hub layout or face crops) -> crop cache -> trained model.

    With ``leak`` the model is trained by :func:`leak_comparison`: one photo of some training
    people is held out, so the same checkpoint is also measured on people it has seen.
    ``progress(stage, fraction)`` with stage in prepare / train. Re-running resumes the cache.
    """
    work = Path(workdir)
    summary = prepare(
        import_dataset(root),
        work / "cache",
        prep,
        progress=(lambda d, t, _s: progress("prepare", d / max(t, 1))) if progress else None,
    )
    hook = (
        (lambda info: progress("train", (info["epoch"] + 1) / max(cfg.epochs, 1)) and None)
        if progress
        else None
    )
    result = None
    if leak:
        result = leak_comparison(work / "cache", work / "leak", cfg, on_epoch_end=hook)
        model_dir = work / "leak" / "model"
        metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    else:
        model_dir = work / "model"
        metrics = train_korean7(work / "cache", model_dir, cfg, on_epoch_end=hook)
    return FolderRunResult(
        cache_dir=str(work / "cache"),
        model_dir=str(model_dir),
        checkpoint=str(model_dir / "best.pt"),
        prepare=asdict(summary),
        metrics=metrics,
        leak=result,
    )
