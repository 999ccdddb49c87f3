"""The cover gate: drawn occluders on a real portrait and painted faces, teeth, dark skin, real photos."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
import warnings
from functools import lru_cache
from pathlib import Path

import face_variants as fv
import numpy as np
import pytest
from PIL import Image

from edu_core import faces
from edu_core.faces import CropConfig, extract
from edu_core.landmarks import EYE_LEFT, EYE_RIGHT, FACE_OVAL, LIPS_INNER, LIPS_OUTER
from edu_core.occlusions import KINDS, occlude

ROOT = Path(__file__).resolve().parent.parent
COVERED = [k for k, v in KINDS.items() if v != "ok"]


@lru_cache(maxsize=4)
def _painted(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A committed painted sample face (accepted, of the given class) and its landmarks."""
    with (ROOT / "sample_images" / "labels.csv").open(encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["class"] == name and not r["expected_reason"])
    rgb = np.asarray(Image.open(ROOT / "sample_images" / row["file"]).convert("RGB"))
    with faces.Landmarker() as lm:
        found = lm.detect(rgb)
    assert len(found) == 1
    return rgb, found[0].landmarks


def _astronaut() -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(fv.astronaut()), fv.astronaut_landmarks()


def _poly(shape, pts, scale: float = 1.0) -> np.ndarray:
    import cv2

    c = pts.mean(0)
    m = np.zeros(shape, np.float32)
    cv2.fillPoly(m, [np.round(c + (pts - c) * scale).astype(np.int32)], 1.0)
    return m


