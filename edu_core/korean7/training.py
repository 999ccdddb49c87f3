"""Training on the crop cache: fine-tune everything ("full"), or a frozen backbone ("head").

``full`` is the paper's recipe (Adam, Random Erasing, best-validation checkpoint, resume,
AMP + channels-last on CUDA, DDP under ``torchrun``). ``head`` embeds every crop once with
the ImageNet backbone and trains only the last layer, full-batch: on a CPU that learns in
seconds where fine-tuning needs minutes per epoch.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from edu_core import models
from edu_core.fsutil import atomic_write
from edu_core.korean7.base import CHECKPOINT_FORMAT, Korean7Error
from edu_core.korean7.cache import CropCache
from edu_core.korean7.data import BatchDataset, Korean7TrainConfig, device_augment, make_loader, norm_tensors
from edu_core.korean7.evaluation import confusion_of, evaluate_korean7, evaluate_net, metrics_from_confusion

EpochHook = Callable[[dict[str, Any]], bool | None]


@dataclass(frozen=True)
class _Dist:
    world: int
    rank: int
    local_rank: int

    @property
    def main(self) -> bool:
        return self.rank == 0


def _dist_init(device_pref: str) -> tuple[_Dist, Any]:
    """Join a torchrun group when WORLD_SIZE > 1 (env:// init); returns (dist info, device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = torch.cuda.is_available() and device_pref in ("auto", "cuda")
        if use_cuda:
            torch.cuda.set_device(local)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        device = torch.device("cuda", local) if use_cuda else torch.device("cpu")
        return _Dist(world, dist.get_rank(), local), device
    if device_pref == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(device_pref)
    return _Dist(1, 0, 0), device


def _build_net(arch: str, n_classes: int, pretrained: str) -> tuple[Any, bool]:
    if pretrained not in ("auto", "yes", "no"):
        raise ValueError(f"pretrained must be auto, yes or no, not {pretrained!r}")
    use = pretrained == "yes" or (pretrained == "auto" and models.pretrained_weights_path(arch) is not None)
    return models.build_cnn(arch, n_classes, pretrained=use), use


def _save(obj: dict[str, Any], path: Path, *, durable: bool = True) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write(path, buf.getvalue(), durable=durable)


def device_name(device: Any) -> str:
    """The GPU's name, or "cpu"."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"


def train_korean7(
    cache_dir: str | Path,
    out_dir: str | Path,
    cfg: Korean7TrainConfig = Korean7TrainConfig(),
    *,
    on_epoch_end: EpochHook | None = None,
) -> dict[str, Any]:
    """Train on the crop cache; writes ``last.pt``, ``best.pt`` and ``metrics.json`` in ``out_dir``.

    ``on_epoch_end(info)`` gets the epoch's numbers and may return False to stop early.
    Re-running with ``resume=True`` continues from ``last.pt``. Returns the metrics dict.
    Under ``torchrun`` (WORLD_SIZE > 1) every process calls this; rank 0 writes the files.
    """
    if cfg.cpu_threads is None:
        return _train(cache_dir, out_dir, cfg, on_epoch_end)
    before = torch.get_num_threads()
    torch.set_num_threads(cfg.cpu_threads)
    try:
        return _train(cache_dir, out_dir, cfg, on_epoch_end)
    finally:
        torch.set_num_threads(before)


@dataclass
class _Run:
    """What one training run holds between its epochs."""

    cfg: Korean7TrainConfig
    dinfo: _Dist
    device: Any
    cache: CropCache
    out: Path
    net: Any
    used_pretrained: bool
    train_pos: list[int]
    val_pos: list[int]

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def meta(self) -> dict[str, Any]:
        """The checkpoint's description of the model: one dict with weights, config and classes."""
        return {
            "format": CHECKPOINT_FORMAT,
            "version": 1,
            "arch": self.cfg.arch,
            "classes": list(self.cache.classes),
            "absent_classes": list(self.cache.absent_classes),
            "image_size": self.cfg.image_size,
            "cache_mode": self.cache.mode,
            "cache_size": self.cache.size,
            "margin": float(self.cache.index.get("margin", 0.25)),
            "synthetic": self.cache.synthetic,
            "pretrained": self.used_pretrained,
            "config": asdict(self.cfg),
        }


def _setup(cache_dir: str | Path, out_dir: str | Path, cfg: Korean7TrainConfig) -> _Run:
    if cfg.mode not in ("full", "head"):
        raise ValueError(f"mode must be full or head, not {cfg.mode!r}")
    dinfo, device = _dist_init(cfg.device)
    out = Path(out_dir)
    if dinfo.main:
        out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed + dinfo.rank)
    cache = CropCache(cache_dir)
    train_pos = cache.subset("train")
    val_pos = cache.subset("val") or cache.subset("test")
    if cfg.limit_train:
        train_pos = train_pos[: cfg.limit_train]
    if not train_pos or not val_pos:
        raise Korean7Error(
            "split_empty", f"{cache_dir} has {len(train_pos)} training and {len(val_pos)} validation images"
        )
    net, used = _build_net(cfg.arch, len(cache.classes), cfg.pretrained)
    if cfg.mode == "head" and not used:
        raise Korean7Error("weights_missing", f"no offline ImageNet weights for {cfg.arch} to keep frozen")
    net = net.to(device)
    if device.type == "cuda":
        if cfg.channels_last:
            net = net.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return _Run(cfg, dinfo, device, cache, out, net, used, train_pos, val_pos)


