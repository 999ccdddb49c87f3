"""Metrics, confusion cells, "cannot tell" and the mislabel detective."""

from __future__ import annotations

import numpy as np
import pytest
from test_models_support import CLASSES, synthetic_set

from edu_core.detective import out_of_fold_proba
from edu_core.evaluate import evaluate_bundle
from edu_core.metrics import (
    CANNOT_TELL,
    accuracy,
    confusion_cells,
    confusion_matrix,
    cross_entropy_per_item,
    precision_recall,
    rank_by_loss,
)
from edu_core.predict import decide, predict_face
from edu_core.train import train
from edu_core.trainconfig import TrainConfig

LABELS = ("joy", "sadness", "anger")
Y_TRUE = ["joy", "joy", "joy", "sadness", "sadness", "anger"]
Y_PRED = ["joy", "joy", "sadness", "sadness", "anger", "anger"]


def test_confusion_matrix_and_accuracy():
    m = confusion_matrix(Y_TRUE, Y_PRED, labels=LABELS)
    assert m.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert accuracy(Y_TRUE, Y_PRED, labels=LABELS) == pytest.approx(4 / 6)
    with_ct = confusion_matrix(["joy", "anger"], ["joy", CANNOT_TELL], labels=LABELS, cannot_tell=True)
    assert with_ct.shape == (3, 4) and with_ct[2, 3] == 1


def test_confusion_cells_keep_the_image_ids():
    cells = confusion_cells(Y_TRUE, Y_PRED, ["a", "b", "c", "d", "e", "f"], labels=LABELS)
    assert cells[0][0] == ["a", "b"] and cells[0][1] == ["c"] and cells[1][2] == ["e"] and cells[2][0] == []


def test_precision_recall_by_hand():
    p, r, f1, support = precision_recall(Y_TRUE, Y_PRED, labels=LABELS)
    np.testing.assert_allclose(p, [1.0, 0.5, 0.5])
    np.testing.assert_allclose(r, [2 / 3, 0.5, 1.0])
    np.testing.assert_allclose(f1, [0.8, 0.5, 2 / 3])
    assert support.tolist() == [3, 2, 1]


def test_errors_name_the_allowed_values():
    with pytest.raises(ValueError, match="allowed: joy, sadness, anger"):
        confusion_matrix(["joy"], ["happy"], labels=LABELS)
    with pytest.raises(ValueError, match="allowed"):
        accuracy(["fear"], ["joy"], labels=LABELS)
    with pytest.raises(ValueError, match="items"):
        accuracy(["joy"], [], labels=LABELS)
    with pytest.raises(ValueError, match="cannot_tell"):  # only allowed when asked for
        confusion_matrix(["joy"], [CANNOT_TELL], labels=LABELS)


def test_cannot_tell_below_threshold():
    # the lesson's mislabelled-model chart: no class reaches one half
    probs = np.array([[0.018, 0.542, 0.366, 0.010, 0.064], [0.968, 0.0, 0.0, 0.032, 0.0]])
    assert decide(probs, CLASSES, 0.6) == [CANNOT_TELL, "joy"]
    assert decide(probs, CLASSES, 0.5) == ["sadness", "joy"]
    with pytest.raises(ValueError):
        decide(probs, CLASSES, 1.5)


def test_cross_entropy_and_ranking():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    loss = cross_entropy_per_item(probs, ["a", "a", "b"], labels=("a", "b"))
    np.testing.assert_allclose(loss, -np.log([0.9, 0.2, 0.5]))
    ranked = rank_by_loss(probs, ["a", "a", "b"], ["x", "y", "z"], labels=("a", "b"))
    assert [r["id"] for r in ranked] == ["y", "z", "x"] and ranked[0]["guess"] == "b"


@pytest.mark.slow  # trains a model on the samples
def test_mislabel_detective_finds_the_planted_errors():
    faces, labels = synthetic_set(12, seed=11)
    planted = [i for i, y in enumerate(labels) if y == "anger"][:3]
    wrong = list(labels)
    for i in planted:
        wrong[i] = "joy"  # an anger photo put into joy, as in the lesson
    probs = out_of_fold_proba("pieces", faces, wrong, TrainConfig(epochs=60), class_names=CLASSES, folds=4)
    ranked = rank_by_loss(probs, wrong, list(range(len(faces))), labels=CLASSES, top=5)
    assert set(planted) <= {r["id"] for r in ranked}


def test_evaluate_bundle_report():
    faces, labels = synthetic_set(10, seed=12)
    tf, tl = synthetic_set(4, seed=13)
    bundle = train("pieces", faces, labels, TrainConfig(epochs=60), class_names=CLASSES).bundle
    rep = evaluate_bundle(bundle, tf, tl, ids=[f"t{i}" for i in range(len(tf))], threshold=0.5)
    assert rep["n"] == 20 and rep["accuracy"] >= 0.8
    assert sum(len(c) for row in rep["confusion_ids"] for c in row) == 20
    assert np.array(rep["confusion"]).sum() == 20
    assert rep["decided_accuracy"] <= rep["accuracy"]
    pred = predict_face(bundle, tf[0], threshold=0.99999)
    assert pred.status == "ok" and abs(sum(pred.probabilities.values()) - 1) < 1e-5
    assert pred.decision in (CANNOT_TELL, pred.top)
    assert predict_face(bundle, tf[0], threshold=0.0).decision == pred.top
