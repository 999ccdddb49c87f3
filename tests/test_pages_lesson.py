"""AppTest for the lesson pages after collecting: label, split, train, evaluate (seeded store, real edu_core).

The workspace is seeded with variants of one real extracted face (skimage's astronaut):
the real landmarks and crop, with each class's typical movements written into the
blendshape scores, so the pieces model has something true to learn in a second.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import face_variants as fv
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from edu_core.i18n import class_name, reason_message, t
from edu_core.images import encode_jpeg
from edu_core.labels import LESSON_CLASSES

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

SIGNATURES = {
    "joy": ("mouthSmileLeft", "mouthSmileRight", "cheekSquintLeft"),
    "sadness": ("browInnerUp", "mouthFrownLeft", "mouthFrownRight"),
    "surprise": ("jawOpen", "eyeWideLeft", "eyeWideRight"),
    "anger": ("browDownLeft", "browDownRight", "mouthPressLeft"),
    "neutral": (),
}


@pytest.fixture(scope="module")
def base_face():
    from edu_core import faces

    face = faces.extract(fv.to_jpeg(fv.astronaut()))
    assert face.ok
    return face


def _variant(base, label: str, k: int, rng: np.random.Generator):
    shapes = {name: float(rng.uniform(0.0, 0.1)) for name in base.blendshapes}
    for name in SIGNATURES[label]:
        shapes[name] = float(rng.uniform(0.6, 0.9))
    crop = np.clip(base.crop.astype(np.int16) + rng.integers(-6, 7, base.crop.shape), 0, 255).astype(np.uint8)
    lm = base.landmarks + rng.normal(0, 0.4, base.landmarks.shape).astype(np.float32)
    return dataclasses.replace(base, crop=crop, landmarks=lm, blendshapes=shapes)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, base_face):
    """A data folder with a class, a student and 8 labelled faces per class (plus one unlabelled).

    Built once per module; each test gets its own copy (copying is much faster than storing
    41 photos with their fsyncs again).
    """
    from edu_core.store import open_store

    root = tmp_path_factory.mktemp("seeded") / "lab"
    db = open_store(root)
    klass, session = db.create_class("6-2", "2468")
    student = db.join(klass.id, "여우")
    rng = np.random.default_rng(7)
    for label in LESSON_CLASSES:
        for k in range(8):
            face = _variant(base_face, label, k, rng)
            db.add_image(student.id, encode_jpeg(face.crop), filename=f"{label}_{k}.jpg", source="upload",
                         face=face, label=label)  # fmt: skip
    extra = _variant(base_face, "joy", 99, rng)
    db.add_image(student.id, encode_jpeg(extra.crop), filename="mystery.jpg", source="upload", face=extra)
    db.close()
    return root, klass, session, student


@pytest.fixture()
def lab(tmp_path, monkeypatch, seeded):
    """A private copy of the seeded data folder, opened as the app will open it."""
    import shutil

    from edu_core.store import open_store

    template, klass, session, student = seeded
    root = tmp_path / "lab"
    shutil.copytree(template, root)
    monkeypatch.setenv("EXPRESSION_LAB_DATA", str(root))
    return open_store(root), klass, session, student


def _open(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(params)
    at.run()
    return at.switch_page(page).run()


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.warning] + [e.value for e in at.success]
    parts += [e.value for e in at.info] + [e.value for e in at.error] + [s.value for s in at.subheader]
    return "\n".join(str(p) for p in parts)


def test_label_page_moves_a_photo_and_keeps_history(lab):
    db, _, _, student = lab
    at = _open("views/label.py", s=student.resume_code)
    assert not at.exception
    assert len(at.get("plotly_chart")) == 1  # counts chart
    assert t("warn.unlabelled", n=1) in _texts(at)
    mystery = next(r for r in db.list_images(student.id) if r.filename == "mystery.jpg")
    at.button(key=f"grid_None_{mystery.id}").click().run()  # target defaults to the first class (joy)
    assert not at.exception
    assert db.image(student.id, mystery.id).label == "joy"
    assert [e.new_label for e in db.label_history(student.id, mystery.id)] == ["joy"]
    assert "mystery.jpg" in _texts(at)  # the change is in the history list


def test_label_page_stays_on_the_chosen_view_while_moving_one_photo_at_a_time(lab):
    """Issue 15.10: with st.tabs the view jumped back to "no label" after every single move."""
    db, _, _, student = lab
    at = _open("views/label.py", s=student.resume_code)
    from webui.label import NO_LABEL

    assert at.button_group(key="label_view").value == NO_LABEL  # one photo has no label yet
    at.button_group(key="label_view").set_value("joy").run()
    at.button_group(key="label_target").set_value("sadness").run()
    joy = sorted(r.id for r in db.list_images(student.id, label="joy"))
    for photo in joy[:2]:
        at.button(key=f"grid_joy_{photo}").click().run()
        assert not at.exception
        assert at.button_group(key="label_view").value == "joy"
        shown = {b.key for b in at.button if b.key and b.key.startswith("grid_")}
        assert shown and all(k.startswith("grid_joy_") for k in shown), shown
    assert [db.image(student.id, i).label for i in joy[:2]] == ["sadness", "sadness"]
    assert t("label.tab", name=class_name("joy"), n=6) in _texts(at)


def test_label_page_tags_who_is_in_the_photos_and_the_split_keeps_them_apart(lab):
    """Issue 15.11: photos are the uploader's until tagged; a person-keeping split honours the tags."""
    db, _, _, student = lab
    split_page = _open("views/split.py", s=student.resume_code)
    split_page.checkbox(key="split_by_person").check().run()
    _button(split_page, t("split.button")).click().run()
    assert not split_page.exception
    assert db.list_splits(student.id)[-1].test_ids == ()  # all photos show the one student
    assert t("split.one_person") in [w.value for w in split_page.warning]

    at = _open("views/label.py", s=student.resume_code)
    labelled = [r.id for r in db.list_images(student.id, status="ok", labelled=True)]
    friend = labelled[::2]  # half of every expression
    for group in LESSON_CLASSES:
        at.button_group(key="label_view").set_value(group).run()
        mine = [i for i in friend if db.image(student.id, i).label == group]
        at.multiselect(key=f"person_{group}_pick").set_value(mine).run()
        at.text_input(key=f"person_{group}_name").input("곰").run()
        at.button(key=f"person_{group}_save").click().run()
        assert not at.exception
    assert {db.image(student.id, i).person for i in friend} == {"곰"}
    me = t("label.person_me")
    assert t("label.person_counts", tags=", ".join(sorted([f"{me} (21)", "곰 (20)"]))) in _texts(at)

    split_page.run()
    _button(split_page, t("split.button")).click().run()
    assert t("split.few_people", n=2) in [w.value for w in split_page.warning]  # 80 % of two people
    split_page.slider(key="split_ratio").set_value(50).run()
    _button(split_page, t("split.button")).click().run()
    split = db.list_splits(student.id)[-1]
    assert split.by_person and split.test_ids
    sides = [{db.image(student.id, i).person for i in part} for part in (split.train_ids, split.test_ids)]
    assert sides in ([{None}, {"곰"}], [{"곰"}, {None}]), sides
    assert t("split.one_person") not in [w.value for w in split_page.warning]


