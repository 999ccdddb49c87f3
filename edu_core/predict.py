"""Ask a trained model about new photos: a probability for every class, or "cannot tell".

``predict_bytes`` is what the *try it* page calls with an uploaded file; the CLI
``python -m edu_core.predict --model model.pt IMAGE... --json`` does the same for
teachers who script.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edu_core.cli import print_error, print_json
from edu_core.embeddings import EmbeddingCache, embed_crops
from edu_core.errors import EduError
from edu_core.faces import Landmarker, extract
from edu_core.metrics import CANNOT_TELL
from edu_core.models import ModelBundle, crops_to_tensor, load_bundle, one_cpu_thread, pieces_matrix

__all__ = [
    "CANNOT_TELL",
    "DEFAULT_THRESHOLD",
    "Prediction",
    "decide",
    "predict_bytes",
    "predict_face",
    "predict_logits",
    "predict_proba",
]

#: Below this top probability the answer is "cannot tell".
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one photo."""

    status: str  # "ok" or "rejected" (no usable face)
    reason: str | None = None  # rejection reason code from edu_core.faces
    probabilities: dict[str, float] = field(default_factory=dict)  # class id -> 0..1, model order
    top: str | None = None  # most probable class
    top_probability: float = 0.0
    decision: str | None = None  # the top class, or CANNOT_TELL below the threshold
    face: Any = None  # the FaceResult, for drawing and explanations

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (without the face arrays)."""
        return {
            "status": self.status,
            "reason": self.reason,
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "top": self.top,
            "top_probability": round(self.top_probability, 6),
            "decision": self.decision,
        }


def decide(probs: np.ndarray, class_names: Sequence[str], threshold: float = DEFAULT_THRESHOLD) -> list[str]:
    """Top class per row of ``probs``, or :data:`CANNOT_TELL` when its probability < threshold."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    p = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    if p.shape[1] != len(class_names):
        raise ValueError(f"{p.shape[1]} probability columns but {len(class_names)} class names")
    top = p.argmax(axis=1)
    return [class_names[t] if p[i, t] >= threshold else CANNOT_TELL for i, t in enumerate(top)]


@torch.no_grad()
def predict_logits(
    bundle: ModelBundle,
    faces: Sequence[Any],
    *,
    images: torch.Tensor | None = None,
    batch_size: int = 32,
    embedding_cache: EmbeddingCache | None = None,
) -> torch.Tensor:
    """Raw logits (n, C) for accepted faces; ``images`` overrides the crops (region tests).

    With an :class:`edu_core.embeddings.EmbeddingCache` a head-only CNN reuses the frozen
    backbone's embeddings, so re-testing after every training round is instant.
    """
    model = bundle.model
    model.eval()
    device = next(model.parameters()).device
    if any(not getattr(f, "ok", False) for f in faces):
        raise ValueError("every face must be accepted (status 'ok') to be predicted")
    if embedding_cache is not None and bundle.backbone_frozen and images is None and model.uses_images:
        emb = embed_crops(model, [f.crop for f in faces], device=device, cache=embedding_cache)
        feats = torch.from_numpy(pieces_matrix(faces)) if model.uses_pieces else None
        return model.logits_from_embedding(
            emb.to(device), feats.to(device) if feats is not None else None
        ).cpu()
    if model.uses_images:
        model.cnn.to(memory_format=torch.channels_last)  # ~2x faster depthwise convs on CPU
        if device.type == "cpu":
            batch_size = min(batch_size, 8)
    out = []
    for s in range(0, len(faces), batch_size):
        chunk = faces[s : s + batch_size]
        feats = torch.from_numpy(pieces_matrix(chunk)).to(device) if model.uses_pieces else None
        x = None
        if model.uses_images:
            x = (
                images[s : s + batch_size]
                if images is not None
                else crops_to_tensor([f.crop for f in chunk], model.image_size)
            )
            x = x.to(device).contiguous(memory_format=torch.channels_last)
        out.append(model(x, feats).float().cpu())
    if not out:
        return torch.zeros((0, len(bundle.class_names)))
    return torch.cat(out)


def predict_proba(
    bundle: ModelBundle,
    faces: Sequence[Any],
    *,
    batch_size: int = 32,
    embedding_cache: EmbeddingCache | None = None,
) -> np.ndarray:
    """Class probabilities (n, C) for accepted faces, columns in ``bundle.class_names`` order."""
    with torch.no_grad():
        logits = predict_logits(bundle, faces, batch_size=batch_size, embedding_cache=embedding_cache)
    return torch.softmax(logits, dim=1).numpy()


def predict_face(bundle: ModelBundle, face: Any, *, threshold: float = DEFAULT_THRESHOLD) -> Prediction:
    """Predict one :class:`~edu_core.faces.FaceResult` (a rejected face stays rejected)."""
    if not getattr(face, "ok", False):
        return Prediction(status="rejected", reason=getattr(face, "reason", None) or "no_face", face=face)
    on_cpu = next(bundle.model.parameters()).device.type == "cpu"
    with one_cpu_thread(on_cpu):
        p = predict_proba(bundle, [face])[0]
    names = bundle.class_names
    top = int(p.argmax())
    return Prediction(
        status="ok",
        probabilities={c: float(v) for c, v in zip(names, p, strict=True)},
        top=names[top],
        top_probability=float(p[top]),
        decision=decide(p[None], names, threshold)[0],
        face=face,
    )


def predict_bytes(
    model_bundle: ModelBundle,
    data: bytes,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    landmarker: Any = None,
) -> Prediction:
    """Photo bytes → face extraction → class probabilities.

    Pass a long-lived ``edu_core.faces.Landmarker`` as ``landmarker`` to skip loading
    MediaPipe on every call (that load takes longer than the prediction itself).
    """
    face = extract(data, landmarker=landmarker)
    return predict_face(model_bundle, face, threshold=threshold)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edu_core.predict --model model.pt IMAGE... [--json]``"""
    ap = argparse.ArgumentParser(
        prog="python -m edu_core.predict", description="Predict expressions in photos."
    )
    ap.add_argument("--model", required=True, help="model file written by edu_core.train")
    ap.add_argument("images", nargs="+", help="photo files")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        bundle = load_bundle(args.model)
    except EduError as exc:
        return print_error(exc, as_json=args.json)
    results = []
    with Landmarker() as lm:
        for name in args.images:
            path = Path(name)
            try:
                data = path.read_bytes()
            except OSError as exc:
                rec = {"file": name, "status": "rejected", "reason": "unreadable", "detail": str(exc)}
                results.append(rec)
                continue
            pred = predict_bytes(bundle, data, threshold=args.threshold, landmarker=lm)
            results.append({"file": name, **pred.to_dict()})
    if args.json:
        print_json({"model": bundle.kind, "class_names": list(bundle.class_names), "results": results})
    else:
        for r in results:
            if r["status"] != "ok":
                print(f"{r['file']}: no usable face ({r['reason']})")
            else:
                bars = ", ".join(f"{c} {p * 100:.1f}%" for c, p in r["probabilities"].items())
                print(f"{r['file']}: {r['decision']}  [{bars}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
