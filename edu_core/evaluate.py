"""Honest numbers about a trained model, in scikit-learn's calling style.

Metric functions take ``(y_true, y_pred, *, labels=...)``, return numpy arrays and
raise ``ValueError`` naming the allowed values. :func:`confusion_cells` keeps the
image ids of every cell so a page can show *which* photos were confused, and
:func:`rank_by_loss` is the lesson's "mislabel detective": the training photos the
model disagrees with most are the first to check for a wrong label.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from edu_core.errors import print_cli_error
from edu_core.predict import CANNOT_TELL, DEFAULT_THRESHOLD, decide, predict_proba


def _check(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], allow_cannot_tell: bool
) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items but y_pred has {len(y_pred)}")
    allowed = set(labels)
    bad_true = sorted({str(y) for y in y_true} - allowed)
    if bad_true:
        raise ValueError(f"unknown labels in y_true {bad_true}; allowed: {', '.join(labels)}")
    extra = {CANNOT_TELL} if allow_cannot_tell else set()
    bad_pred = sorted({str(y) for y in y_pred} - allowed - extra)
    if bad_pred:
        names = ", ".join([*labels, *sorted(extra)])
        raise ValueError(f"unknown labels in y_pred {bad_pred}; allowed: {names}")


def accuracy(y_true: Sequence[str], y_pred: Sequence[str], *, labels: Sequence[str]) -> float:
    """Share of predictions equal to the truth ("cannot tell" counts as wrong); nan if empty."""
    _check(y_true, y_pred, labels, True)
    if len(y_true) == 0:
        return float("nan")
    return float(np.mean([a == b for a, b in zip(y_true, y_pred, strict=True)]))


def confusion_matrix(
    y_true: Sequence[str], y_pred: Sequence[str], *, labels: Sequence[str], cannot_tell: bool = False
) -> np.ndarray:
    """Counts (len(labels), len(labels) [+1]): row = truth, column = prediction.

    With ``cannot_tell=True`` a last column counts the "cannot tell" answers.
    """
    _check(y_true, y_pred, labels, cannot_tell)
    cols = [*labels, CANNOT_TELL] if cannot_tell else list(labels)
    pos_r = {c: i for i, c in enumerate(labels)}
    pos_c = {c: i for i, c in enumerate(cols)}
    m = np.zeros((len(labels), len(cols)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        m[pos_r[t], pos_c[p]] += 1
    return m


def confusion_cells(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    ids: Sequence[Any],
    *,
    labels: Sequence[str],
    cannot_tell: bool = False,
) -> list[list[list[Any]]]:
    """The image ids in every confusion-matrix cell: ``cells[true][pred]`` is a list."""
    _check(y_true, y_pred, labels, cannot_tell)
    if len(ids) != len(y_true):
        raise ValueError(f"{len(ids)} ids for {len(y_true)} items")
    cols = [*labels, CANNOT_TELL] if cannot_tell else list(labels)
    pos_r = {c: i for i, c in enumerate(labels)}
    pos_c = {c: i for i, c in enumerate(cols)}
    cells: list[list[list[Any]]] = [[[] for _ in cols] for _ in labels]
    for t, p, i in zip(y_true, y_pred, ids, strict=True):
        cells[pos_r[t]][pos_c[p]].append(i)
    return cells


def precision_recall(
    y_true: Sequence[str], y_pred: Sequence[str], *, labels: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support; 0 where undefined (no predictions)."""
    m = confusion_matrix(y_true, y_pred, labels=labels, cannot_tell=True)
    tp = np.diag(m[:, : len(labels)]).astype(np.float64)
    predicted = m[:, : len(labels)].sum(axis=0).astype(np.float64)
    support = m.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1, support


