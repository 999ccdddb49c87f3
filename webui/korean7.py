"""Korean seven-class page widgets: loading or building the class's model, its report, trying it."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from edu_core import charts, i18n, korean7, models, predict
from edu_core.errors import EduError
from edu_core.korean7.registry import korean7_current, korean7_dir, use_checkpoint
from edu_core.labels import KOREAN7_NAMES
from edu_core.metrics import wilson_bounds
from webui.common import class_name, lang, run_with_progress, show_error, tr
from webui.evaluate import bundle, predict_upload, show_prediction
from webui.resources import landmarker_pool, store
from webui.session import student_id, teacher_session
from webui.train import class_models

#: Share of the demo's progress bar each stage of build_demo_pipeline fills (training is slowest).
K7_DEMO_STAGES: dict[str, tuple[float, float]] = {
    "generate": (0.0, 0.15),
    "prepare": (0.15, 0.45),
    "train": (0.45, 1.0),
}


def _k7_names() -> dict[str, str] | None:
    # The data set says 분노/중립 where the lesson says 화남/무표정; charts take it as a renaming.

    return dict(KOREAN7_NAMES) if lang() == "ko" else None


def _k7_name(class_id: str) -> str:
    return (_k7_names() or {}).get(class_id) or class_name(class_id)


def _k7_chart(fig: Any, key: str) -> None:
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None, key=key)


def korean7_use(path: str | Path) -> Any:
    """Load a checkpoint (``ModelFileError`` if it is not one) and make it the class's current model."""
    path = Path(path).expanduser().resolve()
    model = use_checkpoint(path)
    st.session_state["_k7_model"] = ((str(path), path.stat().st_mtime_ns), model)
    return model


def korean7_model() -> Any:
    """The class's current seven-class model, loaded once per session (None when there is none)."""

    path = korean7_current()
    if path is None:
        return None
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    cached = st.session_state.get("_k7_model")
    if cached is None or cached[0] != key:
        st.session_state["_k7_model"] = (key, korean7.load_model(path))
    return st.session_state["_k7_model"][1]


def korean7_load_path(text: str) -> None:
    """Teacher: use a checkpoint that already sits on the server (e.g. ``runs/resnet18/best.pt``)."""
    path = Path(text).expanduser()
    if not path.is_file():
        st.error(tr("k7.path_missing"), icon="⚠️")
        return
    try:
        korean7_use(path)
    except EduError as exc:
        show_error(exc)
        return
    st.success(tr("k7.loaded", name=str(path)), icon="📦")


