"""AppTest for the 한국인 7감정 모델 page: demo build, report, loading checkpoints, predicting photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import face_variants as fv
import pytest
from korean7_faces import SIX, write_face_folder
from streamlit.testing.v1 import AppTest

from edu_core import korean7, models
from edu_core.i18n import reason_message, t
from edu_core.labels import KOREAN7_CLASSES, KOREAN7_NAMES
from edu_core.predict import DEFAULT_THRESHOLD

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]
TINY = {"arch": "resnet18", "epochs": 1, "long_side": 200, "image_size": 32, "crop_source": "boxes"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """One tiny synthetic seven-class run (2 photos per class, 1 epoch at 32 px: a few seconds)."""
    work = tmp_path_factory.mktemp("k7run")
    res = korean7.build_demo_pipeline(work, per_class=2, cpu_threads=1, **TINY)
    return Path(res.model_dir)


@pytest.fixture()
def data_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("EXPRESSION_LAB_DATA", str(tmp_path / "lab"))
    return tmp_path / "lab"


@pytest.fixture()
def saved_model(data_dir, tiny_run) -> Path:
    """The tiny run's checkpoint and metrics, saved in the data folder as an upload would be."""
    folder = data_dir / "korean7" / "uploads" / "tiny"
    folder.mkdir(parents=True)
    for name in ("best.pt", "metrics.json"):
        shutil.copy(tiny_run / name, folder / name)
    return folder / "best.pt"


def _open(*, lang: str = "ko", teacher: bool = False, data_dir: Path | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    # Set the language in session state: with ?lang=en AppTest falls back to Korean on the third run.
    at.session_state["lang"] = lang
    if teacher:
        from edu_core.store import open_store

        _, session = open_store(data_dir).create_class("6-1", "4321")
        at.session_state["teacher_session"] = session
        at.session_state["mode"] = "teacher"
    at.run()
    return at.switch_page("views/korean7.py").run()


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.warning] + [e.value for e in at.success]
    parts += [e.value for e in at.info] + [e.value for e in at.error] + [c.value for c in at.caption]
    return "\n".join(str(p) for p in parts)


def _bar_charts(at: AppTest) -> list[dict]:
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return [f for f in figures if f["data"] and f["data"][0].get("type") == "bar"]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_page_opens_without_a_model_in_both_languages(data_dir, lang):
    at = _open(lang=lang)
    assert not at.exception
    assert at.title[0].value == t("k7.title", lang)
    assert t("k7.no_model_student", lang) in _texts(at)
    at = _open(lang=lang, teacher=True, data_dir=data_dir)
    assert not at.exception
    assert t("k7.no_model", lang) in _texts(at)
    assert any(b.label == t("k7.demo_build", lang) for b in at.button)


def test_demo_button_builds_a_tiny_run_labelled_synthetic(data_dir):
    at = _open(teacher=True, data_dir=data_dir)
    at.number_input(key="k7_per_class").set_value(2)
    at.number_input(key="k7_epochs").set_value(1)
    at.select_slider(key="k7_image_size").set_value(32)
    at.radio(key="k7_crop_source").set_value("boxes")
    at.radio(key="k7_arch").set_value("resnet18")
    next(b for b in at.button if b.key == "k7_build").click().run()
    assert not at.exception, at.exception
    assert any(s.value.startswith(t("k7.demo_done", seconds=0)[:8]) for s in at.success)
    texts = _texts(at)
    assert t("k7.synthetic_badge") in texts and t("k7.synthetic_note") in texts
    assert t("k7.paper_confusion") in texts
    checkpoint = Path(json.loads((data_dir / "korean7" / "current.json").read_text())["path"])
    assert checkpoint.is_file() and (data_dir / "korean7" / "demo") in checkpoint.parents
    report = korean7.model_report(checkpoint)
    assert report["synthetic"] is True
    assert at.metric[0].value == f"{report['accuracy']:.1%}"
    assert len(at.get("plotly_chart")) == 2  # per-class bars and the confusion matrix
    table = at.dataframe[0].value
    assert list(table.iloc[:, 0])[:3] == [t(f"k7.prep.{p}") for p in korean7.PAPER_RESULTS]
    assert "84.4 %" in set(table["K-EmotionNet"])  # the paper's best, next to ours
    assert f"{100 * report['accuracy']:.1f} %" in set(table[t("k7.col.ours")])


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_photo_gets_seven_probabilities(saved_model, lang):
    at = _open(lang=lang)  # a student: the class's model is the one saved in the data folder
    assert not at.exception
    assert t("k7.synthetic_badge", lang) in _texts(at)
    at.file_uploader(key="k7_try_upload").set_value(("face.jpg", fv.to_jpeg(fv.astronaut()), "image/jpeg"))
    at.run()
    assert not at.exception
    bars = _bar_charts(at)[-1]["data"][0]  # the last bar chart is the prediction
    assert len(bars["x"]) == 7 and abs(sum(bars["x"]) - 1.0) < 1e-3
    names = {KOREAN7_NAMES[c] for c in KOREAN7_CLASSES} if lang == "ko" else set(KOREAN7_CLASSES)
    assert set(bars["y"]) == names
    # one rule with the five-class answer: below the shared threshold the page says it cannot tell
    top = max(bars["x"])
    if top >= DEFAULT_THRESHOLD:
        assert len(at.success) == 1 and any(n in at.success[0].value for n in names)
    else:
        assert not at.success and t("eval.cannot_tell", lang, p=top) in [w.value for w in at.warning]
    assert t("k7.five_none", lang) in _texts(at)  # no five-class model in this class yet