def test_label_page_warns_about_imbalance(lab):
    db, _, _, student = lab
    sad = [r.id for r in db.list_images(student.id, label="sadness")][:5]
    db.set_labels(student.id, {i: None for i in sad})  # 3 sadness vs 8 of the others
    at = _open("views/label.py", s=student.resume_code)
    assert not at.exception
    assert any(class_name("sadness") in w.value for w in at.warning)


def test_split_page_shows_how_many_photos_are_held_back(lab):
    db, _, _, student = lab
    at = _open("views/split.py", s=student.resume_code)
    assert not at.exception
    _button(at, t("split.button")).click().run()
    assert not at.exception
    split = db.list_splits(student.id)[-1]
    assert (len(split.train_ids), len(split.test_ids)) == (32, 8)
    assert t("split.summary", total=40, train=32, test=8) in _texts(at)


def test_train_then_evaluate_then_try_it(lab):
    db, _, _, student = lab
    db.make_split(student.id, test_ratio=0.2, seed=0)
    at = _open("views/train.py", s=student.resume_code)
    assert not at.exception
    _button(at, t("train.start")).click().run()
    assert not at.exception
    deadline = time.monotonic() + 120
    while not at.success and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()  # the page notices on a rerun that the job has ended
    assert not at.exception
    assert db.list_models(student.id), "training never finished"
    run = db.list_runs(student.id)[-1]
    assert run.status == "done" and run.metrics["n"] == 8
    assert run.metrics["accuracy"] > 0.6  # the class signatures are learnable
    assert t("train.done", acc=run.metrics["accuracy"]) in [s.value for s in at.success], _texts(at)

    ev = _open("views/evaluate.py", s=student.resume_code)
    assert not ev.exception
    assert ev.metric[0].value == f"{run.metrics['accuracy']:.0%}"
    assert t("eval.interval_note") in [c.value for c in ev.caption]  # the 95% error bars are explained
    ev.file_uploader(key="try_upload").set_value(("new.jpg", fv.to_jpeg(fv.astronaut()), "image/jpeg"))
    ev.run()
    assert not ev.exception
    charts_shown = ev.get("plotly_chart")
    assert len(charts_shown) >= 4  # recall, confusion, probability bars, why
    verdicts = [s.value for s in ev.success] + [w.value for w in ev.warning]
    assert any(class_name(c) in v for v in verdicts for c in LESSON_CLASSES) or any(
        t("eval.cannot_tell", p=0.0)[:10] in v for v in verdicts
    )
    middle = t("eval.why_top", name="X", piece="Y").split("X")[1].split("Y")[0]
    assert any(middle in i.value for i in ev.info)  # the why view names the part that mattered