def cross_entropy_per_item(probs: np.ndarray, y_true: Sequence[str], *, labels: Sequence[str]) -> np.ndarray:
    """−log p(true class) for every row of ``probs`` (columns in ``labels`` order)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape != (len(y_true), len(labels)):
        raise ValueError(f"probs must have shape ({len(y_true)}, {len(labels)}), got {p.shape}")
    _check(y_true, [labels[0]] * len(y_true), labels, False)
    pos = {c: i for i, c in enumerate(labels)}
    idx = np.array([pos[y] for y in y_true], dtype=np.int64)
    return -np.log(np.clip(p[np.arange(len(idx)), idx], 1e-12, 1.0))


def rank_by_loss(
    probs: np.ndarray,
    y_true: Sequence[str],
    ids: Sequence[Any],
    *,
    labels: Sequence[str],
    top: int | None = None,
) -> list[dict[str, Any]]:
    """Items sorted from the most to the least surprising label (the mislabel detective).

    Each entry: id, label, loss, the model's guess and its probability.
    """
    loss = cross_entropy_per_item(probs, y_true, labels=labels)
    p = np.asarray(probs, dtype=np.float64)
    order = np.argsort(-loss, kind="stable")
    if top is not None:
        order = order[:top]
    return [
        {
            "id": ids[i],
            "label": y_true[i],
            "loss": float(loss[i]),
            "guess": labels[int(p[i].argmax())],
            "guess_probability": float(p[i].max()),
        }
        for i in order
    ]


def out_of_fold_proba(
    kind: str,
    faces: Sequence[Any],
    labels: Sequence[str],
    cfg: Any = None,
    *,
    class_names: Sequence[str],
    folds: int = 5,
    embedding_cache: Any = None,
    exclude: Collection[int] = (),
) -> np.ndarray:
    """Probabilities for every face from a model that never saw it (k-fold).

    A mislabelled photo is easy to memorise, so the final model's loss on its own
    training photos hides label errors; held-out predictions reveal them. Cheap for
    the pieces and head-only models; with an ``embedding_cache`` a head-only CNN embeds
    each crop once for all folds. Faces at the indices in ``exclude`` are predicted but never
    trained on.
    """
    from edu_core.train import TrainConfig, train

    cfg = cfg or TrainConfig()
    n = len(faces)
    if n < 2:
        raise ValueError("need at least two faces")
    folds = max(2, min(folds, n))
    rng = np.random.default_rng(cfg.seed)
    fold_of = np.empty(n, dtype=np.int64)
    for cls in sorted(set(labels)):
        members = [i for i, y in enumerate(labels) if y == cls]
        rng.shuffle(members)
        for j, i in enumerate(members):
            fold_of[i] = j % folds
    skip = {int(i) for i in exclude}
    out = np.zeros((n, len(class_names)), dtype=np.float64)
    for k in range(folds):
        test = np.flatnonzero(fold_of == k)
        tr = [i for i in np.flatnonzero(fold_of != k) if int(i) not in skip]
        if len(test) == 0:
            continue
        res = train(
            kind,
            [faces[i] for i in tr],
            [labels[i] for i in tr],
            replace(cfg, seed=cfg.seed + k),
            class_names=class_names,
            embedding_cache=embedding_cache,
        )
        out[test] = predict_proba(res.bundle, [faces[i] for i in test], embedding_cache=embedding_cache)
    return out


DETECTIVE_FOLDS = 5


def detective_config(model_config: Mapping[str, Any] | None = None) -> Any:
    """Cheap settings of the same model kind for the detective's k-fold models.

    The architecture and size come from the trained model; the training itself is the head only
    (a CNN reuses the frozen backbone's cached embeddings even when the model was fine-tuned on a
    GPU), with the default head epochs and no validation slice, so five folds cost about as much
    as one training of the pieces model or of a CNN head.
    """
    from edu_core.train import TrainConfig

    c = dict(model_config or {})
    base = TrainConfig()
    return TrainConfig(
        mode="head",
        arch=str(c.get("arch", base.arch)),
        hidden=int(c.get("hidden", base.hidden)),
        image_size=int(c.get("image_size", base.image_size)),
        val_fraction=0.0,
        refit=False,
        seed=int(c.get("seed", base.seed)),
        device=str(c.get("device", base.device)),
        augment=bool(c.get("augment", base.augment)),
    )


def mislabel_suspects(
    kind: str,
    faces: Sequence[Any],
    labels: Sequence[str],
    ids: Sequence[Any],
    *,
    class_names: Sequence[str],
    model_config: Mapping[str, Any] | None = None,
    folds: int = DETECTIVE_FOLDS,
    top: int | None = None,
    embedding_cache: Any = None,
) -> list[dict[str, Any]]:
    """The lesson's label detective: training photos ranked by how surprising their label is.

    Every photo is judged by a model that did not train on it (k-fold cross-fitting on the
    training photos). The student's own model has seen them all and usually learnt the wrong
    labels too, so ranking its own predictions finds nothing.

    A second look leaves the first look's suspects out of every fold's training: several photos
    with the same mistake (three big smiles filed under sadness) otherwise vouch for each other
    from the folds they are not in. On the sample faces, 20 per class, three planted mistakes:
    the second look put 2–3 of them in the top five in 9 of 10 plantings (one look: 7 of 10).
    """
    cfg = detective_config(model_config)

    def look(exclude: Collection[int] = ()) -> np.ndarray:
        return out_of_fold_proba(
            kind, faces, labels, cfg, class_names=class_names, folds=folds,
            embedding_cache=embedding_cache, exclude=exclude,
        )  # fmt: skip

    probs = look()
    first = rank_by_loss(probs, labels, list(range(len(labels))), labels=class_names)
    doubtful = [r["id"] for r in first if r["guess"] != r["label"]][: max(3, len(labels) // 20)]
    if doubtful:
        probs = look(doubtful)
    return rank_by_loss(probs, labels, ids, labels=class_names, top=top)


def evaluate_bundle(
    bundle: Any,
    faces: Sequence[Any],
    labels: Sequence[str],
    *,
    ids: Sequence[Any] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    embedding_cache: Any = None,
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
    from edu_core.errors import EduError
    from edu_core.models import load_bundle
    from edu_core.train import extract_cached, scan_class_folders

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
        return print_cli_error(exc, as_json=args.json)
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
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(
            f"accuracy {report['accuracy']:.3f} on {report['n']} photos "
            f"({report.get('cannot_tell', 0)} cannot tell)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