def test_a_bad_file_gets_a_reason_sentence(saved_model):
    at = _open()
    at.file_uploader(key="k7_try_upload").set_value(("notes.jpg", b"not a photo at all\n" * 20, "image/jpeg"))
    at.run()
    assert not at.exception
    assert any(reason_message("unsupported_format") in w.value for w in at.warning)
    at.file_uploader(key="k7_try_upload").set_value(("masked.jpg", fv.mask(), "image/jpeg"))
    at.run()
    assert not at.exception
    assert any(reason_message("occluded_mouth") in w.value for w in at.warning)


def test_loading_a_path_or_an_upload_and_keeping_it(data_dir, tiny_run):
    at = _open(teacher=True, data_dir=data_dir)
    at.text_input(key="k7_path").input(str(data_dir / "nowhere" / "best.pt")).run()
    next(b for b in at.button if b.key == "k7_load_path").click().run()
    assert t("k7.path_missing") in [e.value for e in at.error]

    at.file_uploader(key="k7_upload").set_value(
        ("broken.pt", b"\x00not a checkpoint" * 50, "application/octet-stream")
    )
    at.run()
    next(b for b in at.button if b.key == "k7_load_upload").click().run()
    assert not at.exception
    assert reason_message("model_invalid") in [e.value for e in at.error]

    files = [
        ("best.pt", (tiny_run / "best.pt").read_bytes(), "application/octet-stream"),
        ("metrics.json", (tiny_run / "metrics.json").read_bytes(), "application/json"),
    ]
    at.file_uploader(key="k7_upload").set_value(files)
    at.run()
    next(b for b in at.button if b.key == "k7_load_upload").click().run()
    assert not at.exception
    assert t("k7.loaded", name="best.pt") in [s.value for s in at.success]
    kept = list((data_dir / "korean7" / "uploads").rglob("*"))
    assert {p.name for p in kept if p.is_file()} >= {"best.pt", "metrics.json"}

    at.text_input(key="k7_path").input(str(tiny_run / "best.pt")).run()
    next(b for b in at.button if b.key == "k7_load_path").click().run()
    assert t("k7.loaded", name=str(tiny_run / "best.pt")) in [s.value for s in at.success]
    fresh = _open(lang="en")  # a reload (new session, a student): the class's choice is still there
    assert not fresh.exception
    assert fresh.metric[0].value == f"{json.loads((tiny_run / 'metrics.json').read_text())['accuracy']:.1%}"


def test_seven_and_five_class_answers_share_one_threshold(saved_model, monkeypatch):
    """A 20 % top answer once read "most likely 중립" here while the five-class page said "cannot tell"."""
    from edu_core import predict

    def unsure(model, data, landmarker=None, p=0.2):
        probs = {c: (1 - p) / 6 for c in KOREAN7_CLASSES} | {"neutral": p}
        return korean7.Korean7Prediction(status="ok", label="neutral", probabilities=probs, crop=None)

    monkeypatch.setattr(korean7, "predict_korean7", unsure)
    at = _open()
    at.file_uploader(key="k7_try_upload").set_value(("face.jpg", fv.to_jpeg(fv.astronaut()), "image/jpeg"))
    at.run()
    assert not at.exception, at.exception
    assert t("eval.cannot_tell", p=0.2) in [w.value for w in at.warning]
    assert not any(KOREAN7_NAMES["neutral"] in s.value for s in at.success)
    monkeypatch.setattr(predict, "DEFAULT_THRESHOLD", 0.1)  # the page reads the one shared constant
    at.run()
    assert any(KOREAN7_NAMES["neutral"] in s.value for s in at.success)