def _trained_model_with_test_run(db, student, kind: str = "pieces") -> dict:
    """A model trained on the split's training photos, its test figures stored as a run."""
    from edu_core import evaluate, models
    from edu_core.train import TrainConfig, train

    split = db.make_split(student.id, test_ratio=0.25, seed=0)
    labels = {r.id: r.label for r in db.list_images(student.id, status="ok", labelled=True)}
    train_ids = [i for i in split.train_ids if i in labels]
    test_ids = [i for i in split.test_ids if i in labels]
    cfg = TrainConfig(epochs=60) if kind == "pieces" else TrainConfig(mode="head", epochs=8)
    result = train(kind, db.faces(student.id, train_ids), [labels[i] for i in train_ids],
                   cfg, class_names=LESSON_CLASSES)  # fmt: skip
    model = db.add_model(student.id, name="m", kind=kind, labels=LESSON_CLASSES,
                         file_bytes=models.save_bundle(result.bundle))  # fmt: skip
    metrics = evaluate.evaluate_bundle(
        result.bundle, db.faces(student.id, test_ids), [labels[i] for i in test_ids], ids=test_ids
    )
    run_id = db.start_run(student.id, config={"kind": kind}, split_id=split.id)
    db.finish_run(student.id, run_id, metrics=metrics, model_id=model.id)
    return metrics


def _click_confusion_cell(at: AppTest, true: int, pred: int) -> AppTest:
    """What the browser sends when a cell of the confusion table is clicked (a plotly selection).

    AppTest has no plotly interaction, so the selection is added to the widget states of the next
    run exactly as the frontend serialises it.
    """
    import json

    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith("confusion_chart"))
    n = len(LESSON_CLASSES)
    names = [class_name(c) for c in LESSON_CLASSES]
    k = true * n + pred
    point = {"curve_number": 1, "point_number": k, "point_index": k, "x": names[pred], "y": names[true],
             "customdata": [true, pred]}  # fmt: skip
    states = at._tree.get_widget_states()
    state = states.widgets.add()
    state.id = chart.proto.id
    state.string_value = json.dumps(
        {"selection": {"points": [point], "point_indices": [k], "box": [], "lasso": []}}
    )
    return at._run(states)


