"""The sample set's quality gates, measured with the real MediaPipe model and extractor."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edu_core import folders
from edu_core.labels import LESSON_CLASSES
from edu_core.samples.spec import SampleError

#: Blendshapes the quality report averages per class (left/right pairs are averaged together).
REPORT_BLENDSHAPES: tuple[str, ...] = (
    "mouthSmile",
    "mouthFrown",
    "browInnerUp",
    "browDown",
    "eyeWide",
    "jawOpen",
    "eyeSquint",
)


def _pair_mean(shapes: dict[str, float], name: str) -> float:
    if name in shapes:
        return float(shapes[name])
    return (float(shapes[name + "Left"]) + float(shapes[name + "Right"])) / 2.0


def read_labels(folder: Path) -> list[dict[str, str]]:
    """The rows of ``folder/labels.csv`` as dicts (:func:`edu_core.folders.read_labels`'s schema)."""
    path = Path(folder) / "labels.csv"
    if not path.is_file():
        raise SampleError("samples_missing", str(path))
    return [row.as_dict() for row in folders.read_labels(path)]


def quality_report(folder: Path, *, rejects: bool = True, limit: int | None = None) -> dict[str, object]:
    """Measure the quality gates on a sample folder with the real MediaPipe model and extractor.

    - ``detection``: share of expression pictures where the landmarker finds exactly one face
    - ``accepted``: share of expression pictures the extractor accepts
    - ``blendshapes``: mean of :data:`REPORT_BLENDSHAPES` per class
    - ``rejects``: per reason, the share the extractor rejects with that reason, and what it said
    ``limit`` keeps only the first N pictures of each class / reason (for quick checks).
    """
    from edu_core.faces import Landmarker, extract  # MediaPipe is heavy; only the report needs it
    from edu_core.images import decode

    folder = Path(folder)
    rows = read_labels(folder)
    seen: dict[str, int] = {}
    picked = []
    for r in rows:
        key = r["expected_reason"] or r["class"]
        seen[key] = seen.get(key, 0) + 1
        if limit is None or seen[key] <= limit:
            picked.append(r)
    one_face = 0
    accepted = 0
    n_expr = 0
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    reasons: dict[str, dict[str, int]] = {}
    misses: list[str] = []
    with Landmarker() as lm:
        for r in picked:
            path = folder / r["file"]
            if r["expected_reason"]:
                if not rejects:
                    continue
                got = extract(path, landmarker=lm).reason or "ok"
                tally = reasons.setdefault(r["expected_reason"], {})
                tally[got] = tally.get(got, 0) + 1
                continue
            n_expr += 1
            faces = lm.detect(decode(path.read_bytes()).rgb)
            if len(faces) == 1:
                one_face += 1
                vec = np.array([_pair_mean(faces[0].blendshapes, b) for b in REPORT_BLENDSHAPES])
                sums[r["class"]] = sums.get(r["class"], 0) + vec
                counts[r["class"]] = counts.get(r["class"], 0) + 1
            else:
                misses.append(f"{r['file']}: {len(faces)} faces")
            result = extract(path, landmarker=lm)
            if result.ok:
                accepted += 1
            else:
                misses.append(f"{r['file']}: rejected {result.reason}")
    blend = {
        c: {b: round(float(v), 3) for b, v in zip(REPORT_BLENDSHAPES, sums[c] / counts[c], strict=True)}
        for c in LESSON_CLASSES
        if counts.get(c)
    }
    return {
        "folder": str(folder),
        "expression_images": n_expr,
        "detection": round(one_face / n_expr, 4) if n_expr else None,
        "accepted": round(accepted / n_expr, 4) if n_expr else None,
        "blendshapes": blend,
        "rejects": {
            reason: {"n": sum(t.values()), "correct": round(t.get(reason, 0) / sum(t.values()), 3), "got": t}
            for reason, t in reasons.items()
        },
        "problems": misses,
    }
