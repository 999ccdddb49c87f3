"""The training loop, its options, the job queue and the train/predict command lines."""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from test_models_support import CLASSES, synthetic_set

from edu_core.dataset import resample, stratified_holdout
from edu_core.devices import choose_device
from edu_core.embeddings import EmbeddingCache
from edu_core.errors import EduError
from edu_core.evaluate import evaluate_bundle
from edu_core.faces import FaceResult
from edu_core.fitting import class_weights
from edu_core.predict import predict_proba
from edu_core.train import train
from edu_core.trainconfig import TrainConfig, TrainingCancelled, TrainingDataError

pytestmark = pytest.mark.slow  # trains real models

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data300():
    return synthetic_set(60, seed=0), synthetic_set(20, seed=1)


def test_pieces_model_learns_and_reports_every_epoch(data300):
    (faces, labels), (tf, tl) = data300
    seen = []
    res = train(
        "pieces",
        faces,
        labels,
        TrainConfig(),
        class_names=CLASSES,
        on_epoch_end=lambda e, m: seen.append((e, m)),
    )
    assert res.device == "cpu" and res.device_name == "CPU"
    assert [e for e, _ in seen] == list(range(1, len(res.history) + 1))
    assert {"loss", "acc", "val_loss", "val_acc"} <= set(seen[0][1])
    assert res.history[-1]["loss"] < res.history[0]["loss"]
    assert 1 <= res.best_epoch <= len(res.history)
    assert res.n_val == 60 and res.n_train == 300  # refit on train + validation
    assert evaluate_bundle(res.bundle, tf, tl)["accuracy"] >= 0.9


def test_same_seed_same_model(data300):
    (faces, labels), _ = data300
    a = train("pieces", faces[:100], labels[:100], TrainConfig(seed=5, epochs=40), class_names=CLASSES)
    b = train("pieces", faces[:100], labels[:100], TrainConfig(seed=5, epochs=40), class_names=CLASSES)
    c = train("pieces", faces[:100], labels[:100], TrainConfig(seed=6, epochs=40), class_names=CLASSES)
    pa, pb, pc = (predict_proba(r.bundle, faces[100:130]) for r in (a, b, c))
    np.testing.assert_array_equal(pa, pb)
    assert not np.array_equal(pa, pc)


def test_bad_inputs_are_named(data300):
    (faces, labels), _ = data300
    with pytest.raises(ValueError, match="allowed: joy"):
        train("pieces", faces[:4], ["joy", "joy", "happy!", "anger"], class_names=CLASSES)
    with pytest.raises(TrainingDataError) as err:
        train(
            "pieces",
            [*faces[:3], FaceResult(status="rejected", reason="no_face")],
            labels[:4],
            class_names=CLASSES,
        )
    assert err.value.code == "rejected_faces"
    with pytest.raises(TrainingDataError):
        train("pieces", faces[:2], ["joy", "joy"], class_names=CLASSES)
    with pytest.raises(ValueError, match="pieces, cnn, combined"):
        train("tree", faces[:4], labels[:4], class_names=CLASSES)


def test_cancel_stops_training(data300):
    (faces, labels), _ = data300
    stop = threading.Event()

    def cb(epoch, metrics):
        if epoch == 3:
            stop.set()

    with pytest.raises(TrainingCancelled):
        train(
            "pieces", faces, labels, TrainConfig(epochs=50), class_names=CLASSES, on_epoch_end=cb, cancel=stop
        )


def test_early_stop_keeps_best_epoch(data300):
    (faces, labels), _ = data300
    res = train(
        "pieces", faces, labels, TrainConfig(epochs=400, patience=5, refit=False), class_names=CLASSES
    )
    assert res.stopped_early and len(res.history) < 400
    assert len(res.history) - res.best_epoch == 5


def test_refit_training_draws_every_planned_epoch(data300):
    # The final model is retrained for the planned epochs, so the curve must show all of them
    # (it used to stop after ~50 of 100 while the progress bar counted to 100).
    (faces, labels), _ = data300
    seen = []
    res = train(
        "pieces", faces, labels, TrainConfig(epochs=400, patience=5), class_names=CLASSES,
        on_epoch_end=lambda epoch, _m: seen.append(epoch),
    )  # fmt: skip
    # the same settings without the refit stop early (test_early_stop_keeps_best_epoch)
    assert not res.stopped_early
    assert len(res.history) == 400 and seen == list(range(1, 401))