def test_clicking_a_confusion_table_cell_shows_its_photos(lab):
    """Issue 15.4: the caption says a click on a cell shows its photos; the heatmap gave no points."""
    db, _, _, student = lab
    metrics = _trained_model_with_test_run(db, student)
    ev = _open("views/evaluate.py", s=student.resume_code)
    assert not ev.exception
    chart = next(c for c in ev.get("plotly_chart") if c.proto.id.endswith("confusion_chart"))
    assert '"customdata"' in chart.proto.spec  # the cells are selectable points, not only a heatmap
    cells = metrics["confusion_ids"]
    i, j = next((i, j) for i in range(5) for j in range(5) if cells[i][j])
    _click_confusion_cell(ev, i, j)
    assert not ev.exception
    title = t("eval.cell_photos", true=class_name(LESSON_CLASSES[i]), pred=class_name(LESSON_CLASSES[j]),
              n=len(cells[i][j]))  # fmt: skip
    assert title in _texts(ev)
    gallery = [im for im in ev.image if len(im.value) == len(cells[i][j])]
    assert gallery, "the cell's photos are not shown"
    # a later click on another cell replaces the first choice
    k, m = next((k, m) for k in range(5) for m in range(5) if cells[k][m] and (k, m) != (i, j))
    _click_confusion_cell(ev, k, m)
    title2 = t("eval.cell_photos", true=class_name(LESSON_CLASSES[k]), pred=class_name(LESSON_CLASSES[m]),
               n=len(cells[k][m]))  # fmt: skip
    assert title2 in _texts(ev) and title not in _texts(ev)


@pytest.mark.parametrize("kind", ["pieces", "cnn"])
def test_label_detective_on_the_page_finds_planted_mistakes(lab, kind):
    """Issue 15.3: the page ranked the model's own answers on its training photos, and found nothing.

    A CNN student's detective judges with the data-pieces model too: the CNN head's held-out
    guesses find too few planted mistakes at class sizes (README, the label detective).
    """
    db, _, _, student = lab
    joy = sorted(r.id for r in db.list_images(student.id, label="joy"))
    db.set_labels(student.id, {i: "sadness" for i in joy[:2]})
    _trained_model_with_test_run(db, student, kind)
    train_ids = set(db.list_splits(student.id)[-1].train_ids)
    planted = [i for i in joy[:2] if i in train_ids]
    assert planted
    ev = _open("views/evaluate.py", s=student.resume_code)
    assert not ev.exception
    assert not any(b.key and b.key.startswith("fix_") for b in ev.button)  # only when asked for
    ev.button(key="detective_start").click().run()
    assert not ev.exception
    assert t("eval.detective_none") not in [c.value for c in ev.caption]
    flagged = {int(b.key.removeprefix("fix_")) for b in ev.button if b.key and b.key.startswith("fix_")}
    assert set(planted) <= flagged, (planted, flagged)
    ev.button(key=f"fix_{planted[0]}").click().run()  # one click puts the label right
    assert db.image(student.id, planted[0]).label == "joy"


