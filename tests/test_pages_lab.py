"""AppTest: the 실험실 page runs an experiment on the samples, shows, stores and exports it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from edu_core import experiments as ex

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


@pytest.fixture()
def student(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPRESSION_LAB_DATA", str(tmp_path / "lab"))
    from edu_core.store import open_store

    db = open_store(tmp_path / "lab")
    klass, _ = db.create_class("6-1", "4321")
    return db, db.join(klass.id, "토끼")


def _page(**params: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "views" / "lab.py"), default_timeout=240)
    at.query_params.update(params)
    return at


def _run_pair_experiment(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    at.toggle(key="lab_pair").set_value(True).run()  # joy vs anger: the lesson's pair, and quick
    at.button(key="lab_run").click().run()
    assert not at.exception, at.exception
    return at


def result_probe_is_a_test_photo(at: AppTest) -> bool:
    result = at.session_state["lab_result"]
    return result.probe_id in result.test_ids


def test_runs_an_experiment_and_shows_variants_side_by_side(student):
    at = _run_pair_experiment(_page())
    assert at.title[0].value == ex.text("lab.title", "ko")
    headings = [m.value for m in at.markdown]
    for label in ("20장씩", "60장씩"):
        assert f"#### {label}" in headings
    # accuracy + recall, the probe photo's bars from both models side by side, then a probe chart
    # and a confusion matrix for each of the two variants
    assert len(at.get("plotly_chart")) == 2 + 2 + 2 * 2
    assert [m.value for m in at.markdown if m.value == f"#### {ex.text('lab.probe_compare', 'ko')}"]
    assert result_probe_is_a_test_photo(at)
    result = at.session_state["lab_result"]
    assert [v.variant.key for v in result.variants] == ["n20", "n60"]
    assert result.config.repeats >= 5 and result.variants[0].variant.classes == ("joy", "anger")
    # the title counts the test photos the pair was scored on, not the whole five-class test set
    n_pair = result.variants[0].n_test()
    assert 0 < n_pair < len(result.test_ids)
    assert f"시험 사진 {n_pair}장" in at.subheader[0].value
    assert len(at.get("download_button")) == 2


def test_results_live_in_one_slot_that_a_new_run_empties_first(student):
    # Streamlit greys out, but keeps, whatever the last run drew below the point a new run is at: the
    # results must all sit in one placeholder that the page re-creates before the run starts.
    def inside(node, kind):
        return node.get(kind) if hasattr(node, "children") else [node] if node.type == kind else []

    at = _run_pair_experiment(_page())
    top = list(at.main.children.values())
    holders = [i for i, node in enumerate(top) if inside(node, "plotly_chart")]
    assert len(holders) == 1 and len(inside(top[holders[0]], "plotly_chart")) == 8
    assert not inside(top[holders[0]], "button")  # the controls (and their progress bar) are elsewhere
    at.button(key="lab_run").click().run()
    again = list(at.main.children.values())
    assert [i for i, node in enumerate(again) if inside(node, "plotly_chart")] == holders  # the same slot


def test_result_is_stored_for_a_student_and_offered_again(student):
    db, kid = student
    at = _run_pair_experiment(_page(s=kid.resume_code))
    [(run_id, stored)] = ex.list_results(db, kid.id)
    assert stored.summary() == at.session_state["lab_result"].summary()
    past = at.selectbox(key="lab_past")  # earlier results can be brought back
    assert past.value is None and past.proto.placeholder == ex.text("lab.past_pick", "ko", n=1)
    model = ex.text("lab.model_name.pieces", "ko")
    assert past.options == [f"#{run_id} · {ex.text('lab.exp.size', 'ko')} · {model}"]
    assert model in at.subheader[0].value and "pieces" not in at.subheader[0].value


def test_probe_picker_names_classes_in_each_visitors_language(student):
    from edu_core.i18n import class_name
    from edu_core.labels import LESSON_CLASSES

    for lang in ("ko", "en"):  # one server: the Korean visitor's names must not stick for the next one
        at = _page()
        at.session_state["lang"] = lang
        at.run()
        assert not at.exception, at.exception
        options = at.selectbox(key="lab_probe_size").options
        assert options[0] == ex.text("lab.probe_auto", lang)  # the lab's own pick comes first
        shown = {o.split(" · ")[0] for o in options[1:]}
        assert shown <= {class_name(c, lang) for c in LESSON_CLASSES}, (lang, shown)


def test_projector_view_hides_the_settings(student):
    at = _run_pair_experiment(_page())
    at.toggle(key="lab_projector").set_value(True).run()
    assert not at.exception
    assert not [b for b in at.button if b.key == "lab_run"]
    assert len(at.get("plotly_chart")) == 8  # the results stay on screen


def test_english_page_names_variants_in_english(student):
    at = _page()
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception
    assert at.title[0].value == "Experiment lab"
    at.number_input(key="lab_small").set_value(10).run()
    at = _run_pair_experiment(at)
    headings = [m.value for m in at.markdown]
    assert "#### 10 each" in headings and "#### 60 each" in headings
    assert at.session_state["lab_result"].config.sizes == (10, 60)


def test_student_can_experiment_with_their_own_photos(student):
    db, kid = student
    _own_photos(db, kid, 12)
    at = _page(s=kid.resume_code).run()
    at.toggle(key="lab_mine").set_value(True).run()
    at.number_input(key="lab_small").set_value(3).run()
    at.number_input(key="lab_large").set_value(8).run()
    at.button(key="lab_run").click().run()
    assert not at.exception, at.exception
    result = at.session_state["lab_result"]
    assert result.variants[0].variant.classes == ("joy", "sadness")
    own = set(result.test_ids)
    assert own and all(i.startswith("img:") for i in own)
    assert all(not own & set(r.train_ids) for v in result.variants for r in v.runs)


def _own_photos(db, kid, per_class: int) -> None:
    import numpy as np
    from test_experiments import fake_face

    from edu_core.store import NewImage

    rng = np.random.default_rng(5)
    db.add_images(
        kid.id,
        [
            NewImage(
                f"own {c} {i}".encode() * 4,
                f"{c}{i}.jpg",
                "upload",
                fake_face(c, rng),
                person=f"p{i}",
                label=c,
            )
            for i in range(per_class)
            for c in ("joy", "sadness")
        ],
    )


def test_too_few_own_photos_say_what_is_missing_and_offer_sizes_that_fit(student):
    from edu_core.i18n import class_name, t

    db, kid = student
    _own_photos(db, kid, 11)
    at = _page(s=kid.resume_code).run()
    at.toggle(key="lab_mine").set_value(True).run()  # 20 vs 60 by default
    assert not at.exception, at.exception
    data = ex.load_store(db, kid.id)
    have = {c: sum(e.label == c for e in data.train) for c in ("joy", "sadness")}
    assert max(have.values()) < 20
    warning = " ".join(w.value for w in at.warning)
    for c in ("joy", "sadness"):
        assert t("lab.short_item", name=class_name(c), have=have[c], need=60) in warning
    assert at.button(key="lab_run").disabled  # never "20" and "60" both trained on the same photos
    most = min(have.values())
    at.button(key="lab_use_sizes").click().run()
    assert not at.exception, at.exception
    assert (at.number_input(key="lab_small").value, at.number_input(key="lab_large").value) == (
        most // 2,
        most,
    )
    assert not at.warning and not at.button(key="lab_run").disabled
    at.button(key="lab_run").click().run()
    assert not at.exception, at.exception
    result = at.session_state["lab_result"]
    assert [v.n_train() for v in result.variants] == [2 * (most // 2), 2 * most]
    headings = [m.value for m in at.markdown]
    assert f"#### {most // 2}장씩" in headings and f"#### {most}장씩" in headings


def test_detective_line_says_it_is_a_mean_over_seeds(student):
    from edu_core.i18n import t

    db, kid = student
    classes = ("joy", "anger")

    def seed_run(seed: int, found: int) -> ex.SeedRun:
        planted = tuple(f"anger/{i}" for i in range(6))
        return ex.SeedRun(
            seed=seed, train_ids=planted, train_counts={"joy": 3, "anger": 3}, accuracy=0.5,
            recall={"joy": 0.5, "anger": 0.5}, confusion=[[1, 1], [1, 1]], planted=planted,
            found=planted[:found],
        )  # fmt: skip

    variant = ex.Variant("mislabel10", classes, {"source": "anger", "fraction": 0.1})
    result = ex.ExperimentResult(
        config=ex.ExperimentConfig("mislabel", repeats=2, classes=classes),
        fingerprint="f",
        test_ids=("a", "b", "c", "d"),
        variants=(ex.VariantResult(variant, (seed_run(0, 3), seed_run(1, 4))),),
        seconds=1.0,
        device="cpu",
    )
    ex.save_result(db, kid.id, result)
    at = _page(s=kid.resume_code).run()
    past = at.selectbox(key="lab_past")
    past.set_value(ex.list_results(db, kid.id)[0]).run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert (
        t("lab.detective", planted="6", found="3.5", runs=2) in captions
    )  # "6장 중 평균 3.5장", not "6.0장 중 3.5장"


def test_class_names_belong_to_each_session_and_samples_load_once(student, monkeypatch):
    """Two sessions in one server: their own language and their own class's renamings.

    The sample faces, on the other hand, are the server's: loaded once for every session.
    """
    from edu_core.i18n import class_name
    from webui import lab

    db, kid = student
    other, session = db.create_class("6-2", "8642")
    db.rename_classes(session, {"joy": "웃음"})
    renamer = db.join(other.id, "여우")
    loads = []
    real_load = ex.load_folder
    monkeypatch.setattr(ex, "load_folder", lambda *a, **k: loads.append(1) or real_load(*a, **k))
    lab.lab_sample_data.clear()

    def probe_names(at: AppTest) -> set[str]:
        assert not at.exception, at.exception
        return {option.split(" · ")[0] for option in at.selectbox(key="lab_probe_size").options[1:]}

    renamed_ko = _page(s=renamer.resume_code).run()
    plain_en = _page(s=kid.resume_code)
    plain_en.session_state["lang"] = "en"
    plain_en.run()
    plain_ko = _page(s=kid.resume_code).run()
    assert "웃음" in probe_names(renamed_ko) and class_name("joy", "ko") not in probe_names(renamed_ko)
    assert class_name("joy", "en") in probe_names(plain_en) and "웃음" not in probe_names(plain_en)
    assert class_name("joy", "ko") in probe_names(plain_ko) and "웃음" not in probe_names(plain_ko)
    plain_ko.run()  # a rerun of the same session
    assert len(loads) == 1


def _fairness_chart(at: AppTest) -> dict | None:
    import json

    chart = next((c for c in at.get("plotly_chart") if "lab_fairness" in c.proto.id), None)
    return json.loads(chart.proto.spec) if chart is not None else None


def test_lab_shows_the_gate_and_the_model_per_group_of_the_students_photos(student):
    """Issue 13.5: the class's groups in the student's own photos, the keep rate and the accuracy."""
    from test_store import face

    from edu_core.i18n import t
    from edu_core.store import NewImage

    db, kid = student
    _own_photos(db, kid, 4)
    at = _page(s=kid.resume_code).run()
    assert not at.exception, at.exception
    assert _fairness_chart(at) is None
    assert t("fair.lab_no_tags") in [i.value for i in at.info]  # says how to tag them

    records = db.list_images(kid.id)
    glasses, bare = [r.id for r in records[:5]], [r.id for r in records[5:]]
    db.set_group(kid.id, glasses, "안경")
    db.set_group(kid.id, bare, "안경 없음")
    rejected = db.add_images(
        kid.id, [NewImage(b"masked" * 9, "m.jpg", "upload", face(1, "rejected"), group="안경")]
    )
    assert rejected[0].status == "rejected"
    at.run()
    assert not at.exception, at.exception
    spec = _fairness_chart(at)
    assert spec is not None
    keep, acc = spec["data"]
    assert keep["x"] == ["안경", "안경 없음"]
    assert keep["text"] == ["5/6", "3/3"]  # the rejected photo counts against its group
    assert acc["text"] == ["–", "–"]  # no model yet
    assert t("fair.no_model") in [c.value for c in at.caption]

    run = db.start_run(kid.id, config={"kind": "pieces"})
    # test photos: two of 안경 (one right), one of 안경 없음 (wrong)
    cells = [[[glasses[0]], [glasses[1]]], [[bare[0]], []]]
    db.finish_run(kid.id, run, metrics={"accuracy": 1 / 3, "history": [], "confusion_ids": cells})
    at.run()
    assert not at.exception, at.exception
    keep, acc = _fairness_chart(at)["data"]
    assert acc["text"] == ["1/2", "0/1"]
    rows = [m.value for m in at.markdown]
    assert t("fair.row", group="안경", passed=5, photos=6, correct=1, tested=2) in rows


def test_pairs_compare_the_easiest_and_hardest_pair_the_samples_show(student):
    from edu_core.i18n import class_name

    at = _page()
    at.session_state["lab_exp"] = "pairs"
    at.run()
    assert not at.exception, at.exception
    (hard, _), *_, (easy, _) = ex.rank_pairs(ex.load_folder(ROOT / "sample_images"))
    named = [c.value for c in at.caption if class_name(hard[0], "ko") in c.value]
    assert any(class_name(hard[1], "ko") in c for c in named)  # the hard pair is named on the page
    at.button(key="lab_run").click().run()
    assert not at.exception, at.exception
    result = at.session_state["lab_result"]
    assert result.config.pairs == (easy, hard)
    # what to see, in words: one of the three verdicts on the compared figure
    verdicts = [*at.success, *at.info, *at.warning]
    assert any("35" in v.value or "%" in v.value for v in verdicts)
