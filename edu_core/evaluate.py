"""Every test figure of a trained model on labelled faces, and ``python -m edu_core.evaluate``.

The figures themselves are computed by :mod:`edu_core.metrics` (scikit-learn's calling style);
the label detective lives in :mod:`edu_core.detective`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from edu_core.classfolders import extract_cached, scan_class_folders
from edu_core.cli import print_error, print_json
from edu_core.embeddings import EmbeddingCache
from edu_core.errors import EduError

# Older callers import the metric functions from here; edu_core.metrics is their home.
from edu_core.metrics import (  # noqa: F401
    accuracy,
    confusion_cells,
    confusion_matrix,
    cross_entropy_per_item,
    precision_recall,
    rank_by_loss,
)
from edu_core.models import ModelBundle, load_bundle
from edu_core.predict import CANNOT_TELL, DEFAULT_THRESHOLD, decide, predict_proba


def evaluate_bundle(
    bundle: ModelBundle,
    faces: Sequence[Any],
    labels: Sequence[str],
    *,
    ids: Sequence[Any] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    embedding_cache: EmbeddingCache | None = None,
) -> dict[str, Any]:
    """Every test figure of a model on labelled faces, as JSON-ready values.

    ``accuracy`` counts the top class; ``decided_accuracy`` counts "cannot tell"
    answers (top probability below ``threshold``) as wrong.
    """
    names = list(bundle.class_names)
    ids = list(ids) if ids is not None else list(range(len(faces)))
    if not faces:
        return {"accuracy": float("nan"), "n": 0, "class_names": names}
    probs = predict_proba(bundle, faces, embedding_cache=embedding_cache)
    top = [names[int(i)] for i in probs.argmax(axis=1)]
    decisions = decide(probs, names, threshold)
    precision, recall, f1, support = precision_recall(labels, top, labels=names)
    return {
        "n": len(faces),
        "class_names": names,
        "accuracy": accuracy(labels, top, labels=names),
        "decided_accuracy": accuracy(labels, decisions, labels=names),
        "cannot_tell": int(sum(d == CANNOT_TELL for d in decisions)),
        "threshold": threshold,
        "per_class": {
            c: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, c in enumerate(names)
        },
        "confusion": confusion_matrix(labels, top, labels=names).tolist(),
        "confusion_ids": confusion_cells(labels, top, ids, labels=names),
        "mean_loss": float(cross_entropy_per_item(probs, labels, labels=names).mean()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edu_core.evaluate --model model.pt --data DIR [--split test] --json``"""
    ap = argparse.ArgumentParser(
        prog="python -m edu_core.evaluate", description="Evaluate a model on a folder."
    )
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="folder with one subfolder per class")
    ap.add_argument("--split", default="test", help="labels.csv split to use ('all' for every photo)")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--cache", default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        bundle = load_bundle(args.model)
        files = scan_class_folders(args.data)
        faces = extract_cached([f.path for f in files], args.cache)
    except EduError as exc:
        return print_error(exc, as_json=args.json)
    use = [
        i
        for i, (f, face) in enumerate(zip(files, faces, strict=True))
        if face.ok
        and f.label in bundle.class_names
        and (args.split == "all" or f.split in (None, args.split))
    ]
    report = evaluate_bundle(
        bundle,
        [faces[i] for i in use],
        [files[i].label for i in use],
        ids=[files[i].path.name for i in use],
        threshold=args.threshold,
    )
    if args.json:
        print_json(report)
    else:
        print(
            f"accuracy {report['accuracy']:.3f} on {report['n']} photos "
            f"({report.get('cannot_tell', 0)} cannot tell)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