def test_try_it_explains_a_rejected_photo(lab):
    db, _, _, student = lab
    db.make_split(student.id, test_ratio=0.2, seed=0)
    from edu_core import models
    from edu_core.train import TrainConfig, train

    records = db.list_images(student.id, status="ok", labelled=True)
    result = train("pieces", db.faces(student.id, [r.id for r in records]), [r.label for r in records],
                   TrainConfig(tiny=True), class_names=LESSON_CLASSES)  # fmt: skip
    db.add_model(
        student.id,
        name="m",
        kind="pieces",
        labels=LESSON_CLASSES,
        file_bytes=models.save_bundle(result.bundle),
    )
    ev = _open("views/evaluate.py", s=student.resume_code)
    assert not ev.exception
    assert t("eval.no_test") in _texts(ev)  # no run recorded for this model: said plainly
    ev.file_uploader(key="try_upload").set_value(("masked.jpg", fv.mask(), "image/jpeg"))
    ev.run()
    assert not ev.exception
    assert any(reason_message("occluded_mouth") in w.value for w in ev.warning)


def test_pages_without_prerequisites_point_back(lab):
    _, _, _, student = lab
    at = _open("views/train.py", s=student.resume_code)
    assert t("train.need_split") in _texts(at)
    at = _open("views/evaluate.py", s=student.resume_code)
    assert t("eval.no_model") in _texts(at)


def test_teacher_pools_shared_photos_and_trains_a_class_model(lab, monkeypatch):
    db, klass, session, student = lab
    db.set_pool_consent(student.id, True)
    monkeypatch.setenv("EXPRESSION_LAB_TEACHER_PASSWORD", "staff-room-door")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/teacher.py").run()
    at.text_input(key="teacher_password").input("staff-room-door")  # the server's door, then the PIN
    _button(at, t("teacher.door_button")).click().run()
    at.text_input(key="login_pin").input("2468")
    _button(at, t("teacher.login_button")).click().run()
    assert not at.exception
    _button(at, t("teacher.merge_button")).click().run()
    assert not at.exception
    assert t("teacher.merged", students=1, n=40) in [s.value for s in at.success]
    _button(at, t("teacher.train_class")).click().run()
    deadline = time.monotonic() + 120
    while (
        not any(s.value.startswith(t("train.done", acc=0.0)[:8]) for s in at.success)
        and time.monotonic() < deadline
    ):
        time.sleep(0.5)
        at.run()
    assert not at.exception
    models = db.list_models(session)
    assert len(models) == 1 and models[0].student_id is None  # a class model, not a student's
    assert any(d.label == t("teacher.export_model") for d in at.get("download_button"))


def test_advanced_settings_start_at_the_real_defaults_and_the_curve_has_every_epoch(lab):
    """The sliders show what training really uses; the chosen epochs are the progress total and
    the number of curve points (a CNN once showed 20 here, trained 100 and drew ~50)."""
    from edu_core.train import TrainConfig, choose_device

    db, _, _, student = lab
    db.make_split(student.id, test_ratio=0.2, seed=0)
    at = _open("views/train.py", s=student.resume_code)
    at.toggle(key="train_advanced").set_value(True).run()
    at.radio(key="train_kind").set_value("cnn").run()
    assert not at.exception
    cnn = TrainConfig().resolved("cnn", choose_device("auto"))
    assert at.slider(key="train_epochs_cnn").value == cnn.epochs
    assert at.select_slider(key="train_batch_cnn").value == cnn.batch_size
    assert at.select_slider(key="train_lr_cnn").value == cnn.lr
    at.radio(key="train_kind").set_value("pieces").run()
    at.slider(key="train_epochs_pieces").set_value(12).run()
    _button(at, t("train.start")).click().run()
    deadline = time.monotonic() + 120
    while not at.success and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    assert not at.exception
    run = db.list_runs(student.id)[-1]
    assert run.status == "done" and run.metrics["planned_epochs"] == 12
    assert [h["epoch"] for h in run.metrics["history"]] == list(range(1, 13))
    assert t("train.curves_note") in [c.value for c in at.caption]