def _train(
    cache_dir: str | Path, out_dir: str | Path, cfg: Korean7TrainConfig, hook: EpochHook | None
) -> dict:
    run = _setup(cache_dir, out_dir, cfg)
    if cfg.mode == "head":
        history, best_acc, best_epoch = _train_head(run, hook)
        use_amp = False
    else:
        history, best_acc, best_epoch, use_amp = _train_full(run, hook)
    metrics: dict[str, Any] = {}
    if run.dinfo.main:
        metrics = _final_metrics(run, history, best_acc, best_epoch, use_amp)
        atomic_write(run.out / "metrics.json", json.dumps(metrics, ensure_ascii=False, indent=1))
    if run.dinfo.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return metrics


def _final_metrics(run: _Run, history: list[dict], best_acc: float, best_epoch: int, use_amp: bool) -> dict:
    split = "test" if run.cache.subset("test") else "val"
    metrics = evaluate_korean7(run.out / "best.pt", run.cache.dir, split=split, device=str(run.device))
    epochs_run = [h for h in history if h.get("images_per_second")]
    ips = [h["images_per_second"] for h in epochs_run[1:]] or [h["images_per_second"] for h in epochs_run]
    metrics.update(
        {
            "arch": run.cfg.arch,
            "pretrained": run.used_pretrained,
            "epochs_run": len(history),
            "best_epoch": best_epoch,
            "best_val_acc": round(best_acc, 4),
            "history": history,
            "train_images": len(run.train_pos),
            "images_per_second": round(float(np.median(ips)), 1) if ips else None,
            "device": device_name(run.device),
            "world_size": run.dinfo.world,
            "amp": use_amp,
            "synthetic": run.cache.synthetic,
            "cache_mode": run.cache.mode,
            "mode": run.cfg.mode,
        }
    )
    return metrics


def _epoch(
    run: _Run, model: Any, loader: Any, optim: Any, scaler: Any, amp: tuple[bool, Any], aug: tuple
) -> dict:
    """One pass over the training photos; returns the epoch's loss, accuracy and speed."""
    use_amp, amp_dtype = amp
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    seen, loss_sum, correct = 0, 0.0, 0
    for x, y in loader:
        x = x.to(run.device, non_blocking=True)
        y = y.to(run.device, non_blocking=True)
        x = device_augment(x, True, run.cfg.image_size, run.cfg.random_erasing, *aug)
        if run.cuda and run.cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(run.device.type, dtype=amp_dtype, enabled=use_amp):
            logits = model(x)
            loss = loss_fn(logits, y)
        optim.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optim)
        scaler.update()
        seen += y.shape[0]
        loss_sum += float(loss.detach()) * y.shape[0]
        correct += int((logits.detach().argmax(1) == y).sum())
    if run.cuda:
        torch.cuda.synchronize()
    train_s = time.perf_counter() - t0
    return {
        "train_loss": round(loss_sum / max(seen, 1), 4),
        "train_acc": round(correct / max(seen, 1), 4),
        "train_seconds": round(train_s, 3),
        "images_per_second": round(seen * run.dinfo.world / train_s, 1) if train_s > 0 else None,
    }


