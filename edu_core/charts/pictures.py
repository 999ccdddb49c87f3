"""Annotated pictures: the face box on a photo, the data pieces on a face crop."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw

from edu_core import landmarks as mesh

PIECE_COLORS: Mapping[str, str] = {"brows": "#E69F00", "eyes": "#56B4E9", "lips": "#D55E00"}


def draw_face_box(
    rgb: np.ndarray, box: Sequence[int], *, color: str = "#E69F00", width: int | None = None
) -> np.ndarray:
    """A copy of ``rgb`` with the face box drawn (thick enough to see on a thumbnail)."""
    im = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    w = width or max(3, round(max(im.size) / 120))
    x0, y0, x1, y1 = (int(v) for v in box)
    draw = ImageDraw.Draw(im)
    draw.rectangle((x0, y0, x1, y1), outline="#000000", width=w + 2)
    draw.rectangle((x0, y0, x1, y1), outline=color, width=w)
    return np.asarray(im)


def draw_pieces(crop: np.ndarray, landmarks: np.ndarray, *, scale: int = 2) -> np.ndarray:
    """A copy of the face crop, enlarged ``scale`` times, with brows, eyes and lips outlined.

    ``landmarks`` are MediaPipe's 478 points in crop pixel coordinates.
    """
    pts = np.asarray(landmarks, dtype=float)
    if pts.ndim != 2 or pts.shape[0] < 468:
        raise ValueError(f"expected (478, 3) landmarks, got {pts.shape}")
    im = Image.fromarray(np.asarray(crop, dtype=np.uint8))
    im = im.resize((im.width * scale, im.height * scale), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(im)
    for part, pairs in mesh.PIECE_OUTLINES.items():
        for a, b in pairs:
            draw.line(
                (pts[a, 0] * scale, pts[a, 1] * scale, pts[b, 0] * scale, pts[b, 1] * scale),
                fill=PIECE_COLORS[part],
                width=max(2, scale * 2),
            )
        for idx in {i for pair in pairs for i in pair}:
            x, y = pts[idx, 0] * scale, pts[idx, 1] * scale
            draw.ellipse((x - scale, y - scale, x + scale, y + scale), fill="#000000")
    return np.asarray(im)


def top_blendshapes(
    blendshapes: Mapping[str, float], n: int = 3, *, min_score: float = 0.2
) -> list[tuple[str, float]]:
    """The ``n`` strongest expression movements (``_neutral`` excluded), strongest first."""
    items = [(k, float(v)) for k, v in blendshapes.items() if k != "_neutral" and float(v) >= min_score]
    return sorted(items, key=lambda kv: -kv[1])[:n]