def test_live_training_view_shows_progress_and_can_cancel(lab):
    """A slow job (epochs paced by the test) shows its progress and curves live; *stop* ends it."""
    import threading

    from edu_core.train import TrainingCancelled
    from webui import resources, train

    db, _, _, student = lab
    db.make_split(student.id, test_ratio=0.2, seed=0)
    release = threading.Event()

    def slow(on_epoch_end, cancel):
        on_epoch_end(1, {"loss": 1.2, "acc": 0.4, "val_loss": 1.3, "val_acc": 0.35})
        while not cancel.is_set():
            if release.wait(0.05):
                break
        raise TrainingCancelled()

    queue = resources.training_service()  # the server-wide queue the pages use
    job = queue.submit_call(slow, total_epochs=10, owner=train.owner_of(student.id))
    try:
        deadline = time.monotonic() + 10
        while not job.history and time.monotonic() < deadline:
            time.sleep(0.05)
        at = _open("views/train.py", s=student.resume_code)
        assert not at.exception
        assert any(p.text == t("train.running", epoch=1, epochs=10) for p in at.get("progress"))
        assert _button(at, t("train.start")).disabled  # one run at a time per student
        _button(at, t("train.cancel")).click().run()
        assert job.wait(10) and job.state == "cancelled"
        at.run()
        assert reason_message("training_cancelled") in [e.value for e in at.error]
    finally:
        release.set()


def test_training_result_survives_a_server_restart(lab):
    """With no job in the server's memory, the train page shows the last run from the store."""
    db, _, _, student = lab
    split = db.make_split(student.id, test_ratio=0.2, seed=0)
    history = [{"epoch": 1, "loss": 1.0, "acc": 0.5}, {"epoch": 2, "loss": 0.5, "acc": 0.8}]
    run_id = db.start_run(student.id, config={"kind": "pieces"}, split_id=split.id)
    db.finish_run(student.id, run_id, metrics={"accuracy": 0.75, "n": 8, "history": history})
    at = _open("views/train.py", s=student.resume_code)
    assert not at.exception
    assert t("train.done", acc=0.75) in [s.value for s in at.success]
    assert len(at.get("plotly_chart")) == 1


@pytest.mark.parametrize(
    ("page", "title"),
    [
        ("views/home.py", "home.title"),
        ("views/collect.py", "collect.title"),
        ("views/label.py", "label.title"),
        ("views/split.py", "split.title"),
        ("views/train.py", "train.title"),
        ("views/evaluate.py", "eval.title"),
        ("views/teacher.py", "teacher.title"),
    ],
)
def test_every_page_opens_in_english_without_errors(lab, page, title):
    db, _, _, student = lab
    db.make_split(student.id, test_ratio=0.2, seed=0)
    at = _open(page, s=student.resume_code, lang="en")
    assert not at.exception
    assert at.title[0].value == t(title, "en")


def test_label_page_puts_photos_into_the_classs_groups(lab):
    """Issue 13.5: pick photos of the view, give them a group the class uses, or clear it."""
    db, _, _, student = lab
    photos = db.list_images(student.id, status="ok")
    db.set_group(student.id, [photos[0].id], "안경")  # a tag the class already uses is offered
    at = _open("views/label.py", s=student.resume_code)
    at.button_group(key="label_view").set_value("joy").run()
    joy = [r.id for r in db.list_images(student.id, status="ok") if r.label == "joy"]
    box = at.selectbox(key="tag_joy_name")
    assert "안경" in box.options
    at.multiselect(key="tag_joy_pick").set_value(joy[:3]).run()
    at.selectbox(key="tag_joy_name").set_value("안경").run()
    at.button(key="tag_joy_save").click().run()
    assert not at.exception
    assert {db.image(student.id, i).group for i in joy[:3]} == {"안경"}
    assert t("label.group_saved", n=3, name="안경") in [e.proto.body for e in at.toast]
    tagged = 3 + (photos[0].id not in joy[:3])
    assert f"안경 ({tagged})" in _texts(at)
    at.multiselect(key="tag_joy_pick").set_value(joy[:1]).run()
    at.selectbox(key="tag_joy_name").set_value(None).run()
    at.button(key="tag_joy_save").click().run()
    assert db.image(student.id, joy[0]).group is None
