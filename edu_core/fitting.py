"""The two ways of fitting a model: the head on cached inputs, or every layer on augmented crops.

Both report each epoch through ``on_epoch_end``, keep the best validation epoch (accuracy
first, then loss), stop early after ``cfg.patience`` epochs without improvement and raise
:class:`~edu_core.trainconfig.TrainingCancelled` as soon as ``cancel`` is set.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.transforms import v2

from edu_core.embeddings import embed_crops
from edu_core.models import ExpressionModel, normalize_images
from edu_core.trainconfig import EpochCallback, TrainConfig, TrainingCancelled

History = tuple[list[dict[str, float]], int, bool]  # (one dict per epoch, best epoch, stopped early)


@dataclass(frozen=True)
class FitRun:
    """What one fitting pass trains on and how, besides the model and its inputs.

    ``y`` holds every face's class index; ``train_idx`` and ``val_idx`` pick the faces of each
    side (``val_idx`` may be empty). ``gen`` draws the head's start, the batches and the views.
    """

    y: torch.Tensor
    train_idx: list[int]
    val_idx: list[int]
    cfg: TrainConfig
    gen: torch.Generator
    weight: torch.Tensor | None = None  # class weights of the loss, None for plain cross-entropy
    on_epoch_end: EpochCallback | None = None
    cancel: threading.Event | None = None


def class_weights(y: Sequence[int], num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights (mean 1 over the present classes)."""
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=num_classes).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max((counts > 0).sum(), 1), 0.0)
    return torch.tensor(w, dtype=torch.float32)


