"""Which data pieces or face regions pushed a prediction, in numbers a student can read.

* :func:`piece_contributions` — for models that read the pieces features: how much
  each class's probability drops when one piece (eyebrows, eyes, mouth, other) is
  replaced by the average face of the training set. For the softmax-regression
  pieces model the exact share of each piece in every class score is given too.
* :func:`region_test` — for models that look at the photo: hide the eyes, the
  eyebrows or the mouth (found from the landmarks) and report how every class
  probability changes — the same question the LIME pictures of the imbalance
  paper answer, asked one region at a time.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from edu_core.cli import print_error, print_json
from edu_core.errors import EduError
from edu_core.faces import extract
from edu_core.features import PIECES, REGIONS, pieces_features, region_landmarks
from edu_core.models import ModelBundle, crops_to_tensor, load_bundle, one_cpu_thread


@dataclass(frozen=True)
class PieceExplanation:
    """Per-piece effect on every class probability (positive: the piece pushed towards it)."""

    probabilities: dict[str, float]
    effects: dict[str, dict[str, float]]  # piece -> class -> probability change
    score_shares: dict[str, dict[str, float]] = field(default_factory=dict)  # linear model only: logit parts

    def strongest(self, class_id: str) -> str:
        """The piece that raised ``class_id`` the most."""
        return max(self.effects, key=lambda p: self.effects[p][class_id])


@dataclass(frozen=True)
class RegionExplanation:
    """Probability of every class with each region hidden, and the hidden images."""

    probabilities: dict[str, float]
    effects: dict[str, dict[str, float]]  # region -> class -> (original - hidden) probability
    masked: dict[str, np.ndarray]  # region -> the crop with that region hidden (for display)
    masks: dict[str, np.ndarray]  # region -> bool mask (crop size)

    def strongest(self, class_id: str) -> str:
        """The region whose hiding lowered ``class_id`` the most."""
        return max(self.effects, key=lambda r: self.effects[r][class_id])


def _probs(bundle: ModelBundle, feats: torch.Tensor | None, images: torch.Tensor | None) -> np.ndarray:
    model = bundle.model
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad(), one_cpu_thread(device.type == "cpu"):
        logits = model(
            images.to(device) if images is not None else None, feats.to(device) if feats is not None else None
        )
    return torch.softmax(logits.float(), dim=1).cpu().numpy()


def piece_contributions(bundle: ModelBundle, face: Any) -> PieceExplanation:
    """How much each data piece moved each class probability for one face."""
    model = bundle.model
    if not model.uses_pieces:
        raise ValueError(f"a {bundle.kind!r} model does not read data pieces; use region_test")
    names = list(bundle.class_names)
    x = torch.from_numpy(pieces_features(face))[None]
    norm = model.pieces.norm if model.kind == "pieces" else model.pieces_norm
    groups = bundle.feature_spec.piece_indices()
    # one batch: the face itself, then the face with each piece set to the training average
    rows = [x]
    for piece in PIECES:
        xm = x.clone()
        idx = groups[piece]
        if idx:
            xm[0, idx] = norm.mean[idx].to(xm.dtype)
        rows.append(xm)
    feats = torch.cat(rows)
    images = None
    if model.uses_images:
        images = crops_to_tensor([face.crop], model.image_size).expand(len(rows), -1, -1, -1)
    p = _probs(bundle, feats, images)
    effects = {
        piece: {c: float(p[0, j] - p[k + 1, j]) for j, c in enumerate(names)}
        for k, piece in enumerate(PIECES)
    }
    shares: dict[str, dict[str, float]] = {}
    if model.kind == "pieces" and isinstance(model.pieces.net, nn.Linear):
        z = norm(x)[0]
        w = model.pieces.net.weight.detach()
        shares = {
            piece: {c: float((w[j, groups[piece]] * z[groups[piece]]).sum()) for j, c in enumerate(names)}
            for piece in PIECES
        }
    return PieceExplanation(
        probabilities={c: float(v) for c, v in zip(names, p[0], strict=True)},
        effects=effects,
        score_shares=shares,
    )


def region_mask(landmarks: np.ndarray, region: str, size: int = 256, grow: float = 0.35) -> np.ndarray:
    """Bool mask of ``region`` ("eyebrows", "eyes", "mouth"), each polygon grown by ``grow``."""
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}; allowed: {', '.join(REGIONS)}")
    mask = np.zeros((size, size), dtype=np.uint8)
    pts_all = np.asarray(landmarks, dtype=np.float64)[:, :2]
    for outline in region_landmarks()[region]:
        pts = pts_all[list(outline)]
        c = pts.mean(axis=0)
        # grow around the centre; a minimum height keeps thin shapes (brows, closed eyes) covered
        span = np.maximum(pts.max(axis=0) - pts.min(axis=0), 1.0)
        pad = np.maximum(span * grow, [4.0, 6.0])
        grown = c + (pts - c) * (1 + grow) + np.sign(pts - c) * pad * 0.5
        hull = cv2.convexHull(np.round(grown).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


def hide_region(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The crop with ``mask`` filled by the face's average skin colour (a grey patch, no details)."""
    out = crop.copy()
    if mask.any():
        fill = np.median(crop[~mask].reshape(-1, 3), axis=0) if (~mask).any() else np.array([128, 128, 128])
        out[mask] = fill.astype(np.uint8)
    return out


