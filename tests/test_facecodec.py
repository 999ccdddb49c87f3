"""One serializer for face results: every stored form gives back the result it was given."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edu_core import facecodec
from edu_core.faces import FaceResult


def _accepted() -> FaceResult:
    rng = np.random.default_rng(3)
    return FaceResult(
        status="ok",
        detail="",
        image_size=(640, 480),
        box=(200, 120, 420, 380),
        crop_box=(150, 60, 470, 440),
        crop=rng.integers(0, 256, (256, 256, 3), dtype=np.uint8),
        landmarks=(rng.random((478, 3)) * 256).astype(np.float32),
        blendshapes={"_neutral": float(np.float32(0.12345678)), "jawOpen": float(np.float32(0.9))},
        pose=(3.141592653589793, -12.5, 0.1),
        quality={"brightness": 123.456789012, "sharpness": 88.1, "mouth_covered": 0.01},
    )


def _rejected() -> FaceResult:
    return FaceResult(status="rejected", reason="occluded_mouth", detail="mask", image_size=(640, 480))


def _same(a: FaceResult, b: FaceResult) -> None:
    for f in dataclasses.fields(FaceResult):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert x is not None and y is not None, f.name
            assert x.dtype == y.dtype and np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


@pytest.mark.parametrize("make", [_accepted, _rejected])
def test_columns_round_trip(make):
    face = make()
    cols = facecodec.to_columns(face)
    assert set(cols) == set(facecodec.COLUMNS)
    crop = facecodec.decode_crop(facecodec.encode_crop(face.crop)) if face.crop is not None else None
    _same(facecodec.from_columns(cols, crop=crop), face)


@pytest.mark.parametrize("make", [_accepted, _rejected])
def test_arrays_and_files_round_trip(make, tmp_path):
    face = make()
    assert all(a.dtype != object for a in facecodec.to_arrays(face).values())
    _same(facecodec.from_arrays(facecodec.to_arrays(face)), face)
    path = tmp_path / "cache" / "one.npz"
    facecodec.save_npz(path, face)
    _same(facecodec.load_npz(path), face)


def test_older_cache_spellings_are_read(tmp_path):
    face = _accepted()
    names = sorted(face.blendshapes)
    values = np.array([face.blendshapes[n] for n in names], np.float32)
    base = {"status": np.array("ok"), "reason": np.array(""), "detail": np.array(""), "crop": face.crop}
    train_style = {
        **base,
        "bs_names": np.array(names),
        "bs_values": values,
        "pose": np.full(3, np.nan, np.float32),
    }
    bench_style = {
        **base,
        "blend_names": np.array(names),
        "blend": values,
        "crop_box": np.array(face.crop_box),
    }
    got = facecodec.from_arrays(train_style)
    assert got.blendshapes == face.blendshapes and got.pose is None
    got = facecodec.from_arrays(bench_style)
    assert got.blendshapes == face.blendshapes and got.crop_box == face.crop_box


def test_missing_or_broken_files_load_as_none(tmp_path):
    assert facecodec.load_npz(tmp_path / "absent.npz") is None
    torn = tmp_path / "torn.npz"
    facecodec.save_npz(torn, _accepted())
    torn.write_bytes(torn.read_bytes()[:100])
    assert facecodec.load_npz(torn) is None
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, something=np.zeros(3))
    assert facecodec.load_npz(foreign) is None