def test_intro_says_what_the_loaded_model_learned_from(data_dir, saved_model):
    at = _open()
    texts = _texts(at)
    assert t("k7.intro_synthetic") in texts and t("k7.intro_real") not in texts
    (data_dir / "korean7" / "uploads").rename(data_dir / "gone")  # the class has no model any more
    at = _open()
    assert t("k7.intro_none") in _texts(at) and t("k7.intro_synthetic") not in _texts(at)


def test_report_bars_and_confusion_table_use_one_class_order(saved_model):
    at = _open(lang="en")
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    bars = next(f for f in figures if f["data"][0].get("type") == "bar")
    heat = next(f for f in figures if f["data"][0].get("type") == "heatmap")
    rows = list(heat["data"][0]["x"])
    assert sorted(rows) == sorted(KOREAN7_CLASSES) and list(heat["data"][0]["y"]) == rows
    shown = list(bars["data"][0]["x"])  # classes without test photos have no bar
    assert shown == [c for c in rows if c in shown]


def test_accuracy_is_read_against_chance(saved_model):
    at = _open()
    acc = korean7.model_report(saved_model)["accuracy"]
    chance = 1 / 7
    key = "k7.vs_chance_above" if acc > chance else "k7.vs_chance_below"
    assert t(key, acc=acc, chance=chance, times=acc / chance) in [c.value for c in at.caption]


def test_demo_defaults_are_the_measured_ones(data_dir):
    at = _open(teacher=True, data_dir=data_dir)
    assert at.number_input(key="k7_per_class").value == korean7.DEMO_PER_CLASS
    assert at.number_input(key="k7_epochs").value == korean7.DEMO_HEAD_EPOCHS


@pytest.mark.timeout(600)
def test_teacher_trains_on_a_face_folder_without_neutral_and_sees_the_leak(data_dir, tmp_path):
    # A folder of face crops as the public AI Hub copies ship it: six classes, no 중립.
    if models.pretrained_weights_path("efficientnet_lite0") is None:
        pytest.skip("no offline ImageNet weights")
    write_face_folder(tmp_path / "crops", persons=20, per=2, size=64)
    at = _open(teacher=True, data_dir=data_dir)
    at.text_input(key="k7_real_path").set_value(str(tmp_path / "crops")).run()
    next(b for b in at.button if b.key == "k7_real_check").click().run()
    assert not at.exception, at.exception
    assert t("k7.real_absent", classes=KOREAN7_NAMES["neutral"]) in _texts(at)
    at.radio(key="k7_real_mode").set_value("head")
    at.select_slider(key="k7_real_size").set_value(64)
    at.number_input(key="k7_real_epochs_head").set_value(40)
    at.default_timeout = 500  # the run trains in the page thread's worker: slow on a shared CPU
    next(b for b in at.button if b.key == "k7_real_train").click().run()
    assert not at.exception, at.exception
    assert any(s.value.startswith(t("k7.real_done", seconds=0)[:8]) for s in at.success)
    checkpoint = Path(json.loads((data_dir / "korean7" / "current.json").read_text())["path"])
    report = korean7.model_report(checkpoint)
    assert report["classes"] == list(SIX) and report["absent_classes"] == ["neutral"]
    texts = _texts(at)
    assert t("k7.absent_report", classes=KOREAN7_NAMES["neutral"], n=6) in texts
    assert t("k7.synthetic_note") not in texts  # a teacher's own folder, not the painted demo
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[t("k7.leak_seen")] == f"{report['leak']['seen_people']['accuracy']:.1%}"
    assert metrics[t("k7.leak_new")] == f"{report['accuracy']:.1%}"  # the report's test is on new people
    at.file_uploader(key="k7_try_upload").set_value(("face.jpg", fv.to_jpeg(fv.astronaut()), "image/jpeg"))
    at.run()
    assert not at.exception, at.exception
    bars = _bar_charts(at)[-1]["data"][0]
    assert len(bars["x"]) == 6 and KOREAN7_NAMES["neutral"] not in set(bars["y"])
    assert t("k7.absent_bars", n=6, classes=KOREAN7_NAMES["neutral"]) in _texts(at)
