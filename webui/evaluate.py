"""Evaluate page widgets: trying the model, per-class figures, the confusion explorer, the detective."""

from __future__ import annotations

from typing import Any

import streamlit as st

from edu_core import charts, explain, i18n, jobs, models
from edu_core.detective import mislabel_suspects
from edu_core.metrics import wilson_bounds
from edu_core.predict import CANNOT_TELL, predict_bytes
from edu_core.train import TrainingDataError
from webui.common import class_name, lang, renamed, tr
from webui.figures import figure
from webui.photos import THUMB_SIDE, crop_thumb, face_gallery
from webui.resources import landmarker_pool, store


def bundle(viewer: Any, model_id: int) -> Any:
    """A trained model, loaded once per session (never shared: it belongs to one student)."""
    cache = st.session_state.setdefault("_bundles", {})
    if model_id not in cache:
        cache.clear()  # keep one model in memory per session
        cache[model_id] = models.load_bundle(store().model_bytes(viewer, model_id))
    return cache[model_id]


def run_metrics(viewer: Any, model_id: int) -> dict[str, Any]:
    """The test figures stored when the model was trained (empty if none)."""
    return jobs.run_metrics(store(), viewer, model_id)


def recall_chart(metrics: dict[str, Any], classes: list[str]) -> None:
    """Per-class share correct with a 95 % interval (few test photos → wide bars)."""
    per = metrics.get("per_class", {})
    recall = {c: per.get(c, {}).get("recall", 0.0) for c in classes}
    support = {c: per.get(c, {}).get("support", 0) for c in classes}
    low, high = wilson_bounds(recall, support)
    fig = figure(
        charts.recall_bars, recall, low=low, high=high, classes=classes, lang=lang(), renamed=renamed()
    )
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None, key="recall_chart")
    st.caption(tr("eval.interval_note"))


def _cell_from_chart() -> None:
    """A click on the confusion table (a widget callback): that cell becomes the chosen one."""
    event = st.session_state.get("confusion_chart") or {}
    points = (event.get("selection") or {}).get("points") or []
    cell = points[0].get("customdata") if points else None
    if isinstance(cell, list | tuple) and len(cell) == 2:
        st.session_state["confusion_cell"] = (int(cell[0]), int(cell[1]))
        st.session_state["confusion_pick"] = None  # the latest choice wins, chart or list


def _cell_from_pills() -> None:
    st.session_state["confusion_cell"] = st.session_state.get("confusion_pick")


def confusion_explorer(viewer: Any, metrics: dict[str, Any], classes: list[str]) -> None:
    """The confusion table; picking a cell (on the chart or in the list) shows its photos."""
    matrix, cells = metrics.get("confusion"), metrics.get("confusion_ids")
    if not matrix or not cells:
        return
    fig = charts.confusion_heatmap(matrix, classes=classes, lang=lang(), renamed=renamed())
    charts.add_cell_targets(fig, classes, lang=lang(), renamed=renamed())
    st.plotly_chart(
        fig, width="stretch", config={"displayModeBar": False}, theme=None,
        on_select=_cell_from_chart, selection_mode="points", key="confusion_chart",
    )  # fmt: skip
    options = [(i, j) for i in range(len(classes)) for j in range(len(classes)) if i != j and cells[i][j]]
    if not options:
        st.success(tr("eval.no_confusion"), icon="🎉")
    if st.session_state.get("confusion_pick") not in (None, *options):
        st.session_state["confusion_pick"] = None  # a newer model without that confusion
    st.pills(
        tr("eval.cells"),
        options,
        format_func=lambda ij: tr(
            "eval.cell_option",
            true=class_name(classes[ij[0]]),
            pred=class_name(classes[ij[1]]),
            n=len(cells[ij[0]][ij[1]]),
        ),
        key="confusion_pick",
        on_change=_cell_from_pills,
    )
    chosen = st.session_state.get("confusion_cell")
    if chosen and all(0 <= k < len(classes) for k in chosen):
        i, j = chosen
        ids = set(cells[i][j])
        title = tr("eval.cell_photos", true=class_name(classes[i]), pred=class_name(classes[j]), n=len(ids))
        st.markdown(f"**{title}**")
        face_gallery(
            viewer, [r for r in store().list_images(viewer) if r.id in ids], show_box=False, key="cell"
        )


def results_gallery(viewer: Any, metrics: dict[str, Any], classes: list[str]) -> None:
    """Every test photo marked right (✅) or wrong (❌ with the model's answer)."""
    cells = metrics.get("confusion_ids") or []
    verdict = {pid: (i, j) for i, row in enumerate(cells) for j, ids in enumerate(row) for pid in ids}
    records = [r for r in store().list_images(viewer) if r.id in verdict]
    images, captions = [], []
    for r in sorted(records, key=lambda r: verdict[r.id][0] == verdict[r.id][1]):
        i, j = verdict[r.id]
        images.append(crop_thumb(viewer, r.id, r.crop_sha))
        captions.append(
            f"✅ {class_name(classes[i])}"
            if i == j
            else f"❌ {class_name(classes[i])} → {class_name(classes[j])}"
        )
    if images:
        st.image(images, caption=captions, width=THUMB_SIDE)


