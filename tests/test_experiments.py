"""The experiment lab: fairness rules, reproducibility, storing, export, the CLI and effect directions.

The fairness tests use small synthetic faces (landmarks and blendshapes with a class signal)
so they run in seconds without MediaPipe; the direction checks use the committed samples.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edu_core import experiments as ex
from edu_core.faces import FaceResult
from edu_core.labels import LESSON_CLASSES
from edu_core.models import BLENDSHAPE_NAMES

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"
pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

# Each class lifts a few blendshapes, so a pieces model can learn it (joy: smile, ...).
_SIGNAL = {
    "joy": ("mouthSmileLeft", "mouthSmileRight", "cheekSquintLeft"),
    "sadness": ("mouthFrownLeft", "mouthFrownRight", "browInnerUp"),
    "surprise": ("jawOpen", "eyeWideLeft", "browOuterUpLeft"),
    "anger": ("browDownLeft", "browDownRight", "mouthPressLeft"),
    "neutral": (),
}
_BASE = np.random.default_rng(1).uniform(20, 230, size=(478, 3)).astype(np.float32)


def fake_face(label: str, rng: np.random.Generator, strength: float = 0.5) -> FaceResult:
    scores = {n: float(rng.uniform(0, 0.15)) for n in BLENDSHAPE_NAMES}
    for n in _SIGNAL[label]:
        scores[n] = float(np.clip(strength + rng.normal(0, 0.2), 0, 1))
    landmarks = _BASE + rng.normal(0, 1.0, size=_BASE.shape).astype(np.float32)
    crop = np.zeros((8, 8, 3), dtype=np.uint8)
    return FaceResult(status="ok", crop=crop, landmarks=landmarks, blendshapes=scores, pose=(0.0, 0.0, 0.0))


def fake_data(train_per_class: int = 24, test_per_class: int = 8, seed: int = 0) -> ex.LabData:
    """Person-disjoint train/test pools; every person shows every class; two age groups."""
    rng = np.random.default_rng(seed)
    examples, test_ids = [], []
    for side, n in (("train", train_per_class), ("test", test_per_class)):
        for i in range(n):
            person = f"{side}{i:03d}"
            group = "adult" if i % 2 == 0 else "child"
            for c in LESSON_CLASSES:
                eid = f"{c}/{c}_{person}.jpg"
                examples.append(ex.Example(eid, c, person, group, fake_face(c, rng)))
                if side == "test":
                    test_ids.append(eid)
    return ex.make_data(examples, test_ids=test_ids, source="fake")


@pytest.fixture(scope="module")
def data() -> ex.LabData:
    return fake_data()


def _cfg(kind: str, **kw) -> ex.ExperimentConfig:
    base = {"repeats": 2, "epochs": 30, "detective_folds": 2}
    if kind == "size":
        base["sizes"] = (6, 18)
    if kind == "pairs":
        base["pair_sizes"] = (6, 12)
    if kind == "imbalance":
        base["counts"] = (("joy", 16), ("sadness", 6))
    return ex.ExperimentConfig(kind, **{**base, **kw})


# --------------------------------------------------------------------------- fairness


@pytest.mark.parametrize("kind", ex.EXPERIMENTS)
def test_every_variant_uses_the_same_test_set_disjoint_from_training(data, kind):
    result = ex.run_experiment(_cfg(kind), data)
    test_ids = {e.id for e in data.test}
    assert set(result.test_ids) == test_ids
    assert len(result.variants) >= 2
    for v in result.variants:
        expected = {c: sum(e.label == c for e in data.test) for c in v.variant.classes}
        assert [r.seed for r in v.runs] == [0, 1]
        for run in v.runs:
            assert run.train_ids and not set(run.train_ids) & test_ids
            # the confusion matrix rows count exactly the fixed test photos of each class
            rows = np.asarray(run.confusion).sum(axis=1)
            assert dict(zip(v.variant.classes, rows.tolist(), strict=True)) == expected
            train_people = {i.split("_", 1)[1] for i in run.train_ids}
            assert not train_people & {e.person + ".jpg" for e in data.test}


def test_data_refuses_overlapping_photos_or_people(data):
    with pytest.raises(ex.ExperimentError) as err:
        ex.LabData(data.train, data.test + (data.train[0],))
    assert err.value.code == "test_overlap"
    twin = ex.Example("x/twin.jpg", "joy", data.test[0].person, "adult", data.test[0].face)
    with pytest.raises(ex.ExperimentError) as err:
        ex.LabData(data.train + (twin,), data.test)
    assert err.value.code == "person_overlap"


def test_seeds_are_honoured_and_results_reproducible(data):
    cfg = _cfg("size")
    a, b = ex.run_experiment(cfg, data), ex.run_experiment(cfg, data)
    strip = [{k: v for k, v in r.__dict__.items() if k != "seconds"} for vr in a.variants for r in vr.runs]
    again = [{k: v for k, v in r.__dict__.items() if k != "seconds"} for vr in b.variants for r in vr.runs]
    assert strip == again
    small = a.variants[0]
    assert small.runs[0].train_ids != small.runs[1].train_ids  # another seed draws other photos
    other = ex.run_experiment(ex.ExperimentConfig(**{**cfg.to_dict(), "seed": 5}), data)
    assert [r.seed for r in other.variants[0].runs] == [5, 6]
    assert other.variants[0].runs[0].train_ids != small.runs[0].train_ids


def test_size_variants_draw_the_requested_counts(data):
    result = ex.run_experiment(_cfg("size", classes=("joy", "anger")), data)
    for v, n in zip(result.variants, (6, 18), strict=True):
        assert v.variant.classes == ("joy", "anger")
        assert all(r.train_counts == {"joy": n, "anger": n} for r in v.runs)


def test_imbalance_remedies_share_the_imbalanced_photos(data):
    cfg = _cfg("imbalance", repeats=1)
    variants = {v.key: v for v in ex.plan_variants(cfg, data)}
    assert list(variants) == list(ex.REMEDIES)
    base, _, _ = ex.training_set(variants["none"], data, 0)
    assert ex.dataset.class_counts(base) == {"joy": 16, "sadness": 6}
    more, over, _ = ex.training_set(variants["more_data"], data, 0)
    assert over == {} and ex.dataset.class_counts(more) == {"joy": 16, "sadness": 16}
    assert {e.id for e in base} <= {e.id for e in more}  # more *real* photos on top of the same ones
    for key, expected in (
        ("oversample", {"sampling": "oversample"}),
        ("undersample", {"sampling": "undersample"}),
        ("class_weights", {"class_weighting": True}),
    ):
        chosen, overrides, _ = ex.training_set(variants[key], data, 0)
        assert overrides == expected and {e.id for e in chosen} == {e.id for e in base}


def test_mislabels_are_planted_in_one_class_and_nested(data):
    cfg = _cfg("mislabel", fractions=(0.0, 0.25, 0.5))
    v0, v25, v50 = ex.plan_variants(cfg, data)
    _, _, none = ex.training_set(v0, data, 3)
    chosen, _, p25 = ex.training_set(v25, data, 3)
    _, _, p50 = ex.training_set(v50, data, 3)
    assert none == [] and len(p25) == 6 and len(p50) == 12 and set(p25) <= set(p50)
    relabelled = {e.id: e.label for e in chosen}
    assert all(i.startswith("anger/") and relabelled[i] != "anger" for i in p25)


def test_mislabel_detective_reports_found_planted(data):
    result = ex.run_experiment(_cfg("mislabel", fractions=(0.0, 0.3)), data)
    clean, dirty = result.variants
    assert clean.detective() is None
    d = dirty.detective()
    assert d["planted"] == round(24 * 0.3) and 0 <= d["found"] <= d["planted"]
    for run in dirty.runs:
        assert set(run.found) <= set(run.planted)
    # the planted labels are wrong and easy to spot here, so the detective finds most of them
    assert d["share"] >= 0.5


def test_groups_train_only_on_the_named_groups(data):
    result = ex.run_experiment(_cfg("groups"), data)
    only, both, same = result.variants
    by_id = {e.id: e for e in data.train}
    assert all(by_id[i].group == "adult" for r in only.runs for i in r.train_ids)
    assert {by_id[i].group for r in both.runs for i in r.train_ids} == {"adult", "child"}
    assert all(r.train_counts == only.runs[0].train_counts for r in same.runs)  # same size, mixed groups
    assert set(only.group_accuracy()) == {"adult", "child"}


def test_unknown_group_or_class_is_a_typed_error(data):
    with pytest.raises(ex.ExperimentError) as err:
        ex.plan_variants(_cfg("groups", add_groups=("senior",)), data)
    assert err.value.code == "unknown_group"
    with pytest.raises(ex.ExperimentError) as err:
        ex.plan_variants(_cfg("size", classes=("joy", "embarrassment")), data)
    assert err.value.code == "unknown_class"
    with pytest.raises(ValueError):
        ex.ExperimentConfig("colour")


def test_probe_is_shown_to_every_model_and_may_not_be_a_training_photo(data):
    cfg = _cfg("mislabel", fractions=(0.0, 0.3), detective=False)
    probe = ex.default_probe(cfg, data)
    assert probe.label == "anger" and probe in data.test
    result = ex.run_experiment(cfg, data, probe=probe)
    for v in result.variants:
        p = v.probe()
        assert set(p) == set(v.variant.classes)
        assert sum(m["mean"] for m in p.values()) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ex.ExperimentError) as err:
        ex.run_experiment(cfg, data, probe=data.train[0])
    assert err.value.code == "probe_in_training"


def test_cnn_experiment_runs_on_the_same_test_set_with_cached_embeddings():
    small = fake_data(train_per_class=4, test_per_class=1)
    cfg = ex.ExperimentConfig(
        "size", model="cnn", repeats=1, sizes=(2, 4), classes=("joy", "anger"), tiny=True
    )
    probe = ex.default_probe(cfg, small)
    result = ex.run_experiment(cfg, small, probe=probe)
    assert result.device in ("cpu", "cuda", "mps")
    for v in result.variants:
        assert all(np.asarray(r.confusion).sum() == 2 for r in v.runs)
        assert sum(m["mean"] for m in v.probe().values()) == pytest.approx(1.0, abs=1e-4)
    per_crop = ex.measure_embed_seconds(n=1)
    assert per_crop > 0
    assert ex.estimate_seconds(cfg, small, embed_s=per_crop) > ex.estimate_seconds(
        cfg, small, embed_s=per_crop / 2
    )


# --------------------------------------------------------------------------- storing and export


def test_store_round_trip_and_rerun_from_stored_config(data, tmp_path):
    from edu_core.store import open_store

    db = open_store(tmp_path / "lab")
    klass, _ = db.create_class("6-1", "4321")
    student = db.join(klass.id, "토끼")
    result = ex.run_experiment(_cfg("pairs"), data)
    run_id = ex.save_result(db, student.id, result)
    [(rid, loaded)] = ex.list_results(db, student.id)
    assert rid == run_id and loaded.to_dict() == json.loads(json.dumps(result.to_dict()))
    assert ex.load_result(db, student.id, run_id).summary() == result.summary()
    again = ex.rerun(loaded, data)
    assert [v.summary() for v in again.variants] == [v.summary() for v in result.variants]
    changed = fake_data(seed=1)
    changed = ex.LabData(changed.train[1:], changed.test)
    with pytest.raises(ex.ExperimentError) as err:
        ex.rerun(loaded, changed)
    assert err.value.code == "data_changed"


def test_student_photos_from_the_store_get_a_person_disjoint_test_set(tmp_path):
    from edu_core.store import NewImage, open_store

    db = open_store(tmp_path / "lab")
    klass, _ = db.create_class("6-1", "4321")
    kid = db.join(klass.id, "토끼")
    rng = np.random.default_rng(3)
    photos = [
        NewImage(
            f"photo {c} {i}".encode() + b"\xff" * 16,
            f"{c}{i}.jpg",
            "upload",
            fake_face(c, rng),
            person=f"friend{i}",
            group="child" if i % 2 else "adult",
            label=c,
        )
        for i in range(10)
        for c in ("joy", "anger")
    ]
    db.add_images(kid.id, photos)
    data = ex.load_store(db, kid.id)
    assert len(data.train) + len(data.test) == 20 and data.test
    assert not {e.person for e in data.train} & {e.person for e in data.test}
    assert data.groups() == ["adult", "child"]
    result = ex.run_experiment(_cfg("size", sizes=(2, 4)), data)
    assert [v.variant.classes for v in result.variants] == [("joy", "anger")] * 2
    assert ex.load_store(db, kid.id).fingerprint == data.fingerprint  # drawn once: the same split again


def test_csv_and_png_export(data):
    result = ex.run_experiment(_cfg("size"), data)
    rows = ex.result_csv(result).splitlines()
    assert rows[0] == "experiment,model,variant,seed,measure,class,value"
    acc_rows = [r for r in rows if ",accuracy," in r]
    assert len(acc_rows) == 2 * 2 + 2 * 2  # each variant: two seeds plus mean and sd
    png = ex.result_png(result, "ko")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_every_lab_string_exists_in_both_languages():
    from edu_core.i18n import STRINGS

    lab_keys = {k for k in STRINGS["ko"] if k.startswith("lab.")}
    assert len(lab_keys) > 40 and lab_keys == {k for k in STRINGS["en"] if k.startswith("lab.")}
    cfg = _cfg("groups")
    for v in ex.plan_variants(cfg, fake_data(4, 2)):
        assert ex.variant_label(v, "ko") and ex.variant_label(v, "en")


# --------------------------------------------------------------------------- the committed samples


@pytest.fixture(scope="module")
def samples() -> ex.LabData:
    if not (SAMPLES / "labels.csv").is_file():
        pytest.fail("sample_images/labels.csv is missing: the committed samples are part of the project")
    return ex.load_folder(SAMPLES)


def test_samples_have_a_fixed_person_disjoint_test_set(samples):
    counts = ex.dataset.class_counts(samples.test)
    assert set(counts) == set(LESSON_CLASSES) and min(counts.values()) >= 15
    assert min(ex.dataset.class_counts(samples.train).values()) >= 50


def test_direction_more_data_helps_on_samples(samples):
    result = ex.run_experiment(ex.ExperimentConfig("size", repeats=5), samples)
    n20, n60 = result.variants
    assert n60.accuracy()["mean"] >= n20.accuracy()["mean"]


def test_direction_balance_helps_the_scarce_class_on_samples(samples):
    # five classes with sadness scarce: on the (easy) sample faces a joy/sadness pair alone hits 100 %
    counts = (("joy", 40), ("sadness", 5), ("surprise", 40), ("anger", 40), ("neutral", 40))
    cfg = ex.ExperimentConfig("imbalance", repeats=5, counts=counts, remedies=("none", "more_data"))
    imbalanced, balanced = ex.run_experiment(cfg, samples).variants
    assert balanced.recall()["sadness"]["mean"] >= imbalanced.recall()["sadness"]["mean"]


def test_direction_mislabels_hurt_on_samples(samples):
    cfg = ex.ExperimentConfig("mislabel", repeats=5, fractions=(0.0, 0.3), detective=False)
    clean, dirty = ex.run_experiment(cfg, samples).variants
    assert clean.accuracy()["mean"] >= dirty.accuracy()["mean"]
    assert clean.recall()["anger"]["mean"] >= dirty.recall()["anger"]["mean"]


def test_cli_prints_mean_and_sd_per_variant(capsys):
    rc = ex.main(["run", "pairs", "--data", str(SAMPLES), "--model", "pieces", "--repeats", "2", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["experiment"] == "pairs" and out["seeds"] == [0, 1]
    assert [v["variant"] for v in out["variants"]] == [
        "joy-anger@20",
        "joy-anger@35",
        "surprise-anger@20",
        "surprise-anger@35",
    ]
    for v in out["variants"]:
        assert set(v["accuracy"]) == {"mean", "sd"} and set(v["recall"]) == set(v["classes"])


def test_cli_reports_a_missing_folder_as_json_error(tmp_path, capsys):
    rc = ex.main(["run", "size", "--data", str(tmp_path / "nothing"), "--json"])
    assert rc == 2
    assert json.loads(capsys.readouterr().err)["error"] == "no_data"


def test_sizes_beyond_the_photos_are_refused_not_mislabelled():
    # 5 training photos per class: "6 vs 18" would train both on the same 5 and call them 6 and 18
    small = fake_data(train_per_class=5, test_per_class=2)
    cfg = _cfg("size")
    assert ex.shortfall(cfg, small) == {c: (18, 5) for c in LESSON_CLASSES}
    assert ex.most_per_class(cfg, small) == 5
    with pytest.raises(ex.ExperimentError) as err:
        ex.run_experiment(cfg, small)
    assert err.value.code == "too_few_for_size"
    pairs = ex.ExperimentConfig("pairs", pair_sizes=(4, 6))
    assert ex.shortfall(pairs, small) == {"joy": (6, 5), "anger": (6, 5), "surprise": (6, 5)}
    more = ex.ExperimentConfig("imbalance", counts=(("joy", 5), ("sadness", 2)))
    assert ex.shortfall(more, small) == {}  # "more data" fills sadness up to 5: there are 5
    assert ex.shortfall(_cfg("mislabel"), small) == {}  # uses what there is
    result = ex.run_experiment(_cfg("size", sizes=(2, 5), repeats=1), small)
    assert [v.n_train() for v in result.variants] == [2 * 5, 5 * 5]  # each variant got its size


def test_pairs_summary_counts_the_test_photos_each_pair_is_scored_on(data):
    result = ex.run_experiment(_cfg("pairs", repeats=1), data)
    assert len(result.test_ids) == 8 * 5
    assert {v.summary()["n_test"] for v in result.variants} == {8 * 2}


# --------------------------------------------------------------------------- comparisons chosen from the data


def test_auto_probe_is_a_test_photo_shown_to_every_model(data):
    result = ex.run_experiment(_cfg("size"), data, probe="auto")
    assert result.probe_id in {e.id for e in data.test}
    assert all(r.probe is not None for v in result.variants for r in v.runs)
    with pytest.raises(ex.ExperimentError):
        ex.run_experiment(_cfg("size"), data, probe="best")


def test_pick_probe_takes_the_photo_where_the_compared_models_differ_most(data):
    cfg = _cfg("size")
    variants = ex.plan_variants(cfg, data)
    classes = variants[0].classes
    ids = [e.id for e in data.test]
    # every photo gets the same bars from both models except one, where the small model hesitates
    same = {i: np.full(len(classes), 1 / len(classes)) for i in ids}
    target = sorted(ids)[7]
    truth = next(e.label for e in data.test if e.id == target)
    sure = dict(same)
    sure[target] = np.eye(len(classes))[classes.index(truth)]
    picked = ex.pick_probe(cfg, data, variants, [[same, same], [sure, sure]])
    assert picked is not None and picked.id == target
    assert ex.compared(cfg, variants) == (1, 0)  # 60 per class against 20


def test_rank_pairs_finds_the_pair_whose_faces_share_their_pieces():
    rng = np.random.default_rng(3)
    examples, test_ids = [], []
    for side, n in (("train", 20), ("test", 8)):
        for i in range(n):
            for c in ("joy", "surprise", "anger"):
                eid = f"{c}/{side}{i}.jpg"
                # surprise photos carry anger's pieces: the two cannot be told apart
                face = fake_face("anger" if c == "surprise" else c, rng)
                examples.append(ex.Example(eid, c, f"{side}{i}", None, face))
                if side == "test":
                    test_ids.append(eid)
    shared = ex.make_data(examples, test_ids=test_ids)
    ranked = ex.rank_pairs(shared, per_class=20, seeds=(0,))
    assert ranked[0][0] == ("surprise", "anger") and ranked[0][1] > 0.2
    assert ranked[-1][1] < ranked[0][1]
