"""Pieces features, the CNN builders and the one-file model bundle."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from test_models_support import CLASSES, synthetic_face, synthetic_set

from edu_core.errors import ModelFileError
from edu_core.faces import FaceResult
from edu_core.features import (
    FEATURE_BLENDSHAPES,
    GEOMETRY_FEATURES,
    PIECES,
    feature_spec,
    frontal_landmarks,
    geometry_features,
    head_rotation,
    pieces_features,
    pieces_matrix,
)
from edu_core.models import (
    ExpressionModel,
    build_cnn,
    crops_to_tensor,
    export_onnx,
    load_bundle,
    pretrained_weights_path,
    save_bundle,
)
from edu_core.predict import predict_proba
from edu_core.train import train
from edu_core.trainconfig import TrainConfig


def test_feature_spec_names_every_column_and_piece():
    spec = feature_spec()
    assert len(spec.names) == len(FEATURE_BLENDSHAPES) + len(GEOMETRY_FEATURES)
    assert not any(n.startswith("bs_eyeLook") for n in spec.names)  # gaze is not an expression
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


def _turned(landmarks: np.ndarray, pose: tuple[float, float, float], extra_yaw: float, extra_pitch: float):
    """The same face with its head turned further, and the pose MediaPipe would then report."""
    front = frontal_landmarks(landmarks, pose)
    new_pose = (pose[0] + extra_yaw, pose[1] + extra_pitch, pose[2])
    flip = np.array([1.0, -1.0, -1.0])
    centre = front.mean(axis=0)
    turned = ((front - centre) * flip) @ head_rotation(*new_pose).T * flip + centre
    return turned.astype(np.float32), new_pose


def test_geometry_ignores_a_head_turn_that_the_pose_reports():
    import face_variants as fv

    from edu_core.faces import Landmarker, head_pose

    with Landmarker() as lm:
        face = lm.detect(np.asarray(fv.astronaut()))[0]
    pose = head_pose(face.matrix)
    base = geometry_features(face.landmarks, pose)
    turned, new_pose = _turned(face.landmarks, pose, 25.0, -12.0)
    # without the pose the 2-D distances change with the turn ...
    assert np.abs(geometry_features(turned) - geometry_features(face.landmarks)).max() > 0.05
    # ... with it the face is turned back first and the shape features stay (the last two
    # columns are the pose itself)
    assert [n for n, _ in GEOMETRY_FEATURES][-2:] == ["yaw", "pitch"]
    np.testing.assert_allclose(geometry_features(turned, new_pose)[:-2], base[:-2], atol=1e-3)


def test_frontal_landmarks_undo_the_reported_rotation_and_keep_2d_input():
    rng = np.random.default_rng(5)
    lm = rng.uniform(50, 200, (478, 3)).astype(np.float32)
    turned, pose = _turned(lm, (0.0, 0.0, 0.0), -20.0, 15.0)
    np.testing.assert_allclose(frontal_landmarks(turned, pose), lm, atol=1e-3)
    assert frontal_landmarks(lm, None) is not None and np.allclose(frontal_landmarks(lm, None), lm)
    flat = lm[:, :2]
    assert np.allclose(frontal_landmarks(flat, pose), flat)  # no depth: nothing to turn


def test_brow_height_does_not_move_with_the_eyelids():
    face = synthetic_face("neutral", np.random.default_rng(2), noise=0)
    names = [n for n, _ in GEOMETRY_FEATURES]
    wide = face.landmarks.copy()
    wide[[159, 386], 1] -= 6  # upper lids up: a wider-open (or differently shaped) eye
    wide[[145, 374], 1] += 6
    a, b = geometry_features(face.landmarks), geometry_features(wide)
    for n in ("brow_inner_height_left", "brow_mid_height_right", "brow_outer_height_left"):
        assert a[names.index(n)] == pytest.approx(b[names.index(n)], abs=1e-6)
    assert b[names.index("eye_open_left")] > a[names.index("eye_open_left")]


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


@pytest.mark.slow
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
