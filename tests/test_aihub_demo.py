"""The synthetic AI-Hub-format demo set: layout, label files, EXIF storage, disagreement."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edu_core import korean7
from edu_core.images import decode
from edu_core.korean7 import demo as aihub_demo
from edu_core.korean7.demo import (
    DISAGREEMENT,
    KOREAN7_DATASET_NAMES,
    UNKNOWN,
    annotate,
    majority,
    write_demo_set,
)


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, aihub_demo.DemoSummary]:
    root = tmp_path_factory.mktemp("demo") / "set"
    summary = write_demo_set(root, per_class=3, seed=5, long_side=200, n_missing=1)
    return root, summary


def test_official_layout_and_label_files(official: tuple[Path, aihub_demo.DemoSummary]) -> None:
    root, summary = official
    for cls in KOREAN7_DATASET_NAMES:
        assert (
            root / "Training" / f"[라벨]EMOIMG_{cls}_TRAIN" / f"img_emotion_training_data({cls}).json"
        ).is_file()
        assert (root / "Training" / f"[원천]EMOIMG_{cls}_TRAIN_01").is_dir()
        assert (
            root / "Validation" / f"[라벨]EMOIMG_{cls}_VALID" / f"img_emotion_validation_data({cls}).json"
        ).is_file()
    jpgs = list(root.rglob("*.jpg"))
    assert len(jpgs) == summary.n_images == 7 * 3 - 1
    assert summary.label_encodings == {"utf-8": 5, "utf-8-sig": 5, "cp949": 4}
    seen_enc = Counter()
    records = []
    for path in root.rglob("*.json"):
        raw = path.read_bytes()
        if raw.startswith(b"\xef\xbb\xbf"):
            seen_enc["bom"] += 1
            recs = json.loads(raw.decode("utf-8-sig"))
        else:
            try:
                recs = json.loads(raw.decode("utf-8"))
                seen_enc["utf-8"] += 1
            except UnicodeDecodeError:
                recs = json.loads(raw.decode("cp949"))
                seen_enc["cp949"] += 1
        folder = path.name.split("(")[1].split(")")[0]
        for rec in recs:
            assert rec["faceExp_uploader"] == folder
            assert set(rec) >= {
                "filename",
                "gender",
                "age",
                "isProf",
                "bg_uploader",
                "annot_A",
                "annot_B",
                "annot_C",
            }
            records.append(rec)
    assert seen_enc == {"utf-8": 5, "bom": 5, "cp949": 4}
    assert len(records) == 21
    names = {p.name for p in jpgs}
    missing = [r["filename"] for r in records if r["filename"] not in names]
    assert missing == summary.missing_images and len(missing) == 1


def test_boxes_are_tall_differ_between_annotators_and_fit_the_upright_photo(
    official: tuple[Path, aihub_demo.DemoSummary],
) -> None:
    root, _ = official
    files = {p.name: p for p in root.rglob("*.jpg")}
    ratios = []
    for path in root.rglob("*.json"):
        raw = path.read_bytes()
        for enc in ("utf-8-sig", "cp949"):
            try:
                recs = json.loads(raw.decode(enc))
                break
            except UnicodeDecodeError:
                continue
        for rec in recs:
            boxes = [rec[k]["boxes"] for k in ("annot_A", "annot_B", "annot_C")]
            assert len({json.dumps(b, sort_keys=True) for b in boxes}) == 3
            if rec["filename"] not in files:
                continue
            w, h = decode(files[rec["filename"]]).original_size
            for b in boxes:
                assert 0 <= b["minX"] < b["maxX"] <= w and 0 <= b["minY"] < b["maxY"] <= h
                ratios.append((b["maxX"] - b["minX"]) / (b["maxY"] - b["minY"]))
    assert 0.66 < float(np.median(ratios)) < 0.8


def test_every_exif_orientation_is_present(official: tuple[Path, aihub_demo.DemoSummary]) -> None:
    root, summary = official
    assert set(summary.orientations) == set(range(1, 9))
    found = Counter()
    for path in root.rglob("*.jpg"):
        with Image.open(path) as im:
            found[im.getexif().get(0x0112, 1)] += 1
    assert dict(found) == summary.orientations


@pytest.mark.parametrize("orientation", range(1, 9))
def test_stored_pixels_come_back_upright(orientation: int) -> None:
    # An asymmetric picture: any wrong rotation or mirror changes it.
    upright = np.zeros((80, 120, 3), np.uint8)
    upright[:25, :40] = (250, 20, 20)
    upright[55:, 90:] = (20, 20, 250)
    upright[:, 60:64, 1] = 200
    data = aihub_demo._jpeg_bytes(upright, orientation, 95)
    with Image.open(io.BytesIO(data)) as im:
        assert im.getexif().get(0x0112) == orientation
    back = decode(data).rgb
    assert back.shape == upright.shape
    assert np.abs(back.astype(int) - upright.astype(int)).mean() < 6


def test_disagreement_rates_follow_the_data_set() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    for folder, target in (("기쁨", 0.975), ("중립", 0.946), ("당황", 0.775), ("불안", 0.378)):
        outs = [annotate(rng, folder) for _ in range(n)]
        same = sum(majority(labels) == folder for labels, _ in outs) / n
        assert abs(same - target) < 0.03, (folder, same)
        if folder == "불안":
            none = sum(majority(labels) is None for labels, _ in outs) / n
            assert abs(none - DISAGREEMENT["불안"].no_majority) < 0.03
    labels = [lab for _ in range(2000) for lab in annotate(rng, "상처")[0]]
    assert UNKNOWN in labels
    # The painted face follows the majority, so agreement filtering fixes real label noise.
    for _ in range(500):
        labels, shown = annotate(rng, "불안")
        maj = majority(labels)
        if maj is not None and maj != UNKNOWN:
            assert shown == maj


def test_same_arguments_give_identical_files(tmp_path: Path) -> None:
    def digest(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    write_demo_set(tmp_path / "a", per_class=1, seed=3, long_side=160)
    write_demo_set(tmp_path / "b", per_class=1, seed=3, long_side=160)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


def test_zipped_and_other_layouts(tmp_path: Path) -> None:
    s = write_demo_set(tmp_path / "z", per_class=1, seed=1, long_side=160, zipped=True)
    zips = sorted((tmp_path / "z").rglob("*.zip"))
    assert zips and not [p for p in (tmp_path / "z").rglob("*") if p.suffix in (".jpg", ".json")]
    members = [n for z in zips for n in zipfile.ZipFile(z).namelist()]
    assert sum(n.endswith(".jpg") for n in members) == s.n_images
    assert sum(n.endswith(".json") for n in members) == s.n_label_files
    write_demo_set(tmp_path / "u", per_class=1, seed=1, long_side=160, layout="unzipped")
    assert (tmp_path / "u" / "Training" / "기쁨_unzipped").is_dir() or (
        tmp_path / "u" / "Validation" / "기쁨_unzipped"
    ).is_dir()
    write_demo_set(tmp_path / "f", per_class=1, seed=1, long_side=160, layout="flat")
    assert sorted(p.name for p in (tmp_path / "f").iterdir() if p.is_dir()) == sorted(KOREAN7_DATASET_NAMES)


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="layout"):
        write_demo_set(tmp_path / "x", per_class=1, layout="sideways")
    with pytest.raises(ValueError, match="zipped"):
        write_demo_set(tmp_path / "x", per_class=1, layout="flat", zipped=True)
    with pytest.raises(ValueError, match="encoding"):
        write_demo_set(tmp_path / "x", per_class=1, json_encodings=["latin-1"])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        write_demo_set(tmp_path / "full", per_class=1)


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = aihub_demo.main(
        [
            "--out",
            str(tmp_path / "cli"),
            "--per-class",
            "1",
            "--long-side",
            "160",
            "--encodings",
            "cp949",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_records"] == 7 and out["label_encodings"] == {"cp949": 7}


def test_korean7_cli_writes_the_demo_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["demo-set", "--out", str(tmp_path / "k7"), "--per-class", "1", "--long-side", "160", "--json"]
    assert korean7.main(args) == 0
    assert json.loads(capsys.readouterr().out)["n_records"] == 7
    assert (tmp_path / "k7" / "DEMO_README.txt").is_file()