def with_teeth(rgb: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """A broad toothy smile: a bright band of teeth, with dark gaps, between the lips."""
    import cv2

    out = rgb.copy()
    outer = lm[list(LIPS_OUTER), :2]
    inner = lm[list(LIPS_INNER), :2]
    (x0, y0), (x1, y1) = outer.min(0), outer.max(0)
    mid = inner[:, 1].mean()
    half = max(2.0, 0.22 * (y1 - y0))
    band = np.zeros(rgb.shape[:2], np.float32)
    cv2.ellipse(band, (int((x0 + x1) / 2), int(mid)), (int(0.38 * (x1 - x0)), int(half)), 0, 0, 360, 1.0, -1)
    teeth = np.full(rgb.shape, (242, 240, 232), np.float32)
    for k in range(-4, 5):  # the gaps between teeth
        x = int((x0 + x1) / 2 + k * 0.08 * (x1 - x0))
        cv2.line(teeth, (x, int(mid - half)), (x, int(mid + half)), (150, 140, 135), 1)
    band = cv2.GaussianBlur(band, (0, 0), 0.8)[..., None]
    return (out * (1 - band) + teeth * band).clip(0, 255).astype(np.uint8)


def with_dark_skin(rgb: np.ndarray, lm: np.ndarray, depth: float = 0.3) -> np.ndarray:
    """The face's skin (and lips, which are dark on dark skin) made deep brown; eyes and teeth stay."""
    import cv2

    shape = rgb.shape[:2]
    skin = _poly(shape, lm[list(FACE_OVAL), :2], 1.05)
    keep = np.maximum(_poly(shape, lm[list(EYE_RIGHT), :2], 1.1), _poly(shape, lm[list(EYE_LEFT), :2], 1.1))
    keep = np.maximum(keep, _poly(shape, lm[list(LIPS_INNER), :2]))
    mask = cv2.GaussianBlur(np.clip(skin - keep, 0, 1), (0, 0), 2.0)[..., None]
    # in linear light: a dark skin reflects a fraction of the light, a little more of the red
    lin = (rgb.astype(np.float32) / 255.0) ** 2.2
    dark = lin * np.array([depth * 1.1, depth * 0.85, depth * 0.7], np.float32)
    out = lin * (1 - mask) + dark * mask
    return (out ** (1 / 2.2) * 255).clip(0, 255).astype(np.uint8)


def grey(rgb: np.ndarray) -> np.ndarray:
    g = (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def _judge(rgb: np.ndarray, landmarker) -> faces.FaceResult:
    return extract(fv.to_jpeg(rgb), landmarker=landmarker)


# --- the features: the fast code must compute what the shipped gate was fitted on ---------------


def _reference_features(crop: np.ndarray, landmarks: np.ndarray, blendshapes: dict) -> dict[str, float]:
    """cover_features written plainly (whole-crop masks, np.median, np.percentile), as first fitted."""
    import cv2

    from edu_core.facecover import _BLENDS, _FEATURE_SIZE, _REGIONS, _disc, _scaled
    from edu_core.facecover import _patch as patch
    from edu_core.facecover import _polygon_mask as poly
    from edu_core.landmarks import CHEEKS
    from edu_core.landmarks import FOREHEAD_POLY as _FOREHEAD_POLY

    p = landmarks[:, :2].astype(np.float32)
    if crop.shape[0] != _FEATURE_SIZE:
        p = p * (_FEATURE_SIZE / crop.shape[0])
        crop = cv2.resize(crop, (_FEATURE_SIZE, _FEATURE_SIZE), interpolation=cv2.INTER_AREA)
    shape = crop.shape[:2]
    lab = cv2.cvtColor(crop.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    big_l = cv2.GaussianBlur(lab[..., 0], (0, 0), 0.7)
    gx = cv2.Sobel(big_l, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(big_l, cv2.CV_32F, 0, 1, ksize=3)
    grad = np.sqrt(gx * gx + gy * gy)
    face = poly(shape, p[list(FACE_OVAL)])
    fl = big_l[face]
    l_med = float(np.median(fl))
    l_scale = max(5.0, float(np.percentile(fl, 90) - np.percentile(fl, 10)))
    g_ref = max(0.5, float(grad[face].mean()))
    ab = lab[..., 1:]
    ab_ref = np.median(ab[face], axis=0)
    colourful = float(np.mean(np.abs(ab[face] - ab_ref))) + 1.0
    r = max(2, _FEATURE_SIZE // 32)
    lips = poly(shape, p[list(LIPS_OUTER)])
    ring = poly(shape, _scaled(p[list(LIPS_OUTER)], 1.7)) & ~lips
    e0, e1 = p[list(EYE_RIGHT)], p[list(EYE_LEFT)]
    eyes = poly(shape, _scaled(e0, 1.3)) | poly(shape, _scaled(e1, 1.3))
    regions = {
        "lips": lips,
        "mouth_ring": ring,
        "chin": _disc(shape, [(p[17] + p[152]) / 2], r),
        "low_cheeks": _disc(shape, p[list(CHEEKS)], r),
        "up_cheeks": _disc(shape, p[[50, 280]], r),
        "nose": _disc(shape, p[[4, 195]], max(2, r // 2)),
        "eyes": eyes,
        "eye_ring": (poly(shape, _scaled(e0, 2.3)) | poly(shape, _scaled(e1, 2.3))) & ~eyes,
        "forehead": poly(shape, p[list(_FOREHEAD_POLY)]),
    }
    out = {}
    for name in _REGIONS:
        m = regions[name]
        lv = big_l[m]
        out[f"{name}_d"] = (float(np.median(lv)) - l_med) / l_scale
        out[f"{name}_s"] = float(lv.std()) / l_scale
        out[f"{name}_g"] = float(grad[m].mean()) / g_ref
        out[f"{name}_c"] = float(np.linalg.norm(np.median(ab[m], axis=0) - ab_ref)) / colourful
    pairs = ((13, 14), (82, 87), (312, 317), (81, 178), (311, 402))
    line = np.concatenate([patch(big_l, *((p[a] + p[b]) / 2), max(1, r // 3)) for a, b in pairs])
    lip_l = float(np.median(big_l[lips & ~poly(shape, p[list(LIPS_INNER)])]))
    out["lip_line"] = (float(np.median(line)) - lip_l) / l_scale
    out["lip_line_abs"] = abs(out["lip_line"])
    m = lips | ring
    out["mouth_horizontal"] = float(
        np.abs(gy[m]).mean() / (np.abs(gx[m]).mean() + np.abs(gy[m]).mean() + 1e-3)
    )
    sclera = []
    for iris, corners in ((468, (33, 133)), (473, (362, 263))):
        il = float(np.median(patch(big_l, *p[iris], max(1, r // 3))))
        side = [float(np.median(patch(big_l, *((p[iris] + p[c]) / 2), max(1, r // 4)))) for c in corners]
        sclera.append((max(side) - il) / l_scale)
    out["sclera_iris"] = float(np.mean(sclera))
    out["sclera_iris_min"] = float(np.min(sclera))
    out["eye_open"] = float(
        np.mean([np.linalg.norm(p[159] - p[145]), np.linalg.norm(p[386] - p[374])])
        / max(np.linalg.norm(p[33] - p[263]), 1.0)
    )
    out.update({f"bs_{b}": float(blendshapes.get(b, 0.0)) for b in _BLENDS})
    return out


@pytest.mark.parametrize("kind", ["clean", "mask", "hand_eyes", "sunglasses", "grey", "teeth"])
def test_cover_features_equal_their_plain_definition(landmarker, kind):
    # face_gate.json was fitted on these numbers: a faster way of computing them must not move them.
    rgb, lm = _astronaut()
    if kind == "grey":
        rgb = grey(rgb)
    elif kind == "teeth":
        rgb = with_teeth(rgb, lm)
    elif kind != "clean":
        rgb = occlude(rgb, lm, kind, seed=1)
    r = _judge(rgb, landmarker)
    assert r.crop is not None, (r.reason, r.detail)
    for crop, k in ((r.crop, 1.0), (r.crop[::2, ::2].copy(), 0.5)):  # the 256 px crop, and one at 128 px
        lms = r.landmarks * k
        want = _reference_features(crop, lms, r.blendshapes)
        got = faces.cover_features(crop, lms, r.blendshapes)
        assert got.keys() == want.keys()
        bad = {n: (got[n], want[n]) for n in want if not np.isclose(got[n], want[n], rtol=1e-4, atol=1e-5)}
        assert not bad, bad


@pytest.mark.parametrize("n", [0, 1, 2, 7, 50, 5701])
def test_partial_sort_statistics_match_numpy(n):
    from edu_core.facecover import _median_rows, _percentiles

    v = np.random.default_rng(n).normal(size=(n, 3)).astype(np.float32)
    with warnings.catch_warnings():  # np.median warns on an empty array and answers nan, as we do
        warnings.simplefilter("ignore")
        want = np.median(v, axis=0)
    np.testing.assert_allclose(_median_rows(v), want, rtol=1e-6)
    if n:
        np.testing.assert_allclose(_median_rows(v[:, 0]), np.median(v[:, 0]), rtol=1e-6)
        qs = (0.1, 0.5, 0.9)
        np.testing.assert_allclose(
            _percentiles(v[:, 0], qs), np.percentile(v[:, 0], [100 * q for q in qs]), rtol=1e-5
        )


# --- the occluders, on a real portrait and on painted faces -------------------------------------


def test_drawn_occluders_on_the_astronaut_meet_the_gate_goals(landmarker):
    # The goals for covered faces: >= 90 % rejected, >= 85 % with the right part named.
    # Per photo the gate can miss (a light cap brim, pale tinted lenses), so the goal is checked
    # over every kind of occluder at three seeds, and every kind must be caught at least once.
    rgb, lm = _astronaut()
    verdicts = {
        (kind, seed): _judge(occlude(rgb, lm, kind, seed=seed), landmarker).reason
        for kind in COVERED
        for seed in range(3)
    }
    named = sum(v == KINDS[k] for (k, _), v in verdicts.items()) / len(verdicts)
    rejected = sum(v is not None for v in verdicts.values()) / len(verdicts)
    assert rejected >= 0.9 and named >= 0.85, verdicts
    for kind in COVERED:
        assert any(verdicts[(kind, s)] == KINDS[kind] for s in range(3)), (kind, verdicts)


@pytest.mark.parametrize("kind", ["mask", "sunglasses", "hand_mouth", "fringe"])
@pytest.mark.parametrize("cls", ["joy", "neutral"])
def test_drawn_occluders_on_painted_faces_are_rejected(landmarker, kind, cls):
    rgb, lm = _painted(cls)
    r = _judge(occlude(rgb, lm, kind, seed=3), landmarker)
    # a painted face under a fringe may no longer be found at all; then it is still turned away
    assert r.reason == KINDS[kind] or (kind == "fringe" and r.reason == "no_face"), (r.reason, r.detail)


def test_no_face_message_names_what_may_hide_the_face():
    # A mask, gaiter or fringe can hide so much that MediaPipe finds no face at all (about a sixth of
    # the drawn fringes and gaiters on real people): the reason is then no_face, and its message must
    # still tell the student what to change.
    from edu_core.i18n import reason_message

    assert all(w in reason_message("no_face", "en") for w in ("mask", "hand", "hair"))
    assert all(w in reason_message("no_face", "ko") for w in ("마스크", "손", "머리카락"))


def test_mask_on_the_chin_leaves_the_mouth_visible(landmarker):
    rgb, lm = _astronaut()
    r = _judge(occlude(rgb, lm, "mask_on_chin", seed=0), landmarker)
    assert r.ok, (r.reason, r.detail)


def test_occluders_are_deterministic_and_leave_the_input_alone():
    rgb, lm = _astronaut()
    before = rgb.copy()
    a = occlude(rgb, lm, "mask", seed=5)
    b = occlude(rgb, lm, "mask", seed=5)
    assert np.array_equal(a, b) and np.array_equal(rgb, before)
    assert not np.array_equal(a, occlude(rgb, lm, "mask", seed=6))
    with pytest.raises(ValueError):
        occlude(rgb, lm, "balaclava")


def test_occluders_on_a_greyscale_photo_stay_grey():
    rgb, lm = _astronaut()
    out = occlude(grey(rgb), lm, "mask", seed=1).astype(int)
    assert np.abs(out[..., 0] - out[..., 1]).max() <= 2


# --- regressions: the two failures found on real photos ------------------------------------------


def test_toothy_smile_is_not_a_covered_mouth_on_the_astronaut(landmarker):
    rgb, lm = _astronaut()
    r = _judge(with_teeth(rgb, lm), landmarker)
    assert r.ok, (r.reason, r.detail)


def test_toothy_smile_is_not_a_covered_mouth_on_a_painted_face(landmarker):
    rgb, lm = _painted("joy")
    r = _judge(with_teeth(rgb, lm), landmarker)
    assert r.ok, (r.reason, r.detail)


@pytest.mark.parametrize("depth", [0.35, 0.2])
def test_dark_skin_is_accepted(landmarker, depth):
    rgb, lm = _astronaut()
    r = _judge(with_dark_skin(rgb, lm, depth), landmarker)
    assert r.ok, (r.reason, r.detail)


def test_dark_skin_painted_face_with_teeth_is_accepted(landmarker):
    rgb, lm = _painted("joy")
    r = _judge(with_teeth(with_dark_skin(rgb, lm, 0.3), lm), landmarker)
    assert r.ok, (r.reason, r.detail)


@pytest.mark.parametrize(("kind", "reason"), [("mask", "occluded_mouth"), ("sunglasses", "occluded_eyes")])
def test_dark_skin_with_a_cover_is_still_rejected(landmarker, kind, reason):
    rgb, lm = _astronaut()
    r = _judge(occlude(with_dark_skin(rgb, lm, 0.3), lm, kind, seed=2), landmarker)
    assert r.reason == reason, (r.reason, r.detail)


def test_greyscale_portrait_is_accepted_and_its_mask_rejected(landmarker):
    rgb, lm = _astronaut()
    assert _judge(grey(rgb), landmarker).ok
    r = _judge(occlude(grey(rgb), lm, "mask", seed=4), landmarker)
    assert r.reason == "occluded_mouth", (r.reason, r.detail)


# --- the shipped decision --------------------------------------------------------------------------


def test_shipped_gate_is_a_small_file_of_numbers_matching_cropconfig():
    data = json.loads((ROOT / "edu_core" / "face_gate.json").read_text(encoding="utf-8"))
    numbers = len(data["mean"]) + len(data["scale"]) + sum(len(w) for w in data["weights"].values())
    assert numbers < 400
    assert data["features_version"] == faces.COVER_FEATURES_VERSION
    cfg = CropConfig()
    assert cfg.mouth_covered == pytest.approx(data["thresholds"]["mouth"])
    assert cfg.eyes_covered == pytest.approx(data["thresholds"]["eyes"])
    assert set(data["names"]) == set(faces.cover_features(*_astronaut_crop()))


def _astronaut_crop():
    r = extract(fv.to_jpeg(fv.astronaut()), CropConfig(check_cover=False))
    return r.crop, r.landmarks, r.blendshapes


def test_stricter_thresholds_turn_the_portrait_away(landmarker):
    r = extract(fv.to_jpeg(fv.astronaut()), CropConfig(mouth_covered=0.0), landmarker=landmarker)
    assert r.reason == "occluded_mouth"
    r = extract(fv.to_jpeg(fv.astronaut()), CropConfig(eyes_covered=0.0), landmarker=landmarker)
    assert r.reason == "occluded_eyes"
    assert extract(fv.to_jpeg(fv.astronaut()), CropConfig(check_cover=False), landmarker=landmarker).ok


# --- the real-photo dev set (skipped without it) ----------------------------------------------------


def test_bench_without_the_dev_set_says_so_and_exits_0(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "EXPRESSION_LAB_REALFACES"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "realfaces.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0 and "not here" in proc.stdout
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fit_gate.py"), "--out", str(tmp_path / "g.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0 and not (tmp_path / "g.json").exists()


def _realfaces_bench():
    """bench/realfaces.py, a script rather than a package module, loaded from its file."""
    if "realfaces" not in sys.modules:
        spec = importlib.util.spec_from_file_location("realfaces", ROOT / "bench" / "realfaces.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["realfaces"] = mod  # its dataclasses look their module up there
        spec.loader.exec_module(mod)
    return sys.modules["realfaces"]


def test_person_split_is_stable_and_disjoint():
    rf = _realfaces_bench()

    splits = [rf.person_split(f"kor:{i}") for i in range(2000)]
    assert splits == [rf.person_split(f"kor:{i}") for i in range(2000)]
    assert 0.4 < splits.count("test") / len(splits) < 0.6


@pytest.mark.skipif(
    not os.environ.get("EXPRESSION_LAB_REALFACES"),
    reason="EXPRESSION_LAB_REALFACES is not set: the real-photo dev set (shared/DEVSET.md) is not here",
)
def test_gate_on_held_out_real_people():
    rf = _realfaces_bench()

    root = rf.devset_root()
    assert root is not None, "EXPRESSION_LAB_REALFACES does not point at a dev set with labels.csv"
    cases = rf.build(root, part="test", limit=150)
    assert all(c.row.split == "test" for c in cases)
    verdicts = [rf.rejudge(c, CropConfig()) for c in cases]
    s = rf.summary(cases, verdicts)
    assert s["clean_kept"] >= 0.95, s
    assert s["cover_rejected"] >= 0.85, s
    assert s["frame_rejected"] >= 0.9, s