def _resume(run: _Run, optim: Any, sched: Any, scaler: Any) -> tuple[int, float, int, list[dict]]:
    """(start epoch, best val acc, best epoch, history) from ``last.pt``, or a fresh start."""
    last_path = run.out / "last.pt"
    if not (run.cfg.resume and last_path.is_file()):
        return 0, -1.0, -1, []
    state = torch.load(last_path, map_location=run.device, weights_only=True)
    if state.get("arch") != run.cfg.arch:
        raise Korean7Error("resume_mismatch", f"{last_path} holds {state.get('arch')}, not {run.cfg.arch}")
    run.net.load_state_dict(state["state_dict"])
    optim.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    history = list(state.get("history", []))
    return int(state["epoch"]) + 1, float(state["best_val_acc"]), int(state["best_epoch"]), history


def _train_full(run: _Run, hook: EpochHook | None) -> tuple[list[dict], float, int, bool]:
    """Fine-tune every layer; returns (history, best val acc, best epoch, whether AMP was on)."""
    cfg, device = run.cfg, run.device
    optim = torch.optim.Adam(run.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, T_max=max(1, cfg.epochs))
    # bf16 autocast needs no loss scaling; fp16 (older GPUs) does.
    amp_dtype = torch.bfloat16 if run.cuda and torch.cuda.is_bf16_supported() else torch.float16
    use_amp = run.cuda and cfg.amp
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    start_epoch, best_acc, best_epoch, history = _resume(run, optim, sched, scaler)
    model: Any = run.net
    if run.dinfo.world > 1:
        model = nn.parallel.DistributedDataParallel(run.net, device_ids=[device.index] if run.cuda else None)
    train_ds, val_ds = BatchDataset(run.cache, run.train_pos), BatchDataset(run.cache, run.val_pos)
    sampler = None
    if run.dinfo.world > 1:
        sampler = torch.utils.data.distributed.DistributedSampler(
            train_ds, num_replicas=run.dinfo.world, rank=run.dinfo.rank, shuffle=True, seed=cfg.seed
        )
    train_loader = make_loader(train_ds, cfg, shuffle=True, sampler=sampler, device=device)
    val_loader = make_loader(val_ds, cfg, shuffle=False, device=device)
    mean_t, std_t = norm_tensors(cfg.arch, device)
    gen = torch.Generator(device=device)
    gen.manual_seed(cfg.seed * 1000 + run.dinfo.rank + start_epoch)
    meta = run.meta()
    for epoch in range(start_epoch, cfg.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        info: dict[str, Any] = {"epoch": epoch}
        info |= _epoch(run, model, train_loader, optim, scaler, (use_amp, amp_dtype), (mean_t, std_t, gen))
        sched.step()
        flag = torch.zeros(1, device=device)
        if run.dinfo.main:
            cm = evaluate_net(run.net, val_loader, device, cfg, mean_t, std_t, run.cache.classes)
            val = metrics_from_confusion(cm, run.cache.classes)
            info["val_acc"] = val["accuracy"]
            history.append(info)
            improved = (val["accuracy"] or 0.0) > best_acc
            if improved:
                best_acc, best_epoch = float(val["accuracy"] or 0.0), epoch
            state = {**meta, "epoch": epoch, "best_val_acc": best_acc, "best_epoch": best_epoch}
            state |= {"history": history, "state_dict": run.net.state_dict()}
            if improved:
                _save({**state, "val_metrics": val}, run.out / "best.pt")
            full = {**state, "optimizer": optim.state_dict(), "scheduler": sched.state_dict()}
            # last.pt is rewritten every epoch and only serves a resume: no fsync
            _save({**full, "scaler": scaler.state_dict()}, run.out / "last.pt", durable=False)
            stop = hook is not None and hook(dict(info, best_val_acc=best_acc)) is False
            flag[0] = float(stop or epoch - best_epoch >= cfg.patience)
        if run.dinfo.world > 1:
            dist.broadcast(flag, src=0)
        if bool(flag.item()):
            break
    return history, best_acc, best_epoch, use_amp


def _embed(run: _Run, positions: Sequence[int], mirrored: bool) -> torch.Tensor:
    mean_t, std_t = norm_tensors(run.cfg.arch, run.device)
    out = []
    with torch.no_grad():
        for s in range(0, len(positions), 32):
            x = torch.from_numpy(run.cache.images(positions[s : s + 32])).to(run.device)
            x = device_augment(x, False, run.cfg.image_size, 0.0, mean_t, std_t, None)
            out.append(run.net.embed(x.flip(3) if mirrored else x).float())
    return torch.cat(out)


def _fold_head(run: _Run, head: nn.Linear, mu: torch.Tensor, sd: torch.Tensor) -> None:
    """Copy the trained layer into the net's own, folding the standardisation into it."""
    fc = run.net._fc
    with torch.no_grad():
        # z = (e - mu) / sd  =>  W z + b = (W / sd) e + (b - W (mu / sd))
        fc.weight.copy_(head.weight / sd)
        fc.bias.copy_(head.bias - (head.weight * (mu / sd)).sum(1))


def _train_head(run: _Run, hook: EpochHook | None) -> tuple[list[dict[str, Any]], float, int]:
    """Frozen ImageNet backbone, trained last layer: returns (history, best_val_acc, best_epoch).

    Every crop is embedded once (plus its mirror image, a free augmentation); the epochs then
    train only the linear layer on those vectors, full-batch. The standardisation of the
    vectors is folded into the layer, so ``best.pt`` is an ordinary checkpoint of the whole net.
    """
    cfg, device, classes = run.cfg, run.device, run.cache.classes
    run.net.eval()
    train_y = torch.from_numpy(run.cache.labels(run.train_pos)).to(device)
    val_y = torch.from_numpy(run.cache.labels(run.val_pos)).to(device)
    t0 = time.perf_counter()
    x_train = torch.cat([_embed(run, run.train_pos, False), _embed(run, run.train_pos, True)])
    y_train = torch.cat([train_y, train_y])
    x_val = _embed(run, run.val_pos, False)
    embed_s = time.perf_counter() - t0
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    z_train, z_val = (x_train - mu) / sd, (x_val - mu) / sd
    gen = torch.Generator().manual_seed(cfg.seed)
    head = nn.Linear(z_train.shape[1], len(classes)).to(device)
    with torch.no_grad():
        bound = 1.0 / math.sqrt(z_train.shape[1])
        head.weight.copy_(torch.empty(head.weight.shape).uniform_(-bound, bound, generator=gen))
        head.bias.zero_()
    optim = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    history: list[dict[str, Any]] = []
    best_acc, best_epoch = -1.0, -1
    meta = run.meta()
    for epoch in range(cfg.epochs):
        t1 = time.perf_counter()
        head.train()
        logits = head(z_train)
        loss = nn.functional.cross_entropy(logits, y_train)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        with torch.no_grad():
            val_pred = head(z_val).argmax(1)
        val_acc = float((val_pred == val_y).float().mean())
        seconds = time.perf_counter() - t1 + (embed_s if epoch == 0 else 0.0)
        info: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": round(float(loss.detach()), 4),
            "train_acc": round(float((logits.detach().argmax(1) == y_train).float().mean()), 4),
            "train_seconds": round(seconds, 3),
            "images_per_second": round(len(run.train_pos) / seconds, 1) if seconds > 0 else None,
            "val_acc": round(val_acc, 4),
        }
        history.append(info)
        if val_acc > best_acc:
            best_acc, best_epoch = val_acc, epoch
            _fold_head(run, head, mu, sd)
            state = {**meta, "epoch": epoch, "best_val_acc": best_acc, "best_epoch": best_epoch}
            state |= {"history": history, "state_dict": run.net.state_dict()}
            # the checkpoint's numbers are those of the best epoch, like a fine-tuned one's
            cm = confusion_of(val_y.cpu().numpy(), val_pred.cpu().numpy(), classes)
            _save({**state, "val_metrics": metrics_from_confusion(cm, classes)}, run.out / "best.pt")
        if hook is not None and hook(dict(info, best_val_acc=best_acc)) is False:
            break
        if epoch - best_epoch >= cfg.patience:
            break
    return history, best_acc, best_epoch