def test_holdout_and_resampling():
    labels = ["a"] * 10 + ["b"] * 4 + ["c"]
    keep, hold = stratified_holdout(labels, 0.2, seed=0)
    assert sorted(keep + hold) == list(range(15))
    assert [labels[i] for i in hold].count("a") == 2 and "c" not in [labels[i] for i in hold]
    y = [0] * 10 + [1] * 4 + [2]
    over = resample(range(15), y, "oversample", 0)
    assert np.bincount([y[i] for i in over]).tolist() == [10, 10, 10]
    under = resample(range(15), y, "undersample", 0)
    assert np.bincount([y[i] for i in under]).tolist() == [1, 1, 1]
    w = class_weights(y, 3)
    assert w[2] > w[1] > w[0]


def test_imbalance_options_change_the_training(data300):
    (faces, labels), _ = data300
    # 40 joy vs 8 sadness, like the lesson's imbalance example
    idx = [i for i, y in enumerate(labels) if y == "joy"][:40] + [
        i for i, y in enumerate(labels) if y == "sadness"
    ][:8]
    f, y = [faces[i] for i in idx], [labels[i] for i in idx]
    plain = train("pieces", f, y, TrainConfig(epochs=20, refit=False), class_names=("joy", "sadness"))
    over = train(
        "pieces",
        f,
        y,
        TrainConfig(epochs=20, refit=False, sampling="oversample"),
        class_names=("joy", "sadness"),
    )
    weighted = train(
        "pieces",
        f,
        y,
        TrainConfig(epochs=20, refit=False, class_weighting=True),
        class_names=("joy", "sadness"),
    )
    assert over.n_train > plain.n_train
    assert weighted.bundle.config["class_weighting"] is True


def test_device_choice():
    assert choose_device("cpu").type == "cpu"
    assert choose_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(EduError) as err:
            choose_device("cuda")
        assert err.value.code == "device_unavailable"
    with pytest.raises(ValueError, match="allowed"):
        choose_device("tpu")


def test_cnn_head_uses_the_embedding_cache():
    faces, labels = synthetic_set(3, seed=7)
    cache = EmbeddingCache()
    first = train("cnn", faces, labels, TrainConfig(tiny=True), class_names=CLASSES, embedding_cache=cache)
    assert first.config.mode == "head" and len(cache) == 2 * len(faces)  # plain + mirrored view
    computed = []  # the second run must find every embedding instead of running the backbone again
    real_put = cache.put
    cache.put = lambda key, value: computed.append(key) or real_put(key, value)
    again = train(
        "cnn", faces, labels, TrainConfig(tiny=True, seed=1), class_names=CLASSES, embedding_cache=cache
    )
    assert len(cache) == 2 * len(faces) and computed == []
    assert again.bundle.backbone_frozen
    # testing through the cache gives the same answers as running the backbone again
    np.testing.assert_allclose(
        predict_proba(again.bundle, faces, embedding_cache=cache),
        predict_proba(again.bundle, faces),
        atol=1e-4,
    )


def test_full_finetune_runs_on_cpu_and_changes_the_backbone():
    faces, labels = synthetic_set(2, seed=8)
    res = train(
        "cnn", faces, labels, TrainConfig(mode="full", tiny=True, epochs=2, batch_size=8), class_names=CLASSES
    )
    assert res.config.mode == "full" and len(res.history) == 2
    assert not res.bundle.backbone_frozen
    from edu_core.models import build_cnn

    stock = build_cnn("efficientnet_lite0", 5).state_dict()["_conv_stem.weight"]
    assert not torch.equal(res.bundle.model.cnn.state_dict()["_conv_stem.weight"], stock)
    assert predict_proba(res.bundle, faces[:3]).shape == (3, 5)


