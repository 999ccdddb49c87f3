"""The training run's settings, and how crops get from the cache to the network.

The loader only copies uint8 bytes (whole batches, one fancy-index each); every augmentation
happens on the device in one pass (:func:`device_augment`), which is what keeps a GPU busy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from edu_core.korean7.cache import CropCache
from edu_core.models import IMAGENET_MEAN, IMAGENET_STD


@dataclass(frozen=True)
class Korean7TrainConfig:
    """A training run. Defaults follow the paper (Adam, Random Erasing, up to 150 epochs)."""

    arch: str = "resnet18"  # or "efficientnet_lite0"
    epochs: int = 150
    batch_size: int = 128  # per process
    lr: float = 3e-4
    weight_decay: float = 1e-4
    image_size: int = 224
    pretrained: str = "auto"  # "auto": ImageNet weights when on this machine; "yes"; "no"
    random_erasing: float = 0.5  # probability per image
    patience: int = 30  # stop after this many epochs without a better validation accuracy
    workers: int = 4  # DataLoader processes
    seed: int = 0
    amp: bool = True  # CUDA only
    channels_last: bool = True  # CUDA only
    resume: bool = True
    device: str = "auto"
    limit_train: int | None = None  # tiny runs: first N training images only
    # CPU runs only: torch threads during training (restored afterwards). On a busy shared CPU,
    # 1 thread avoids OpenMP oversubscription and was 8x faster in our measurements.
    cpu_threads: int | None = None
    log_every: int = 0  # batches between progress callbacks (0 = per epoch only)
    # "full": fine-tune every layer (the paper; GPU). "head": keep the ImageNet backbone frozen,
    # embed every crop once and train only the last layer, full-batch: on a CPU that learns in
    # seconds where fine-tuning needs minutes per epoch (the demo's default, see build_demo_pipeline).
    mode: str = "full"


class BatchDataset:
    """Hands whole batches of uint8 crops to the DataLoader (one fancy-index per batch)."""

    def __init__(self, cache: CropCache, positions: Sequence[int]) -> None:
        self.cache = cache
        self.positions = list(positions)
        self.labels = cache.labels(self.positions)

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        return self.__getitems__([i])

    def __getitems__(self, idx: Sequence[int]) -> tuple[Any, Any]:
        """One batch: (uint8 NHWC crops, int64 labels), one fancy-index into the shards."""
        pos = [self.positions[i] for i in idx]
        x = torch.from_numpy(self.cache.images(pos))
        y = torch.from_numpy(self.labels[list(idx)])
        return x, y


def _passthrough(batch: Any) -> Any:
    # the dataset hands out whole batches already; a module-level function pickles for workers
    return batch


def device_augment(x: Any, train: bool, size: int, erasing: float, mean: Any, std: Any, gen: Any) -> Any:
    """uint8 NHWC batch on the device -> normalised NCHW float batch, augmented when training.

    All augmentation happens on the device in one pass (random scale/shift/flip/rotation via
    one affine grid per batch, then per-image Random Erasing), so the loader only copies bytes.
    """
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    n = x.shape[0]
    if train:
        dev = x.device
        scale = torch.empty(n, device=dev).uniform_(0.85, 1.0, generator=gen)
        angle = torch.empty(n, device=dev).uniform_(-0.17, 0.17, generator=gen)  # about 10 degrees
        flip = (torch.rand(n, device=dev, generator=gen) < 0.5).float() * 2 - 1
        shift = torch.empty(n, 2, device=dev).uniform_(-0.06, 0.06, generator=gen)
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        theta = torch.stack(
            [torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)],
            1,
        )
        grid = F.affine_grid(theta, [n, 3, size, size], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    elif x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    x = (x - mean) / std
    if train and erasing > 0:
        dev = x.device
        area = torch.empty(n, device=dev).uniform_(0.02, 0.25, generator=gen) * size * size
        log_r = torch.empty(n, device=dev).uniform_(math.log(0.3), math.log(3.3), generator=gen)
        ratio = torch.exp(log_r)
        eh = torch.sqrt(area * ratio).clamp(1, size - 1)
        ew = torch.sqrt(area / ratio).clamp(1, size - 1)
        y0 = torch.rand(n, device=dev, generator=gen) * (size - eh)
        x0 = torch.rand(n, device=dev, generator=gen) * (size - ew)
        on = torch.rand(n, device=dev, generator=gen) < erasing
        ar = torch.arange(size, device=dev, dtype=torch.float32)
        rows = (ar[None, :] >= y0[:, None]) & (ar[None, :] < (y0 + eh)[:, None])
        cols = (ar[None, :] >= x0[:, None]) & (ar[None, :] < (x0 + ew)[:, None])
        mask = (rows[:, :, None] & cols[:, None, :] & on[:, None, None])[:, None]
        noise = torch.randn(x.shape, device=dev, generator=gen, dtype=x.dtype)
        x = torch.where(mask, noise, x)
    return x


def normalisation(arch: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel that ``arch``'s ImageNet weights expect (both nets: ImageNet's)."""
    return IMAGENET_MEAN, IMAGENET_STD


def norm_tensors(arch: str, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`normalisation` as (1, 3, 1, 1) tensors on ``device``."""
    mean, std = (torch.tensor(v, device=device).view(1, 3, 1, 1) for v in normalisation(arch))
    return mean, std


def make_loader(
    ds: BatchDataset, cfg: Korean7TrainConfig, *, shuffle: bool, sampler: Any = None, device: Any = None
) -> Any:
    """A DataLoader of whole uint8 batches (workers only when there is more than one batch)."""
    gen = torch.Generator()
    gen.manual_seed(cfg.seed)
    workers = cfg.workers if len(ds) > cfg.batch_size else 0
    return torch.utils.data.DataLoader(
        ds,
        batch_size=cfg.batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        num_workers=workers,
        collate_fn=_passthrough,
        pin_memory=device is not None and device.type == "cuda",
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
        generator=gen,
        drop_last=False,
    )
