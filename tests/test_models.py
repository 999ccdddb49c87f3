"""Pieces features, the CNN builders and the one-file model bundle."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from test_models_support import CLASSES, synthetic_face, synthetic_set

from edu_core.errors import ModelFileError
from edu_core.faces import FaceResult
from edu_core.models import (
    BLENDSHAPE_NAMES,
    GEOMETRY_FEATURES,
    PIECES,
    ExpressionModel,
    build_cnn,
    crops_to_tensor,
    export_onnx,
    feature_spec,
    geometry_features,
    load_bundle,
    pieces_features,
    pieces_matrix,
    pretrained_weights_path,
    save_bundle,
)
from edu_core.predict import predict_proba
from edu_core.train import TrainConfig, train


def test_feature_spec_names_every_column_and_piece():
    spec = feature_spec()
    assert len(spec.names) == len(BLENDSHAPE_NAMES) + len(GEOMETRY_FEATURES)
    assert len(set(spec.names)) == len(spec.names)
    groups = spec.piece_indices()
    assert set(groups) == set(PIECES)
    assert all(groups[p] for p in PIECES)
    assert spec.pieces[spec.names.index("bs_mouthSmileLeft")] == "mouth"
    assert spec.pieces[spec.names.index("bs_browInnerUp")] == "eyebrows"
    assert spec.pieces[spec.names.index("eye_open_left")] == "eyes"


def test_geometry_ignores_position_scale_and_roll():
    face = synthetic_face("joy", np.random.default_rng(3))
    base = geometry_features(face.landmarks, (0.0, 0.0, 0.0))
    lm = face.landmarks.copy()
    ang = np.radians(17.0)
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]], dtype=np.float32)
    lm[:, :2] = (lm[:, :2] - 100) @ rot.T * 1.7 + 40
    moved = geometry_features(lm, (0.0, 0.0, 0.0))
    np.testing.assert_allclose(moved, base, atol=1e-4)


def test_geometry_sees_the_expression():
    rng = np.random.default_rng(0)
    names = [n for n, _ in GEOMETRY_FEATURES]
    joy = geometry_features(synthetic_face("joy", rng, noise=0).landmarks)
    sad = geometry_features(synthetic_face("sadness", rng, noise=0).landmarks)
    lift = names.index("mouth_corner_lift_left")
    assert joy[lift] > 0 > sad[lift]


def test_pieces_features_of_rejected_face_raise():
    with pytest.raises(ValueError):
        pieces_features(FaceResult(status="rejected", reason="no_face"))
    faces, _ = synthetic_set(2, seed=1)
    m = pieces_matrix(faces)
    assert m.shape == (10, len(feature_spec().names)) and m.dtype == np.float32
    assert np.isfinite(m).all()


def test_efficientnet_weights_match_the_architecture():
    """The packaged ImageNet weights load into our EfficientNet-Lite0 and recognise a cat."""
    from skimage import data

    assert pretrained_weights_path("efficientnet_lite0") is not None
    net = build_cnn("efficientnet_lite0", 1000, pretrained=True)
    state = torch.load(pretrained_weights_path("efficientnet_lite0"), weights_only=True)
    net._fc.load_state_dict({"weight": state["_fc.weight"], "bias": state["_fc.bias"]})
    net.eval()
    x = crops_to_tensor(data.chelsea()[None, :, 75:375], 224)
    with torch.no_grad():
        top = int(net(x).argmax())
    assert 281 <= top <= 285  # ImageNet's domestic cat classes (tabby, tiger cat, Persian, ...)


def test_build_cnn_rejects_unknown_and_missing():
    with pytest.raises(ValueError, match="allowed"):
        build_cnn("vgg99", 5)
    for arch in ("resnet18", "mobilenet_v3_small"):
        net = build_cnn(arch, 5, pretrained=False).eval()
        with torch.no_grad():
            assert net(torch.zeros(2, 3, 64, 64)).shape == (2, 5)
        if pretrained_weights_path(arch) is None:
            with pytest.raises(ModelFileError) as err:
                build_cnn(arch, 5, pretrained=True)
            assert err.value.code == "weights_missing"


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="pieces"):
        ExpressionModel("forest", 5)


def test_bundle_round_trip_pieces(tmp_path):
    faces, labels = synthetic_set(12, seed=2)
    res = train("pieces", faces, labels, TrainConfig(epochs=30), class_names=CLASSES)
    path = tmp_path / "m.pt"
    data = save_bundle(res.bundle, path)
    assert path.read_bytes() == data
    raw = torch.load(io.BytesIO(data), weights_only=True)  # only tensors and plain containers
    assert raw["kind"] == "pieces" and raw["class_names"] == list(CLASSES)
    assert raw["feature_spec"]["names"] == list(feature_spec().names)
    for source in (path, data):
        again = load_bundle(source)
        np.testing.assert_allclose(predict_proba(again, faces), predict_proba(res.bundle, faces), atol=1e-6)
        assert again.metrics["best_epoch"] == res.best_epoch


def test_head_only_cnn_bundle_is_small_and_equal(tmp_path):
    faces, labels = synthetic_set(4, seed=3)
    res = train("cnn", faces, labels, TrainConfig(tiny=True, epochs=3), class_names=CLASSES)
    data = save_bundle(res.bundle)
    assert len(data) < 200_000  # the frozen ImageNet backbone is not copied into the file
    again = load_bundle(data)
    np.testing.assert_allclose(predict_proba(again, faces), predict_proba(res.bundle, faces), atol=1e-5)


def test_broken_and_missing_files(tmp_path):
    with pytest.raises(ModelFileError) as err:
        load_bundle(tmp_path / "nope.pt")
    assert err.value.code == "model_missing"
    with pytest.raises(ModelFileError) as err:
        load_bundle(b"this is not a model")
    assert err.value.code == "model_broken"
    buf = io.BytesIO()
    torch.save({"format": "something-else"}, buf)
    with pytest.raises(ModelFileError) as err:
        load_bundle(buf.getvalue())
    assert err.value.code == "model_broken"


def test_onnx_export_needs_onnx(tmp_path):
    faces, labels = synthetic_set(6, seed=4)
    res = train("pieces", faces, labels, TrainConfig(epochs=5), class_names=CLASSES)
    try:
        import onnx  # noqa: F401
    except ImportError:
        with pytest.raises(ModelFileError) as err:
            export_onnx(res.bundle, tmp_path / "m.onnx")
        assert err.value.code == "onnx_unavailable"
    else:
        assert export_onnx(res.bundle, tmp_path / "m.onnx").stat().st_size > 0
