"""AppTest: the 실험실 page runs an experiment on the samples, shows, stores and exports it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from edu_core import experiments as ex

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(300)


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


def test_runs_an_experiment_and_shows_variants_side_by_side(student):
    at = _run_pair_experiment(_page())
    assert at.title[0].value == ex.text("lab.title", "ko")
    headings = [m.value for m in at.markdown]
    for label in ("20장씩", "60장씩"):
        assert f"#### {label}" in headings
    # accuracy + recall, then a probe chart and a confusion matrix for each of the two variants
    assert len(at.get("plotly_chart")) == 2 + 2 * 2
    result = at.session_state["lab_result"]
    assert [v.variant.key for v in result.variants] == ["n20", "n60"]
    assert result.config.repeats >= 5 and result.variants[0].variant.classes == ("joy", "anger")
    assert len(at.get("download_button")) == 2


def test_result_is_stored_for_a_student_and_offered_again(student):
    db, kid = student
    at = _run_pair_experiment(_page(s=kid.resume_code))
    [(run_id, stored)] = ex.list_results(db, kid.id)
    assert stored.summary() == at.session_state["lab_result"].summary()
    assert at.selectbox(key="lab_past") is not None  # earlier results can be brought back


def test_projector_view_hides_the_settings(student):
    at = _run_pair_experiment(_page())
    at.toggle(key="lab_projector").set_value(True).run()
    assert not at.exception
    assert not [b for b in at.button if b.key == "lab_run"]
    assert len(at.get("plotly_chart")) == 6  # the results stay on screen


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
    import numpy as np
    from test_experiments import fake_face

    from edu_core.store import NewImage

    db, kid = student
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
            for i in range(12)
            for c in ("joy", "sadness")
        ],
    )
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


def test_class_names_belong_to_each_session_and_samples_load_once(student, monkeypatch):
    """Two sessions in one server: their own language and their own class's renamings.

    The sample faces, on the other hand, are the server's: loaded once for every session.
    """
    from edu_core import ui
    from edu_core.i18n import class_name

    db, kid = student
    other, session = db.create_class("6-2", "8642")
    db.rename_classes(session, {"joy": "웃음"})
    renamer = db.join(other.id, "여우")
    loads = []
    real_load = ex.load_folder
    monkeypatch.setattr(ex, "load_folder", lambda *a, **k: loads.append(1) or real_load(*a, **k))
    ui.lab_sample_data.clear()

    def probe_names(at: AppTest) -> set[str]:
        assert not at.exception, at.exception
        return {option.split(" · ")[0] for option in at.selectbox(key="lab_probe_size").options}

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