def test_combined_head_trains():
    faces, labels = synthetic_set(6, seed=9)
    res = train("combined", faces, labels, TrainConfig(tiny=True, epochs=3), class_names=CLASSES)
    p = predict_proba(res.bundle, faces)
    assert p.shape == (30, 5) and np.allclose(p.sum(1), 1, atol=1e-5)


def _sample_dir(tmp_path: Path, per_class: int) -> Path | None:
    src = ROOT / "sample_images"
    classes = [d for d in sorted(src.glob("*")) if d.is_dir()] if src.is_dir() else []
    if len(classes) < 2:
        return None
    data = tmp_path / "data"
    for d in classes[:2]:
        (data / d.name).mkdir(parents=True)
        for f in sorted(d.glob("*.jpg"))[:per_class]:
            shutil.copy(f, data / d.name / f.name)
    return data


def test_train_and_predict_cli(tmp_path, capsys):
    data = _sample_dir(tmp_path, 6)
    if data is None:
        pytest.skip("sample_images not generated yet")
    from edu_core import predict as predict_mod
    from edu_core import train as train_mod

    out = tmp_path / "m.pt"
    rc = train_mod.main(
        [
            "--data",
            str(data),
            "--model",
            "pieces",
            "--seed",
            "1",
            "--out",
            str(out),
            "--cache",
            str(tmp_path / "cache"),
            "--test-fraction",
            "0.34",
            "--json",
        ]
    )
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "pieces" and report["n_test"] > 0 and out.is_file()
    assert 0.0 <= report["test"]["accuracy"] <= 1.0
    photo = next(iter(sorted(data.glob("*/*.jpg"))))
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    rc = predict_mod.main(["--model", str(out), str(photo), str(junk), "--json"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)["results"]
    assert res[0]["status"] == "ok" and abs(sum(res[0]["probabilities"].values()) - 1) < 1e-4
    assert res[1]["status"] == "rejected" and res[1]["reason"] == "unsupported_format"


def test_refit_uses_every_photo(data300):
    (faces, labels), _ = data300
    cfg = TrainConfig(epochs=30, patience=100)
    planned = train("pieces", faces[:100], labels[:100], cfg, class_names=CLASSES)
    best = train("pieces", faces[:100], labels[:100], replace(cfg, refit_epochs="best"), class_names=CLASSES)
    no_refit = train("pieces", faces[:100], labels[:100], replace(cfg, refit=False), class_names=CLASSES)
    assert planned.n_train == best.n_train == 100 and no_refit.n_train == 100 - no_refit.n_val
    p = [predict_proba(r.bundle, faces[100:120]) for r in (planned, best, no_refit)]
    assert not np.allclose(p[0], p[2])  # the refitted model saw the validation photos too


def test_combined_full_finetune_runs_on_cpu():
    faces, labels = synthetic_set(2, seed=13)
    res = train("combined", faces, labels, TrainConfig(mode="full", tiny=True, epochs=1), class_names=CLASSES)
    assert res.config.mode == "full" and not res.bundle.backbone_frozen
    assert float(res.bundle.model.emb_norm.std.mean()) != 1.0  # standardised with real embeddings
    assert predict_proba(res.bundle, faces).shape == (10, 5)


def test_without_the_curve_the_same_model_is_trained_in_one_pass(data300):
    (faces, labels), (tf, tl) = data300
    seen = []
    quick = train("pieces", faces, labels, TrainConfig(seed=3), class_names=CLASSES, curve=False,
                  on_epoch_end=lambda e, m: seen.append(e))  # fmt: skip
    full = train("pieces", faces, labels, TrainConfig(seed=3), class_names=CLASSES)
    assert quick.history == [] and seen == [] and full.history
    assert quick.n_train == full.n_train == 300  # still retrained on every photo
    pq, pf = (predict_proba(r.bundle, tf).argmax(1) for r in (quick, full))
    assert np.mean(pq == pf) >= 0.95
    # where the planned refit does not happen, the one pass is the model, so it is still run
    no_refit = train("pieces", faces[:100], labels[:100], TrainConfig(refit=False, epochs=20),
                     class_names=CLASSES, curve=False)  # fmt: skip
    assert len(no_refit.history) >= 1
