"""Generated face crops laid out like the public AI Hub re-packagings (no real person)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from edu_core.labels import KOREAN7_CLASSES, KOREAN7_NAMES

SIX = tuple(c for c in KOREAN7_CLASSES if c != "neutral")


def _pattern(seed: int, size: int) -> np.ndarray:
    grid = np.random.default_rng(seed).integers(0, 256, (6, 6, 3)).astype(np.float64)
    return np.kron(grid, np.ones((size // 6 + 1, size // 6 + 1, 1)))[:size, :size]


def write_face_folder(
    root: Path,
    *,
    persons: int = 16,
    per: int = 2,
    classes: tuple[str, ...] = SIX,
    style: str = "folder",
    size: int = 48,
    person_weight: float = 0.6,
    seed: int = 0,
) -> list[str]:
    """Face crops of ``persons`` people, ``per`` photos per person and class, labelled by
    folder (``기쁨/<hex>_<n>.jpg``) or by the AI Hub file-name pattern (one flat folder).

    Each photo mixes a pattern of its own person *and* class (weight ``person_weight``) with
    one pattern per class: a model can learn the class patterns, or memorise the people.
    """
    rng = np.random.default_rng(seed)
    ids = [f"{p:02d}" + "ab" * 31 for p in range(persons)]  # 64 hex characters, like AI Hub
    names = []
    for ci, cls in enumerate(classes):
        korean = KOREAN7_NAMES[cls]
        for p, pid in enumerate(ids):
            mix = person_weight * _pattern(1000 + 10 * p + ci, size) + (1 - person_weight) * _pattern(
                ci, size
            )
            for k in range(per):
                img = np.clip(mix + rng.normal(0, 8, mix.shape), 0, 255).astype(np.uint8)
                if style == "folder":
                    path = root / korean / f"{pid[:12]}_{k}.jpg"
                else:
                    path = root / f"{pid}_{'여' if p % 2 else '남'}_30_{korean}_자연환경_2021010{k}-001.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(img).save(path, quality=95)
                names.append(path.relative_to(root).as_posix())
    return names