def korean7_load_upload(files: list) -> None:
    """Teacher: keep an uploaded checkpoint (and its metrics.json) in the data folder, then use it."""

    pts = [f for f in files if f.name.lower().endswith(".pt")]
    if len(pts) != 1:
        st.warning(tr("k7.upload_need_pt"), icon="📦")
        return
    data = pts[0].getvalue()
    folder = korean7_dir() / "uploads" / hashlib.sha256(data).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "best.pt").write_bytes(data)
    for meta in (f for f in files if f.name.lower().endswith(".json")):
        try:
            parsed = json.loads(meta.getvalue().decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            parsed = None
        if isinstance(parsed, dict) and "accuracy" in parsed and "confusion" in parsed:
            (folder / "metrics.json").write_text(json.dumps(parsed, ensure_ascii=False), encoding="utf-8")
        else:
            st.warning(tr("k7.bad_metrics"), icon="📄")
    try:
        korean7_use(folder / "best.pt")
    except EduError as exc:
        show_error(exc)
        return
    st.success(tr("k7.loaded", name=pts[0].name), icon="📦")


@st.cache_resource(show_spinner=False)
def _korean7_demo_lock() -> threading.Lock:
    # One demo build per server: two at once would fight over the CPU and the same folders.
    return threading.Lock()


def _run_heavy(
    run: Callable[[Callable[[str, float], None]], Any],
    stages: dict[str, tuple[float, float]],
    texts: tuple[str, str, str],
) -> None:
    """One heavy seven-class job (the demo or real photos) with a progress bar; its model becomes current.

    ``run(on_stage)`` does the work and reports ``(stage, fraction)``; ``stages`` maps each stage to
    its share of the bar; ``texts`` are the progress key, the done key and the done icon.
    """
    lock = _korean7_demo_lock()  # one heavy job per server, the demo's or the real photos'
    if not lock.acquire(blocking=False):
        st.info(tr("k7.demo_busy"), icon="⏳")
        return
    progress_key, done_key, icon = texts

    def work(report: Callable[[int, int], None]) -> Any:
        def on_stage(stage: str, frac: float) -> None:
            lo, hi = stages.get(stage, (0.0, 1.0))
            report(int(100 * (lo + (hi - lo) * min(max(frac, 0.0), 1.0))), 100)

        return run(on_stage)

    start = time.monotonic()
    try:
        result = run_with_progress(work, text_key=progress_key, total=100)
        korean7_use(result.checkpoint)
    except EduError as exc:
        show_error(exc)
        return
    finally:
        lock.release()
    st.success(tr(done_key, seconds=round(time.monotonic() - start)), icon=icon)


def korean7_build_demo(settings: dict[str, Any]) -> None:
    """Teacher: run ``korean7.build_demo_pipeline`` with a progress bar, then use its model.

    ``settings`` are build_demo_pipeline keyword arguments; each combination gets its own
    folder, so pressing the button again with the same settings resumes or reuses that run.
    """

    name = "-".join(f"{k}{settings[k]}" for k in sorted(settings))
    workdir = korean7_dir() / "demo" / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    _run_heavy(
        lambda on_stage: korean7.build_demo_pipeline(workdir, progress=on_stage, **settings),
        K7_DEMO_STAGES,
        ("k7.demo_progress", "k7.demo_done", "🧪"),
    )


#: Share of the real-data progress bar each stage of korean7.train_on_folder fills.
K7_REAL_STAGES: dict[str, tuple[float, float]] = {"prepare": (0.0, 0.3), "train": (0.3, 1.0)}


def korean7_import_folder(text: str) -> Any:
    """Teacher: read a data-set folder on the server and say what is in it (None if unusable)."""

    path = Path(text).expanduser()
    if not path.is_dir():
        st.error(tr("k7.real_missing"), icon="⚠️")
        return None
    try:
        res = korean7.import_dataset(path)
    except EduError as exc:
        show_error(exc)
        return None
    rep = res.report
    counts = rep.per_uploader
    if not res.records:
        st.warning(tr("k7.real_empty"), icon="📂")
        return None
    st.success(
        tr(
            f"k7.real_found_{'aihub' if rep.layout == 'aihub' else 'faces'}",
            n=rep.matched,
            persons=rep.persons,
            classes=", ".join(f"{_k7_name(c)} {n}" for c, n in counts.items()),
        ),
        icon="📂",
    )
    if rep.absent_classes:
        st.info(tr("k7.real_absent", classes=", ".join(_k7_name(c) for c in rep.absent_classes)), icon="ℹ️")
    if rep.without_person:
        st.warning(tr("k7.real_no_person", n=rep.without_person), icon="👤")
    if rep.unlabelled_images or rep.missing_images:
        st.caption(tr("k7.real_skipped", n=len(rep.unlabelled_images) + len(rep.missing_images)))
    return res


def korean7_train_real(root: str, settings: dict[str, Any]) -> None:
    """Teacher: prepare the crop cache and train on a real folder, with a progress bar; then use it.

    ``settings``: arch, mode ("head"/"full"), image_size, epochs, leak (bool). Each folder and
    setting combination gets its own work folder, so pressing again resumes the crop cache.
    """

    key = json.dumps({"root": str(Path(root).expanduser().resolve()), **settings}, sort_keys=True)
    workdir = korean7_dir() / "real" / hashlib.sha256(key.encode()).hexdigest()[:16]
    head = settings["mode"] == "head"
    cfg = korean7.Korean7TrainConfig(
        arch=settings["arch"],
        mode=settings["mode"],
        epochs=int(settings["epochs"]),
        patience=int(settings["epochs"]),
        image_size=int(settings["image_size"]),
        lr=korean7.DEMO_HEAD_LR if head else 1e-3,
        weight_decay=korean7.DEMO_HEAD_WEIGHT_DECAY if head else 1e-4,
        batch_size=32,
        workers=0,
    )
    prep = korean7.PrepareConfig(per_class=None, size=int(settings["image_size"]), workers=2)

    _run_heavy(
        lambda on_stage: korean7.train_on_folder(
            root, workdir, prep, cfg, leak=bool(settings["leak"]), progress=on_stage
        ),
        K7_REAL_STAGES,
        ("k7.real_progress", "k7.real_done", "🇰🇷"),
    )


def korean7_real_tab() -> None:
    """Teacher: the real-data tab: a folder on the server, what is in it, then prepare and train."""

    st.caption(tr("k7.real_help"))
    path = st.text_input(tr("k7.real_path"), help=tr("k7.real_path_help"), key="k7_real_path").strip()
    if st.button(tr("k7.real_check"), key="k7_real_check", disabled=not path):
        st.session_state["k7_real_checked"] = path if korean7_import_folder(path) is not None else None
    if not path or st.session_state.get("k7_real_checked") != path:
        return
    left, right = st.columns(2)
    have = models.available_archs()
    arch = left.radio(
        tr("k7.demo_arch"), ["efficientnet_lite0", "resnet18"], horizontal=True, key="k7_real_arch"
    )
    can_freeze = arch in have
    mode = right.radio(
        tr("k7.real_mode"),
        ["head", "full"] if can_freeze else ["full"],
        format_func=lambda m: tr(f"k7.real_mode.{m}"),
        key="k7_real_mode",
    )
    if not can_freeze:
        st.caption(tr("k7.real_scratch", arch=arch))
    size = left.select_slider(
        tr("k7.demo_image_size"), [64, 96, 112, 128, 160, 224], value=112, key="k7_real_size"
    )
    epochs = right.number_input(
        tr("k7.demo_epochs"), 1, 500, 300 if mode == "head" else 4, key=f"k7_real_epochs_{mode}"
    )
    leak = st.checkbox(tr("k7.real_leak"), value=True, help=tr("k7.real_leak_help"), key="k7_real_leak")
    if st.button(tr("k7.real_train"), type="primary", icon="🇰🇷", key="k7_real_train", width="stretch"):
        settings = {"arch": arch, "mode": mode, "image_size": size, "epochs": epochs, "leak": leak}
        korean7_train_real(path, settings)


def korean7_absent_note(model: Any) -> None:
    """Why a model trained without some class shows fewer bars (the public crops lack 중립)."""
    absent = getattr(model, "absent_classes", ())
    if absent:
        st.caption(
            tr(
                "k7.absent_bars",
                n=len(model.classes),
                classes=", ".join(_k7_name(c) for c in absent),
            )
        )


def korean7_leak(leak: dict[str, Any]) -> None:
    """The identity-leak lesson: the same model on people it has seen and on new people."""
    st.subheader(tr("k7.leak_title"))
    seen, new = leak["seen_people"], leak["new_people"]
    left, right = st.columns(2)
    left.metric(
        tr("k7.leak_seen"),
        f"{seen['accuracy']:.1%}" if seen.get("accuracy") is not None else "–",
        help=tr("k7.leak_seen_help", n=seen.get("n", 0), people=leak["checks"]["seen_people"]),
    )
    right.metric(
        tr("k7.leak_new"),
        f"{new['accuracy']:.1%}" if new.get("accuracy") is not None else "–",
        delta=tr("k7.leak_delta", d=-100 * leak["gap"]),
        delta_color="off",
        help=tr("k7.leak_new_help", n=new.get("n", 0), people=leak["checks"]["new_people"]),
    )
    key = "k7.leak_big" if leak["gap"] >= 0.05 else "k7.leak_small"
    st.markdown(tr(key, gap=100 * leak["gap"]))
    st.caption(tr("k7.leak_note"))


def korean7_intro_model() -> None:
    """What the loaded seven-class model really learned from (nothing, the synthetic demo, real photos)."""
    try:
        model = korean7_model()
    except EduError:
        return  # the page explains an unreadable model below
    if model is None:
        st.caption(tr("k7.intro_none"))
    elif model.synthetic:
        st.caption(tr("k7.intro_synthetic"))
    else:
        st.caption(tr("k7.intro_real"))


def korean7_synthetic_label() -> None:
    """The badge and sentence that go next to every number from the synthetic demo set."""
    st.badge(tr("k7.synthetic_badge"), icon="🧪", color="orange")
    st.caption(tr("k7.synthetic_note"))


def _k7_paper_rows(model: Any, info: dict[str, Any]) -> list[dict[str, str]]:

    ours: dict[str, float] = {}
    if info.get("accuracy") is not None:
        ours["resize" if info.get("cache_mode") == "resize" else "face_crop"] = float(info["accuracy"])
    # `korean7 compare` trains model_face_crop/ and model_resize/ side by side: show both.
    folder = Path(model.path).parent
    if folder.name in ("model_face_crop", "model_resize"):
        for mode in ("face_crop", "resize"):
            sibling = folder.with_name(f"model_{mode}") / "metrics.json"
            if mode not in ours and sibling.is_file():
                acc = json.loads(sibling.read_text(encoding="utf-8")).get("accuracy")
                if acc is not None:
                    ours[mode] = float(acc)
    rows = []
    for prep in (*korean7.PAPER_RESULTS, "face_crop"):
        row = {tr("k7.col.preprocessing"): tr(f"k7.prep.{prep}")}
        for net in ("VGG19", "ResNet18", "K-EmotionNet"):
            value = korean7.PAPER_RESULTS.get(prep, {}).get(net)
            row[net] = f"{value:.1f} %" if value is not None else "–"
        row[tr("k7.col.ours")] = f"{100 * ours[prep]:.1f} %" if prep in ours else "–"
        rows.append(row)
    return rows


def korean7_report(model: Any) -> None:
    """Accuracy, per-class accuracy, the confusion matrix and the paper's table for one checkpoint."""

    info = korean7.model_report(model)
    classes = list(info.get("classes") or model.classes)
    names = _k7_names()
    if info.get("synthetic"):
        korean7_synthetic_label()
    st.caption(
        tr(
            "k7.model_caption",
            arch=info.get("arch", model.arch),
            mode=tr(f"k7.mode.{'resize' if info.get('cache_mode') == 'resize' else 'crop'}"),
            split=tr(f"k7.split.{'val' if info.get('split') == 'val' else 'test'}"),
            n=info.get("n", 0),
        )
    )
    acc = info.get("accuracy")
    chance_help = (
        tr("k7.chance") if len(classes) == 7 else tr("k7.chance_n", n=len(classes), p=1 / len(classes))
    )
    st.metric(tr("k7.accuracy"), f"{acc:.1%}" if acc is not None else "–", help=chance_help)
    if acc is not None:
        chance = 1 / len(classes)
        key = "k7.vs_chance_above" if acc > chance else "k7.vs_chance_below"
        st.caption(tr(key, acc=acc, chance=chance, times=acc / chance))
    recall = {c: float(v) for c, v in (info.get("per_class_accuracy") or {}).items() if v is not None}
    if recall:
        st.subheader(tr("k7.per_class"))
        support = {c: int((info.get("support") or {}).get(c, 0)) for c in recall}
        low, high = wilson_bounds(recall, support)
        fig = charts.recall_bars(recall, low=low, high=high, classes=list(recall), lang=lang(), renamed=names)
        _k7_chart(fig, "k7_recall")
    if info.get("confusion"):
        st.subheader(tr("k7.confusion"))
        # the bars above list the classes in charts.ordered_classes order: the table follows it
        order = charts.ordered_classes(classes)
        perm = [classes.index(c) for c in order]
        matrix = np.asarray(info["confusion"])[np.ix_(perm, perm)]
        classes = order
        fig = charts.confusion_heatmap(matrix, classes=classes, lang=lang(), renamed=names)
        _k7_chart(fig, "k7_cm")
        off = matrix * (1 - np.eye(len(classes), dtype=matrix.dtype))
        if off.max() > 0:
            i, j = np.unravel_index(int(off.argmax()), off.shape)
            pair = {"true": _k7_name(classes[i]), "pred": _k7_name(classes[j])}
            st.markdown(tr("k7.most_confused", n=int(off[i, j]), **pair))
        st.info(tr("k7.paper_confusion"), icon="📄")
    if info.get("absent_classes"):
        names7 = ", ".join(_k7_name(c) for c in info["absent_classes"])
        st.info(tr("k7.absent_report", classes=names7, n=len(classes)), icon="ℹ️")
    if info.get("leak"):
        korean7_leak(info["leak"])
    st.subheader(tr("k7.paper_title"))
    st.dataframe(_k7_paper_rows(model, info), hide_index=True, width="stretch")
    st.caption(tr("k7.paper_caption"))


def korean7_show_prediction(model: Any, data: bytes) -> None:
    """A probability bar per class the model knows, for one photo (or why the photo cannot be used)."""

    with landmarker_pool().acquire() as lm:
        pred = korean7.predict_korean7(model, data, landmarker=lm)
    if pred.status != "ok":
        st.warning(tr("k7.rejected", message=i18n.reason_message(pred.reason or "no_face", lang())), icon="⚠️")
        return
    p = pred.probabilities[pred.label]
    if p < predict.DEFAULT_THRESHOLD:  # the five-class answer's rule: below it, say so instead of guessing
        st.warning(tr("eval.cannot_tell", p=p), icon="🤔")
    else:
        st.success(tr("k7.verdict", name=_k7_name(pred.label), p=p), icon="🎯")
    fig = charts.probability_bars(
        pred.probabilities, classes=list(pred.probabilities), lang=lang(), renamed=_k7_names(),
        title=tr("eval.probabilities"),
    )  # fmt: skip
    _k7_chart(fig, "k7_bars")
    korean7_absent_note(model)
    if model.synthetic:
        korean7_synthetic_label()
    if pred.crop is not None:
        st.image(pred.crop, caption=tr("k7.crop_caption"), width=160)


def five_class_try(data: bytes) -> None:
    """The viewer's newest five-expression model (student's own, or the class's for a teacher) on a photo."""
    viewer = teacher_session() or student_id()
    if viewer is None:
        records = []
    else:  # a teacher compares with the class's own model, not a student's
        records = store().list_models(viewer) if isinstance(viewer, int) else class_models(viewer)
    if not records:
        st.info(tr("k7.five_none"), icon="🏋️")
        return
    try:
        model = bundle(viewer, records[-1].id)
    except EduError as exc:
        show_error(exc)
        return
    show_prediction(predict_upload(model, data))
