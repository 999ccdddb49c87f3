"""Per-piece contributions and the CNN region test."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_models_support import CLASSES, synthetic_face, synthetic_set

from edu_core.explain import explain_face, hide_region, piece_contributions, region_mask, region_test
from edu_core.train import train
from edu_core.trainconfig import TrainConfig


@pytest.fixture(scope="module")
def pieces_bundle():
    faces, labels = synthetic_set(20, seed=21)
    return train("pieces", faces, labels, TrainConfig(), class_names=CLASSES).bundle


def test_linear_piece_scores_add_up_to_the_logits(pieces_bundle):
    face = synthetic_face("joy", np.random.default_rng(5))
    exp = piece_contributions(pieces_bundle, face)
    net = pieces_bundle.model.pieces.net
    from edu_core.features import pieces_features

    with torch.no_grad():
        logits = pieces_bundle.model.pieces(torch.from_numpy(pieces_features(face))[None])[0]
    for j, c in enumerate(CLASSES):
        total = sum(exp.score_shares[p][c] for p in exp.score_shares) + float(net.bias[j].detach())
        assert total == pytest.approx(float(logits[j]), abs=1e-4)
    assert abs(sum(exp.probabilities.values()) - 1) < 1e-5


def test_joy_is_explained_by_the_mouth(pieces_bundle):
    rng = np.random.default_rng(6)
    for _ in range(3):
        exp = piece_contributions(pieces_bundle, synthetic_face("joy", rng, noise=0.5))
        assert exp.strongest("joy") == "mouth"
        assert exp.effects["mouth"]["joy"] > 0


def test_region_masks_cover_their_region():
    face = synthetic_face("neutral", np.random.default_rng(7), noise=0)
    mouth = region_mask(face.landmarks, "mouth")
    eyes = region_mask(face.landmarks, "eyes")
    brows = region_mask(face.landmarks, "eyebrows")
    mx, my = face.landmarks[13, :2].astype(int)
    ex, ey = face.landmarks[159, :2].astype(int)
    assert mouth[my, mx] and not mouth[ey, ex]
    assert eyes[ey, ex] and not eyes[my, mx]
    assert brows.any() and not (brows & mouth).any()
    hidden = hide_region(face.crop, mouth)
    assert (hidden[~mouth] == face.crop[~mouth]).all() and not (hidden[mouth] == face.crop[mouth]).all()
    with pytest.raises(ValueError, match="allowed"):
        region_mask(face.landmarks, "nose")


@pytest.mark.slow
def test_region_test_finds_the_region_that_matters():
    # the synthetic class signal is a coloured patch around the mouth
    faces, labels = synthetic_set(4, seed=22)
    bundle = train("cnn", faces, labels, TrainConfig(tiny=True, epochs=60), class_names=CLASSES).bundle
    face = synthetic_face("anger", np.random.default_rng(8))
    exp = region_test(bundle, face)
    assert set(exp.effects) == {"eyebrows", "eyes", "mouth"}
    assert exp.strongest("anger") == "mouth"
    assert exp.masked["mouth"].shape == face.crop.shape
    with pytest.raises(ValueError):
        piece_contributions(bundle, face)


def test_explain_face_fits_the_model(pieces_bundle):
    face = synthetic_face("surprise", np.random.default_rng(9))
    out = explain_face(pieces_bundle, face)
    assert set(out["pieces"]) == {"eyebrows", "eyes", "mouth", "other"} and "regions" not in out
    with pytest.raises(ValueError):
        region_test(pieces_bundle, face)
