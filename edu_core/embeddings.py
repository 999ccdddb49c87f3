"""Frozen-backbone CNN embeddings of face crops, computed once and cached by crop content.

Head-only training, the detective's k-fold models and re-testing a head-only model all reuse
them, so each crop goes through the backbone once per architecture and image size.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

import numpy as np
import torch

from edu_core.models import ExpressionModel, crops_to_tensor
from edu_core.trainconfig import TrainingCancelled


class EmbeddingCache:
    """Frozen-backbone embeddings per (arch, image size, crop content, mirrored).

    Thread-safe and bounded; the app may keep one per session (or one shared: it
    stores only feature vectors keyed by a hash, never the photos).
    """

    def __init__(self, max_items: int = 20_000) -> None:
        self._data: dict[tuple[str, int, str, bool], np.ndarray] = {}
        self._lock = threading.Lock()
        self.max_items = max_items

    def __len__(self) -> int:
        return len(self._data)

    @staticmethod
    def key_of(crop: np.ndarray) -> str:
        """The content hash that names ``crop`` in the cache keys."""
        return hashlib.sha1(np.ascontiguousarray(crop).tobytes()).hexdigest()

    def get(self, key: tuple[str, int, str, bool]) -> np.ndarray | None:
        """The embedding stored under (arch, image size, crop hash, mirrored), or None."""
        with self._lock:
            return self._data.get(key)

    def put(self, key: tuple[str, int, str, bool], value: np.ndarray) -> None:
        """Store an embedding, dropping the oldest one when the cache is full."""
        with self._lock:
            if len(self._data) >= self.max_items:
                self._data.pop(next(iter(self._data)))  # oldest first
            self._data[key] = value


@torch.no_grad()
def embed_crops(
    model: ExpressionModel,
    crops: Sequence[np.ndarray],
    *,
    device: torch.device,
    mirrored: bool = False,
    cache: EmbeddingCache | None = None,
    batch_size: int = 32,
    cancel: threading.Event | None = None,
) -> torch.Tensor:
    """CNN embeddings (n, D) of face crops, from the cache where possible."""
    cnn = model.cnn
    cnn.eval()
    # channels-last and small batches run depthwise convolutions ~2x faster on CPU
    cnn.to(memory_format=torch.channels_last)
    if device.type == "cpu":
        batch_size = min(batch_size, 8)
    size = model.image_size
    keys = [(model.arch, size, EmbeddingCache.key_of(c), mirrored) for c in crops]
    out: list[np.ndarray | None] = [cache.get(k) if cache is not None else None for k in keys]
    todo = [i for i, v in enumerate(out) if v is None]
    for start in range(0, len(todo), batch_size):
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled()
        idx = todo[start : start + batch_size]
        batch = np.stack([crops[i][:, ::-1] if mirrored else crops[i] for i in idx])
        x = crops_to_tensor(batch, size).to(device).contiguous(memory_format=torch.channels_last)
        emb = cnn.embed(x).float().cpu().numpy()
        for j, i in enumerate(idx):
            out[i] = emb[j]
            if cache is not None:
                cache.put(keys[i], emb[j])
    if not out:
        return torch.zeros((0, cnn.embedding_dim))
    return torch.from_numpy(np.stack(out)).float()  # type: ignore[arg-type]