def region_test(bundle: ModelBundle, face: Any, regions: Sequence[str] = REGIONS) -> RegionExplanation:
    """Hide each region in turn and measure every class probability (CNN and combined models)."""
    model = bundle.model
    if not model.uses_images:
        raise ValueError("the pieces model does not look at the photo; use piece_contributions")
    names = list(bundle.class_names)
    crop = np.asarray(face.crop)
    masks = {r: region_mask(face.landmarks, r, size=crop.shape[0]) for r in regions}
    masked = {r: hide_region(crop, m) for r, m in masks.items()}
    images = crops_to_tensor([crop, *masked.values()], model.image_size)
    feats = None
    if model.uses_pieces:
        feats = torch.from_numpy(pieces_features(face))[None].expand(len(images), -1)
    p = _probs(bundle, feats, images)
    effects = {
        r: {c: float(p[0, j] - p[k + 1, j]) for j, c in enumerate(names)} for k, r in enumerate(regions)
    }
    return RegionExplanation(
        probabilities={c: float(v) for c, v in zip(names, p[0], strict=True)},
        effects=effects,
        masked=masked,
        masks=masks,
    )


def explain_face(bundle: ModelBundle, face: Any) -> dict[str, Any]:
    """Every explanation that fits the model, as JSON-ready values."""
    out: dict[str, Any] = {"kind": bundle.kind}
    if bundle.model.uses_pieces:
        pe = piece_contributions(bundle, face)
        out["probabilities"] = pe.probabilities
        out["pieces"] = pe.effects
        if pe.score_shares:
            out["piece_scores"] = pe.score_shares
    if bundle.model.uses_images:
        re = region_test(bundle, face)
        out["probabilities"] = re.probabilities
        out["regions"] = re.effects
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edu_core.explain --model model.pt IMAGE --json``"""
    ap = argparse.ArgumentParser(prog="python -m edu_core.explain", description="Explain one prediction.")
    ap.add_argument("--model", required=True)
    ap.add_argument("image")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        bundle = load_bundle(args.model)
    except EduError as exc:
        return print_error(exc, as_json=args.json)
    face = extract(args.image)
    if not face.ok:
        out: dict[str, Any] = {"status": "rejected", "reason": face.reason}
    else:
        out = {"status": "ok", **explain_face(bundle, face)}
    if args.json:
        print_json(out)
    else:
        for key in ("pieces", "regions"):
            for part, eff in out.get(key, {}).items():
                print(f"{part}: " + ", ".join(f"{c} {v * 100:+.1f}" for c, v in eff.items()))
    return 0 if face.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