def make_augmenter(image_size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Per-image augmentation of a 0..1 float batch: flip, rotate/scale, colour, erasing."""

    tf = v2.Compose(
        [
            v2.RandomHorizontalFlip(),
            v2.RandomAffine(degrees=10, translate=(0.05, 0.05), scale=(0.9, 1.1)),
            v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.2, hue=0.02),
            v2.RandomErasing(p=0.25, scale=(0.02, 0.12), value=0.5),
        ]
    )

    def augment(x: torch.Tensor) -> torch.Tensor:
        return torch.stack([tf(img) for img in x])

    return augment


def _metrics(logits: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None) -> tuple[float, float]:
    if len(y) == 0:
        return float("nan"), float("nan")
    loss = nn.functional.cross_entropy(logits.float(), y, weight=weight)
    acc = (logits.argmax(1) == y).float().mean()
    return float(loss), float(acc)


def _better(val_loss: float, val_acc: float, best: tuple[float, float] | None) -> bool:
    # accuracy first (what students see), then loss to break the many ties of small sets
    return best is None or val_acc > best[0] or (val_acc == best[0] and val_loss < best[1] - 1e-6)


def fit_head(
    model: ExpressionModel,
    emb: dict[str, torch.Tensor | None],
    feats: torch.Tensor | None,
    run: FitRun,
    *,
    epochs: int,
    select_best: bool,
) -> History:
    """Train the head on cached inputs (``emb["plain"]``/``["mirrored"]`` embeddings, pieces ``feats``).

    With ``select_best`` the best validation epoch's head is kept and ``cfg.patience`` stops
    early; without it every one of ``epochs`` epochs is trained. Returns
    (history, best_epoch, stopped_early).
    """
    y, train_idx, val_idx, cfg, gen, weight = run.y, run.train_idx, run.val_idx, run.cfg, run.gen, run.weight
    on_epoch_end, cancel = run.on_epoch_end, run.cancel
    params = model.head_parameters()
    reset_head(model, gen)
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    tr = torch.tensor(train_idx, dtype=torch.long)
    va = torch.tensor(val_idx, dtype=torch.long)
    views = [v for v in (emb.get("plain"), emb.get("mirrored")) if v is not None]

    def inputs(idx: torch.Tensor, view: torch.Tensor | None) -> torch.Tensor:
        e = view[idx] if view is not None else None
        f = feats[idx] if feats is not None else None
        return model.logits_from_embedding(e, f)

    history: list[dict[str, float]] = []
    best: tuple[float, float] | None = None
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch, since_best, stopped = 0, 0, False
    bs = int(cfg.batch_size or 4096)
    for epoch in range(1, epochs + 1):
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled()
        model.train()
        perm = tr[torch.randperm(len(tr), generator=gen)]
        for start in range(0, len(perm), bs):
            idx = perm[start : start + bs]
            if views:
                # mirrored photos are a free augmentation: pick a view per image
                pick = torch.randint(len(views), (len(idx),), generator=gen)
                view = torch.where(pick[:, None] == 0, views[0][idx], views[-1][idx])
                e = view
            else:
                e = None
            f = feats[idx] if feats is not None else None
            logits = model.logits_from_embedding(e, f)
            loss = nn.functional.cross_entropy(logits, y[idx], weight=weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            plain = views[0] if views else None
            t_loss, t_acc = _metrics(inputs(tr, plain), y[tr], weight)
            v_loss, v_acc = _metrics(inputs(va, plain), y[va], None) if len(va) else (math.nan, math.nan)
        rec = {"epoch": epoch, "loss": t_loss, "acc": t_acc, "val_loss": v_loss, "val_acc": v_acc}
        history.append(rec)
        if on_epoch_end is not None:
            on_epoch_end(epoch, dict(rec))
        if select_best and len(va):
            if _better(v_loss, v_acc, best):
                best, best_epoch, since_best = (v_acc, v_loss), epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items() if _is_head_key(k)}
            else:
                since_best += 1
                if cfg.patience and since_best >= cfg.patience:
                    stopped = True
                    break
        else:
            best_epoch = epoch
    if best_state is not None:
        model.load_state_dict(best_state, strict=False)
    return history, best_epoch, stopped


def _is_head_key(key: str) -> bool:
    return key.startswith(("pieces.", "cnn._fc.", "head.", "pieces_norm.", "emb_norm."))


def reset_head(model: ExpressionModel, gen: torch.Generator) -> None:
    """Fresh random head weights (uniform ±1/sqrt(fan-in)), drawn from ``gen`` for repeatable runs."""
    for p in model.head_parameters():
        if p.dim() > 1:
            bound = 1.0 / math.sqrt(p.shape[1])
            nn.init.uniform_(p, -bound, bound, generator=gen)
        else:
            nn.init.zeros_(p)


def full_finetune(
    model: ExpressionModel,
    crops: torch.Tensor,
    feats: torch.Tensor | None,
    run: FitRun,
    *,
    device: torch.device,
) -> History:
    """Fine-tune every layer on augmented crops (uint8 (n, 3, S, S) tensor on CPU) for ``cfg.epochs``."""
    y, train_idx, val_idx, cfg, gen, weight = run.y, run.train_idx, run.val_idx, run.cfg, run.gen, run.weight
    on_epoch_end, cancel = run.on_epoch_end, run.cancel
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    head = set(id(p) for p in model.head_parameters())
    backbone = [p for p in model.parameters() if id(p) not in head]
    # the new head starts from random numbers; let it move faster than the pretrained body
    opt = torch.optim.AdamW(
        [
            {"params": backbone, "lr": cfg.lr},
            {"params": model.head_parameters(), "lr": (cfg.lr or 3e-4) * 10},
        ],
        weight_decay=cfg.weight_decay or 0.0,
    )
    use_amp = cfg.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    augment = make_augmenter(cfg.image_size) if cfg.augment else (lambda x: x)
    w_dev = weight.to(device) if weight is not None else None
    bs = int(cfg.batch_size or 32)
    tr = torch.tensor(train_idx, dtype=torch.long)
    va = torch.tensor(val_idx, dtype=torch.long)

    def batch_logits(idx: torch.Tensor, train_mode: bool) -> torch.Tensor:
        x = crops[idx].to(device, non_blocking=True).float().div_(255.0)
        if train_mode:
            x = augment(x)
        x = normalize_images(x)
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        f = feats[idx].to(device) if feats is not None else None
        with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
            return model(x, f)

    def evaluate(idx_all: torch.Tensor) -> tuple[float, float]:
        if len(idx_all) == 0:
            return math.nan, math.nan
        model.eval()
        outs = []
        with torch.no_grad():
            for s in range(0, len(idx_all), 64):
                outs.append(batch_logits(idx_all[s : s + 64], False).float().cpu())
        return _metrics(torch.cat(outs), y[idx_all], weight)

    history: list[dict[str, float]] = []
    best: tuple[float, float] | None = None
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch, since_best, stopped = 0, 0, False
    for epoch in range(1, int(cfg.epochs or 1) + 1):
        model.train()
        perm = tr[torch.randperm(len(tr), generator=gen)]
        run_loss, run_hits, seen = 0.0, 0, 0
        for start in range(0, len(perm), bs):
            if cancel is not None and cancel.is_set():
                raise TrainingCancelled()
            idx = perm[start : start + bs]
            if len(idx) < 2:  # BatchNorm cannot train on a single image
                continue
            logits = batch_logits(idx, True)
            target = y[idx].to(device)
            loss = nn.functional.cross_entropy(logits.float(), target, weight=w_dev)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            run_loss += float(loss.detach()) * len(idx)
            run_hits += int((logits.argmax(1) == target).sum())
            seen += len(idx)
        v_loss, v_acc = evaluate(va)
        rec = {
            "epoch": epoch,
            "loss": run_loss / max(seen, 1),
            "acc": run_hits / max(seen, 1),
            "val_loss": v_loss,
            "val_acc": v_acc,
        }
        history.append(rec)
        if on_epoch_end is not None:
            on_epoch_end(epoch, dict(rec))
        if len(va) == 0 or _better(v_loss, v_acc, best):
            best, best_epoch, since_best = (v_acc, v_loss), epoch, 0
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        else:
            since_best += 1
            if cfg.patience and since_best >= cfg.patience:
                stopped = True
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.to(memory_format=torch.contiguous_format)
    return history, best_epoch, stopped


def resize_crop(crop: np.ndarray, size: int) -> np.ndarray:
    """``crop`` as a ``size`` x ``size`` RGB array (unchanged when it already is)."""
    if crop.shape[0] == size and crop.shape[1] == size:
        return crop
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.BILINEAR))


def fit_norms(
    model: ExpressionModel, emb: torch.Tensor | None, feats: torch.Tensor | None, idx: list[int]
) -> None:
    """Standardise the head's inputs with the statistics of the faces at ``idx``."""
    t = torch.tensor(idx, dtype=torch.long)
    if model.kind == "pieces" and feats is not None:
        model.pieces.norm.fit(feats[t])
    elif model.kind == "combined" and feats is not None and emb is not None:
        model.pieces_norm.fit(feats[t])
        model.emb_norm.fit(emb[t])


def fit_norms_combined_full(
    model: ExpressionModel,
    crops: Sequence[np.ndarray],
    feats: torch.Tensor,
    idx: list[int],
    device: torch.device,
) -> None:
    """Standardise the combined head's inputs with statistics of the pretrained embedding."""
    model.cnn.to(device)
    emb = embed_crops(model, [crops[i] for i in idx], device=device)
    model.pieces_norm.fit(feats[torch.tensor(idx, dtype=torch.long)])
    model.emb_norm.fit(emb)