def predict_upload(model: Any, data: bytes) -> Any:
    """Find the face in a new photo and ask the model (one landmarker from the shared pool)."""
    with landmarker_pool().acquire() as lm:
        return predict_bytes(model, data, landmarker=lm)


def show_prediction(pred: Any) -> None:
    """The verdict sentence and a probability bar per class (or why the photo cannot be used)."""
    if pred.status != "ok":
        st.warning(
            tr("eval.rejected", message=i18n.reason_message(pred.reason or "no_face", lang())), icon="⚠️"
        )
        return
    if pred.decision == CANNOT_TELL:
        st.warning(tr("eval.cannot_tell", p=pred.top_probability), icon="🤔")
    else:
        st.success(tr("eval.verdict", name=class_name(pred.top), p=pred.top_probability), icon="🎯")
    fig = charts.probability_bars(
        pred.probabilities,
        classes=list(pred.probabilities),
        lang=lang(),
        renamed=renamed(),
        title=tr("eval.probabilities"),
    )
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None, key="try_bars")
    if pred.face is not None and pred.face.crop is not None and pred.face.landmarks is not None:
        st.image(charts.draw_pieces(pred.face.crop, pred.face.landmarks, scale=1), width=256)


def _suspects(viewer: Any, model: Any, model_id: int, ids: list[int], faces: list, labels: list[str]) -> list:
    """The detective's ranking, kept for this model and these labels (one relabel recomputes it)."""
    key = (model_id, tuple(ids), tuple(labels))
    cache = st.session_state.setdefault("_detective", {})
    if key not in cache:
        cache.clear()
        with st.spinner(tr("eval.detective_running")):
            # The data-pieces model judges whichever model the student trained: on real faces of
            # new people (20 per class, three big smiles filed under sadness) its held-out guesses
            # put 4 of 9 in the top five against the CNN head's 2 of 9, in a fraction of the time.
            cache[key] = mislabel_suspects(
                "pieces",
                faces,
                labels,
                ids,
                class_names=list(model.class_names),
                model_config={"seed": model.config.get("seed", 0)},
                top=6,
            )
    return cache[key]


def detective(viewer: Any, model: Any, split_id: int, classes: list[str], model_id: int = 0) -> None:
    """Training photos whose label a model that never saw them disagrees with: the first to check."""
    train_ids = store().get_split(viewer, split_id).train_ids
    ids, faces, labels = jobs.split_faces(store(), viewer, train_ids, crops=False)
    if not faces:
        return
    st.caption(tr("eval.detective_help"))
    # Only on request: the page's tabs all run on every visit, and the k-fold models (a CNN's
    # embeddings after a restart) would slow down trying the model for everyone.
    if st.session_state.get("_detective_for") != model_id:
        if not st.button(tr("eval.detective_start"), key="detective_start", icon="🔍"):
            return
        st.session_state["_detective_for"] = model_id
    try:
        ranked = _suspects(viewer, model, model_id, ids, faces, labels)
    except (TrainingDataError, ValueError):  # too few photos of a class to leave some out
        st.caption(tr("eval.detective_few"))
        return
    suspects = [s for s in ranked if s["guess"] != s["label"]]
    if not suspects:
        st.caption(tr("eval.detective_none"))
    records = {r.id: r for r in store().list_images(viewer)}
    for s in suspects:
        pic, text, fix = st.columns([1, 4, 2], vertical_alignment="center")
        rec = records[s["id"]]
        pic.image(crop_thumb(viewer, rec.id, rec.crop_sha), width=100)
        text.markdown(
            tr(
                "eval.detective_row",
                label=class_name(s["label"]),
                pred=class_name(s["guess"]),
                p=s["guess_probability"],
            )
        )
        if isinstance(viewer, int) and fix.button(
            tr("eval.relabel", name=class_name(s["guess"])), key=f"fix_{s['id']}"
        ):
            store().set_label(viewer, s["id"], s["guess"])
            st.toast(tr("common.saved"))


def show_why(model: Any, pred: Any) -> None:
    """Which face parts drove the answer: data pieces (pieces model) or hidden regions (CNN)."""
    if pred.status != "ok" or pred.top is None:
        return
    top = pred.top
    names = {p: tr(f"piece.{p}") for p in (*explain.PIECES, *explain.REGIONS)}
    st.markdown(f"#### {tr('eval.why')}")
    if model.model.uses_pieces:
        effects = {p: v[top] for p, v in explain.piece_contributions(model, pred.face).effects.items()}
    else:
        result = explain.region_test(model, pred.face)
        effects = {r: v[top] for r, v in result.effects.items()}
        st.caption(tr("eval.why_regions", name=class_name(top)))
        st.image(list(result.masked.values()), caption=[names[r] for r in result.masked], width=160)
    strongest = max(effects, key=effects.__getitem__)
    st.info(tr("eval.why_top", name=class_name(top), piece=names[strongest]), icon="🔎")
    fig = charts.effect_bars(effects, names=names, axis_title=tr("eval.why_effect", name=class_name(top)))
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None, key="why_bars")
