"""The Korean seven-class pipeline on the synthetic AI-Hub-format demo set."""

from __future__ import annotations

import json
import shutil
import unicodedata
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from korean7_faces import SIX, write_face_folder

from edu_core import korean7
from edu_core.korean7 import (
    INVALID,
    UNKNOWN,
    CropCache,
    Korean7Error,
    Korean7TrainConfig,
    PrepareConfig,
    agreement,
    agreement_labels,
    decode_label_bytes,
    import_dataset,
    prepare,
)
from edu_core.korean7.demo import majority, write_demo_set
from edu_core.korean7.records import zip_member_name
from edu_core.labels import KOREAN7_CLASSES

pytestmark = pytest.mark.slow  # trains real models

BOXES = PrepareConfig(per_class=None, crop_source="boxes", size=64, workers=2, shard_size=8)
TINY = Korean7TrainConfig(
    arch="resnet18",
    epochs=1,
    batch_size=32,
    image_size=32,
    pretrained="no",
    workers=0,
    patience=5,
    lr=1e-3,
    cpu_threads=1,
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("k7") / "aihub"
    write_demo_set(root, per_class=6, seed=11, long_side=240, n_missing=2)
    return root


@pytest.fixture(scope="module")
def cache(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("k7cache") / "cache"
    prepare(demo, out, BOXES)
    return out


@pytest.fixture(scope="module")
def trained(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("k7model") / "model"
    return out, korean7.train_korean7(cache, out, TINY)


def _json_truth(root: Path) -> list[dict]:
    recs = []
    for path in root.rglob("*.json"):
        recs += decode_label_bytes(path.read_bytes())[0]
    return recs


def test_import_matches_records_to_photos_and_reports_missing(demo: Path) -> None:
    res = import_dataset(demo)
    rep = res.report
    assert rep.records == 42 and rep.label_files == 14
    assert rep.images == 40 and rep.matched == 40
    assert len(rep.missing_images) == 2 and rep.orphan_images == 0
    assert rep.encodings == {"utf-8": 5, "utf-8-sig": 5, "cp949": 4}
    assert rep.per_uploader == {c: 6 for c in KOREAN7_CLASSES}
    by_name = {r.filename: r for r in res.records}
    for name in rep.missing_images:
        assert by_name[name].image is None
    truth = {r["filename"]: r for r in _json_truth(demo)}
    for rec in res.records:
        t = truth[rec.filename]
        assert rec.person == rec.filename.split("_")[0]
        assert rec.source_split in ("training", "validation")
        assert len(rec.annotators) == 3 and len(rec.boxes) == 3
        assert rec.boxes[0] == tuple(t["annot_A"]["boxes"][k] for k in ("minX", "minY", "maxX", "maxY"))


@pytest.mark.parametrize("layout,zipped", [("official", True), ("unzipped", False), ("flat", False)])
def test_import_every_layout(tmp_path: Path, layout: str, zipped: bool) -> None:
    root = tmp_path / "set"
    s = write_demo_set(root, per_class=2, seed=2, long_side=160, layout=layout, zipped=zipped, n_missing=1)
    res = import_dataset(root)
    assert res.report.records == 14 and res.report.matched == s.n_images == 13
    assert res.report.zips == (2 * s.n_label_files if zipped else 0)
    # Labels from zips read their photos too (members, not extracted files).
    cut = prepare(res, tmp_path / "cache", BOXES)
    assert cut.total == sum(1 for r in res.records if r.image) - sum(
        1 for r in res.records if r.image and agreement(r.annotators)[0] is None
    )


def test_nfd_file_names_and_legacy_zip_names_are_matched(tmp_path: Path) -> None:
    root = tmp_path / "set"
    write_demo_set(root, per_class=1, seed=4, long_side=160, layout="flat")
    photo = next(root.rglob("*.jpg"))
    photo.rename(photo.with_name(unicodedata.normalize("NFD", photo.name)))
    res = import_dataset(root)
    assert res.report.missing_images == [] and res.report.matched == 7
    name = "기쁨_사진.jpg"
    info = zipfile.ZipInfo(name.encode("cp949").decode("cp437"))
    info.flag_bits = 0
    assert zip_member_name(info) == name


def test_label_file_encodings() -> None:
    recs = [{"filename": "a.jpg", "faceExp_uploader": "불안"}]
    text = json.dumps(recs, ensure_ascii=False)
    for enc in ("utf-8", "utf-8-sig", "cp949"):
        assert decode_label_bytes(text.encode(enc)) == (recs, enc)
    assert decode_label_bytes(json.dumps({"data": recs}).encode())[0] == recs
    with pytest.raises(Korean7Error):
        decode_label_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(Korean7Error):
        decode_label_bytes(b'{"a": 1}')


@pytest.mark.parametrize(
    "votes,min_agree,expected",
    [
        (("joy", "joy", "joy"), 3, ("joy", "ok")),
        (("joy", "joy", "anger"), 2, ("joy", "ok")),
        (("joy", "joy", "anger"), 3, (None, "no_majority")),
        (("joy", "anger", "hurt"), 2, (None, "no_majority")),
        ((UNKNOWN, UNKNOWN, "joy"), 2, (None, "unknown")),
        (("hurt", "hurt", UNKNOWN), 2, ("hurt", "ok")),
        ((INVALID, INVALID, "joy"), 2, (None, "invalid")),
        (("joy", "anger"), 1, (None, "no_majority")),
        ((), 2, (None, "no_annotators")),
    ],
)
def test_agreement_rules(votes: tuple[str, ...], min_agree: int, expected: tuple) -> None:
    assert agreement(votes, min_agree) == expected


def test_agreement_labels_report_matches_the_label_files(demo: Path) -> None:
    res = import_dataset(demo)
    truth = _json_truth(demo)
    for min_agree in (2, 3):
        kept, rep = agreement_labels(res.records, min_agree)
        expected = Counter()
        for t in truth:
            labels = [t[k]["faceExp"] for k in ("annot_A", "annot_B", "annot_C")]
            m = majority(labels, min_agree)
            expected["kept" if m not in (None, "알수없음") else "dropped"] += 1
        missing_with_label = sum(
            1 for r in res.records if r.image is None and agreement(r.annotators, min_agree)[0]
        )
        assert rep.kept == len(kept) == expected["kept"] - missing_with_label
        assert sum(rep.dropped.values()) == expected["dropped"] + missing_with_label
        for item in kept:
            assert Counter(item.record.annotators)[item.label] >= min_agree
            assert item.record.uploader in KOREAN7_CLASSES  # provenance kept
        for pur in rep.purity.values():
            assert pur["records"] == 6
            parts = pur["same_as_folder"] + pur["other_class"] + pur["no_majority"] + pur["unknown"]
            assert abs(parts - 1) < 1e-3
    with pytest.raises(ValueError):
        agreement_labels(res.records, 1)


def test_cache_balance_split_by_person_and_upright_crops(demo: Path, cache: Path, tmp_path: Path) -> None:
    c = CropCache(cache)
    assert c.synthetic and c.size == 64 and c.mode == "crop"
    keys = [e["key"] for e in c.entries]
    assert len(keys) == len(set(keys))
    splits = Counter(e["split"] for e in c.entries)
    assert set(splits) <= {"train", "val", "test"} and splits["train"] > splits["val"]
    persons: dict[str, set[str]] = {}
    for e in c.entries:
        persons.setdefault(e["person"], set()).add(e["split"])
    assert all(len(s) == 1 for s in persons.values())  # nobody in two splits
    imgs = c.images(list(range(len(c.entries))))
    assert imgs.shape == (len(keys), 64, 64, 3) and imgs.dtype == np.uint8
    assert c.index["summary"]["split_by"] == "person"
    # Balanced sampling: at most per_class per class, the rest reported as shortfall.
    s = prepare(
        demo, tmp_path / "bal", PrepareConfig(per_class=3, crop_source="boxes", size=32, shard_size=8)
    )
    assert all(n <= 3 for n in s.per_class.values())
    assert {c for c, n in s.per_class.items() if n == 3} | set(s.shortfall) == set(KOREAN7_CLASSES)
    # Unanimous photos are taken first, as the paper preferred 3-annotator agreement.
    kept, _ = agreement_labels(import_dataset(demo).records, 2)
    unanimous = Counter(k.label for k in kept if k.votes == 3)
    for cls in KOREAN7_CLASSES:
        chosen = [e for e in CropCache(tmp_path / "bal").entries if e["label"] == cls]
        if unanimous[cls] >= 3:
            assert all(e["votes"] == 3 for e in chosen), cls


def test_split_by_person_follows_the_fractions() -> None:
    groups = {f"p{i}": [f"p{i}_{j}" for j in range(1 + i % 4)] for i in range(200)}
    split = korean7.assign_person_splits(groups, (0.8, 0.1, 0.1), seed=3)
    assert set(split) == {k for v in groups.values() for k in v}
    counts = Counter(split.values())
    total = sum(counts.values())
    assert abs(counts["train"] / total - 0.8) < 0.02 and abs(counts["test"] / total - 0.1) < 0.02
    for person, keys in groups.items():
        assert len({split[k] for k in keys}) == 1, person
    assert split == korean7.assign_person_splits(groups, (0.8, 0.1, 0.1), seed=3)


def test_prepare_resumes_after_interruption(demo: Path, cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "resume"
    calls = {"n": 0}

    class Stop(Exception):
        pass

    def stop_after_one_shard(done: int, total: int, stage: str) -> None:
        calls["n"] += 1
        if calls["n"] == 12:
            raise Stop

    with pytest.raises(Stop):
        prepare(demo, out, BOXES, progress=stop_after_one_shard)
    assert not (out / "index.json").exists() and (out / "part-00000.npy").is_file()
    summary = prepare(demo, out, BOXES)
    assert summary.resumed == 8
    assert [e["key"] for e in CropCache(out).entries] == [e["key"] for e in CropCache(cache).entries]
    with pytest.raises(Korean7Error) as err:
        prepare(demo, out, PrepareConfig(per_class=2, crop_source="boxes", size=64))
    assert err.value.code == "cache_config_mismatch"


def test_face_engine_crops_agree_with_annotator_boxes(tmp_path: Path) -> None:
    # Every photo stored rotated or mirrored: the engine must see them upright like the boxes.
    root = tmp_path / "rot"
    summary = write_demo_set(root, per_class=1, seed=8, long_side=480, exif_share=1.0)
    assert 1 not in summary.orientations and len(summary.orientations) == 7
    s = prepare(root, tmp_path / "engine", PrepareConfig(per_class=None, crop_source="engine", size=64))
    entries = CropCache(tmp_path / "engine").entries
    assert s.total == len(entries) > 0
    engine = [e for e in entries if e["source"] == "engine"]
    assert len(engine) >= len(entries) // 2, [(e["source"], e["engine_reason"]) for e in entries]
    assert all(e["iou"] >= 0.3 for e in engine)


def test_train_one_epoch_resume_evaluate_predict(
    cache: Path, trained: tuple[Path, dict], tmp_path: Path
) -> None:
    first, m1 = trained
    assert (first / "best.pt").is_file() and (first / "last.pt").is_file()
    saved = json.loads((first / "metrics.json").read_text())
    assert saved["epochs_run"] == 1 and saved["synthetic"] is True and saved["arch"] == "resnet18"
    cm = np.asarray(saved["confusion"])
    assert cm.shape == (7, 7) and cm.sum() == saved["n"] == m1["n"] > 0
    assert set(saved["per_class_accuracy"]) == set(KOREAN7_CLASSES)
    # Resume: with more epochs, training continues from last.pt instead of starting over.
    out = tmp_path / "model"
    shutil.copytree(first, out)
    seen: list[int] = []
    cfg2 = Korean7TrainConfig(**{**TINY.__dict__, "epochs": 2})
    m2 = korean7.train_korean7(cache, out, cfg2, on_epoch_end=lambda i: seen.append(i["epoch"]))
    assert seen == [1] and m2["epochs_run"] == 2
    assert m2["history"][0] == m1["history"][0]
    model = korean7.load_model(out / "best.pt")
    ev = korean7.evaluate_korean7(model, cache, split="test")
    assert ev["n"] == m2["n"] and ev["synthetic"] is True
    probs = korean7.predict_crops(model, CropCache(cache).images([0, 1]))
    assert probs.shape == (2, 7) and np.allclose(probs.sum(1), 1, atol=1e-4)
    report = korean7.model_report(out / "best.pt")
    assert report["synthetic"] is True and report["korean_names"]["anger"] == "분노"
    with pytest.raises(Korean7Error) as err:
        korean7.train_korean7(
            cache, out, Korean7TrainConfig(**{**TINY.__dict__, "arch": "efficientnet_lite0", "epochs": 3})
        )
    assert err.value.code == "resume_mismatch"


def test_frozen_head_training_saves_an_ordinary_checkpoint(cache: Path, tmp_path: Path) -> None:
    # The demo's CPU default: embed once with the frozen ImageNet backbone, train the last layer.
    from edu_core import models

    if models.pretrained_weights_path("efficientnet_lite0") is None:
        pytest.skip("no offline ImageNet weights")
    cfg = Korean7TrainConfig(**{**TINY.__dict__, "arch": "efficientnet_lite0", "pretrained": "auto",
                                "mode": "head", "epochs": 30, "patience": 100, "lr": 3e-3,
                                "image_size": 64})  # fmt: skip
    seen: list[int] = []
    m = korean7.train_korean7(cache, tmp_path / "head", cfg, on_epoch_end=lambda i: seen.append(i["epoch"]))
    assert seen == list(range(30)) and m["epochs_run"] == 30 and m["mode"] == "head"
    model = korean7.load_model(tmp_path / "head" / "best.pt")
    # the standardisation is folded into the last layer: the loaded net scores what training saw
    assert korean7.evaluate_korean7(model, cache, split="val")["accuracy"] == pytest.approx(
        m["best_val_acc"], abs=1e-3
    )
    first = m["history"][0]["train_loss"]
    assert min(h["train_loss"] for h in m["history"]) < first  # the layer learns
    with pytest.raises(Korean7Error) as err:
        korean7.train_korean7(
            cache, tmp_path / "no", Korean7TrainConfig(**{**cfg.__dict__, "pretrained": "no"})
        )
    assert err.value.code == "weights_missing"  # nothing to keep frozen


def test_predict_bytes_runs_the_face_engine(demo: Path, trained: tuple[Path, dict]) -> None:
    model = korean7.load_model(trained[0] / "best.pt")
    photo = next(demo.rglob("*.jpg"))
    pred = korean7.predict_korean7(model, photo.read_bytes())
    if pred.status == "ok":
        assert set(pred.probabilities) == set(KOREAN7_CLASSES)
        assert abs(sum(pred.probabilities.values()) - 1) < 1e-3 and pred.label in KOREAN7_CLASSES
    else:
        assert pred.reason
    blank = korean7.predict_korean7(model, b"not a picture at all")
    assert blank.status == "rejected" and blank.reason


def test_cli_import_json(demo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert korean7.main(["import", str(demo), "--min-agree", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["import"]["records"] == 42 and out["labels"]["min_agree"] == 3
    assert korean7.main(["import", str(tmp_path / "nope"), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"] == "not_found"


def test_bad_cache_and_checkpoint_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(Korean7Error):
        CropCache(tmp_path)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nope")
    from edu_core.errors import ModelFileError

    with pytest.raises(ModelFileError):
        korean7.load_model(bad)
    shutil.rmtree(tmp_path)


def test_demo_pipeline_for_the_page(tmp_path: Path) -> None:
    stages: list[str] = []
    res = korean7.build_demo_pipeline(
        tmp_path / "work",
        per_class=2,
        progress=lambda stage, frac: stages.append(stage),
        arch="resnet18",
        epochs=1,
        long_side=200,
        image_size=32,
        crop_source="boxes",
        cpu_threads=1,
    )
    assert res.synthetic and res.metrics["synthetic"] is True
    assert Path(res.checkpoint).is_file() and res.prepare["total"] > 0
    assert {"generate", "prepare", "train"} <= set(stages)
    report = korean7.model_report(res.checkpoint)
    assert np.asarray(report["confusion"]).shape == (7, 7)


def test_device_side_augmentation_and_metrics() -> None:
    import torch

    x = torch.full((6, 48, 48, 3), 128, dtype=torch.uint8)
    mean = torch.zeros(1, 3, 1, 1)
    std = torch.ones(1, 3, 1, 1)
    gen = torch.Generator().manual_seed(0)
    plain = korean7.device_augment(x, False, 32, 0.0, mean, std, None)
    assert plain.shape == (6, 3, 32, 32) and torch.allclose(
        plain, torch.full_like(plain, 128 / 255), atol=1e-3
    )
    aug = korean7.device_augment(x, True, 32, 1.0, mean, std, gen)
    assert aug.shape == (6, 3, 32, 32) and torch.isfinite(aug).all()
    erased = (aug - 128 / 255).abs().amax(dim=1) > 0.05
    share = erased.float().mean(dim=(1, 2))
    assert (share > 0.01).all() and (share < 0.5).all()  # every image got one erased patch
    cm = korean7.confusion_of([0, 0, 1, 2], [0, 1, 1, 2], ("a", "b", "c"))
    m = korean7.metrics_from_confusion(cm, ("a", "b", "c"))
    assert m["accuracy"] == 0.75 and m["per_class_accuracy"] == {"a": 0.5, "b": 1.0, "c": 1.0}
    assert m["confusion"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


# --- a plain folder of face crops, as the public AI Hub re-packagings ship ---------------------


def test_face_folder_labels_from_folder_names_keeps_persons(tmp_path: Path) -> None:
    write_face_folder(tmp_path / "crops", persons=4, per=1)
    (tmp_path / "crops" / "놀람").mkdir()
    (tmp_path / "crops" / "놀람" / "x.jpg").write_bytes(
        (tmp_path / "crops").rglob("*.jpg").__next__().read_bytes()
    )
    res = import_dataset(tmp_path / "crops")
    rep = res.report
    assert rep.layout == "face_folder" and rep.label_files == 0
    assert rep.records == 24 and rep.label_sources == {"folder": 24}
    assert rep.per_uploader == {c: 4 for c in SIX} and rep.absent_classes == ["neutral"]
    assert rep.persons == 4 and rep.without_person == 0
    assert rep.unlabelled_images == ["놀람/x.jpg"]  # surprise is none of the seven
    assert all(r.precropped and r.person and len(r.person) == 12 for r in res.records)


def test_face_folder_labels_from_the_aihub_file_name_pattern(tmp_path: Path) -> None:
    write_face_folder(tmp_path / "flat", persons=3, per=2, style="filename")
    (tmp_path / "flat" / "IMG_0001.jpg").write_bytes(next((tmp_path / "flat").glob("*.jpg")).read_bytes())
    res = import_dataset(tmp_path / "flat")
    rep = res.report
    assert rep.layout == "face_folder" and rep.label_sources == {"filename": 36}
    assert rep.persons == 3 and rep.unlabelled_images == ["IMG_0001.jpg"]
    by_person = Counter(r.person for r in res.records)
    assert all(len(p) == 64 for p in by_person) and set(by_person.values()) == {12}
    assert korean7.parse_face_filename("abcdef0123456789_여_20_분노_도심&거리_2021-01.jpg") == (
        "anger",
        "abcdef0123456789",
    )
    assert korean7.parse_face_filename("521247cef526_angry_0531fc13.jpg") == ("anger", "521247cef526")
    assert korean7.parse_face_filename("IMG_0001.jpg") == (None, None)


@pytest.fixture(scope="module")
def six_class_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("k7faces") / "crops"
    write_face_folder(root, persons=20, per=2, style="filename")
    out = root.parent / "cache"
    prepare(root, out, PrepareConfig(per_class=None, size=48, workers=1, shard_size=64))
    return out


def test_missing_class_trains_and_reports_on_the_classes_present(
    six_class_cache: Path, tmp_path: Path
) -> None:
    c = CropCache(six_class_cache)
    assert c.classes == SIX and c.absent_classes == ("neutral",) and c.precropped
    s = c.index["summary"]
    assert s["absent_classes"] == ["neutral"] and s["sources"] == {"given": 240} and s["shortfall"] == {}
    assert c.index["margin"] == korean7.PRECROPPED_MARGIN
    m = korean7.train_korean7(
        six_class_cache, tmp_path / "m", Korean7TrainConfig(**{**TINY.__dict__, "image_size": 48})
    )
    assert m["classes"] == list(SIX) and set(m["per_class_accuracy"]) == set(SIX)
    assert np.asarray(m["confusion"]).shape == (6, 6)
    model = korean7.load_model(tmp_path / "m" / "best.pt")
    assert model.classes == SIX and model.absent_classes == ("neutral",)
    assert korean7.predict_crops(model, c.images([0, 1])).shape == (2, 6)
    assert korean7.model_report(model)["absent_classes"] == ["neutral"]


def test_face_folder_split_is_person_disjoint_8_1_1(six_class_cache: Path) -> None:
    c = CropCache(six_class_cache)
    assert c.index["split_by"] == "person"
    splits_of: dict[str, set[str]] = {}
    for e in c.entries:
        splits_of.setdefault(e["person"], set()).add(e["split"])
    assert len(splits_of) == 20 and all(len(s) == 1 for s in splits_of.values())
    people = Counter(next(iter(s)) for s in splits_of.values())
    assert people == {"train": 16, "val": 2, "test": 2}  # 12 photos a person: exactly 8:1:1


def test_leak_comparison_shows_the_leak_on_a_fixture(six_class_cache: Path, tmp_path: Path) -> None:
    # Each photo mostly shows a pattern of its own person and class: a model that memorises
    # people scores far better on another photo of someone it saw than on someone new.
    from edu_core import models

    if models.pretrained_weights_path("efficientnet_lite0") is None:
        pytest.skip("no offline ImageNet weights")
    cfg = Korean7TrainConfig(**{**TINY.__dict__, "arch": "efficientnet_lite0", "pretrained": "auto",
                                "mode": "head", "epochs": 150, "patience": 150, "lr": 3e-3,
                                "image_size": 48})  # fmt: skip
    res = korean7.leak_comparison(six_class_cache, tmp_path / "leak", cfg)
    ch = res["checks"]
    assert ch["new_people_in_training"] == 0 and ch["new_people"] == 2
    assert ch["seen_people_in_training"] == ch["seen_people"] > 0
    # one photo from each of the 16 training people, at most as many as the 24 new-people photos
    assert res["seen_people"]["n"] == 16 and res["new_people"]["n"] == 24
    seen, new = res["seen_people"]["accuracy"], res["new_people"]["accuracy"]
    assert seen - new >= 0.25, (seen, new)
    assert res["gap"] == pytest.approx(seen - new, abs=1e-3)
    # the page reads it back next to the model
    assert korean7.model_report(tmp_path / "leak" / "model" / "best.pt")["leak"]["gap"] == res["gap"]
    leak_cache = CropCache(tmp_path / "leak" / "cache")
    held = {leak_cache.entries[i]["key"] for i in leak_cache.subset("seen")}
    assert not held & {leak_cache.entries[i]["key"] for i in leak_cache.subset("train")}
    assert leak_cache.images(leak_cache.subset("seen")).shape == (16, 48, 48, 3)  # the shards are shared


def test_cli_leak_json(six_class_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["leak", "--cache", str(six_class_cache), "--out", str(tmp_path / "l"), "--arch", "resnet18"]
    args += [
        "--epochs",
        "1",
        "--image-size",
        "32",
        "--pretrained",
        "no",
        "--workers",
        "0",
        "--cpu-threads",
        "1",
    ]
    assert korean7.main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"seen_people", "new_people", "gap", "checks"}
    assert out["checks"]["new_people_in_training"] == 0 and out["absent_classes"] == ["neutral"]
