"""The lesson's label detective: which training photos carry a surprising label.

Every photo is judged by a model that did not train on it (k-fold cross-fitting), because the
student's own model has seen every training photo and usually learnt the wrong labels too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from edu_core.embeddings import EmbeddingCache
from edu_core.metrics import rank_by_loss
from edu_core.predict import predict_proba
from edu_core.train import train
from edu_core.trainconfig import TrainConfig


def out_of_fold_proba(
    kind: str,
    faces: Sequence[Any],
    labels: Sequence[str],
    cfg: TrainConfig | None = None,
    *,
    class_names: Sequence[str],
    folds: int = 5,
    embedding_cache: EmbeddingCache | None = None,
    exclude: Collection[int] = (),
) -> np.ndarray:
    """Probabilities for every face from a model that never saw it (k-fold).

    A mislabelled photo is easy to memorise, so the final model's loss on its own
    training photos hides label errors; held-out predictions reveal them. Cheap for
    the pieces and head-only models; with an ``embedding_cache`` a head-only CNN embeds
    each crop once for all folds. Faces at the indices in ``exclude`` are predicted but never
    trained on.
    """
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
            curve=False,  # a fold's model is only asked about the photos it left out
        )
        out[test] = predict_proba(res.bundle, [faces[i] for i in test], embedding_cache=embedding_cache)
    return out


DETECTIVE_FOLDS = 5


def detective_config(model_config: Mapping[str, Any] | None = None) -> TrainConfig:
    """Cheap settings of the same model kind for the detective's k-fold models.

    The architecture and size come from the trained model; the training itself is the head only
    (a CNN reuses the frozen backbone's cached embeddings even when the model was fine-tuned on a
    GPU), with the default head epochs and no validation slice, so five folds cost about as much
    as one training of the pieces model or of a CNN head.
    """
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
    embedding_cache: EmbeddingCache | None = None,
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
