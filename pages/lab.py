"""실험실: the lesson's data experiments side by side, repeated over seeds, stored and exportable."""

from typing import Any

import numpy as np
import streamlit as st

from edu_core import charts, i18n, ui
from edu_core import experiments as ex
from edu_core.dataset import SAMPLE_DIR
from edu_core.errors import EduError

lang = ui.lang()
renamed = ui.renamed()


def cname(class_id: str) -> str:
    # language read once per run: format functions are also called outside the script run
    return i18n.class_name(class_id, lang, renamed=renamed)


def tx(key: str, **fmt: object) -> str:
    return ex.text(key, lang, **fmt)


@st.cache_resource(show_spinner=False)
def sample_data() -> ex.LabData:
    """The committed sample faces, shared by every session (they are nobody's photos)."""
    return ex.load_folder(SAMPLE_DIR)


@st.cache_resource(show_spinner=False)
def embed_seconds() -> float:
    """How fast this machine runs the CNN (a property of the server, so shared)."""
    return ex.measure_embed_seconds()


def my_data(sid: int) -> ex.LabData:
    """The student's own labelled faces, reloaded only when their photos or labels change."""
    records = ui.store().list_images(sid, labelled=True)
    stamp = hash(tuple((r.id, r.label, r.status, r.person, r.group) for r in records))
    if st.session_state.get("lab_mine_stamp") != stamp:
        st.session_state["lab_mine_data"] = ex.load_store(ui.store(), sid)
        st.session_state["lab_mine_stamp"] = stamp
    return st.session_state["lab_mine_data"]


def options(kind: str, classes: list[str], data_groups: list[str]) -> dict:
    """The few settings a student may change for each experiment."""
    cols = st.columns(3)
    if kind == "size":
        pair = cols[0].toggle(tx("lab.pair_only"), key="lab_pair")
        small = cols[1].number_input(tx("lab.small"), 2, 60, 20, key="lab_small")
        large = cols[2].number_input(tx("lab.large"), 2, 60, 60, key="lab_large")
        return {"sizes": (int(small), int(large)), "classes": ("joy", "anger") if pair else ()}
    if kind == "imbalance":
        many = cols[0].number_input(tx("lab.count_of", name=cname("joy")), 2, 60, 40, key="lab_many")
        few = cols[1].number_input(tx("lab.count_of", name=cname("sadness")), 1, 60, 20, key="lab_few")
        every = cols[2].toggle(tx("lab.all_classes"), value=True, key="lab_all")
        others = [(c, int(many)) for c in classes if c not in ("joy", "sadness")] if every else []
        return {"counts": (("joy", int(many)), ("sadness", int(few)), *others)}
    if kind == "mislabel":
        src = cols[0].selectbox(
            tx("lab.mislabel_class"),
            classes,
            index=classes.index("anger") if "anger" in classes else 0,
            format_func=cname,
            key="lab_src",
        )
        return {"mislabel_class": src}
    if kind == "groups":
        groups = data_groups or ["adult", "child"]
        base = cols[0].selectbox(
            tx("lab.train_group"),
            groups,
            index=groups.index("adult") if "adult" in groups else 0,
            format_func=ex.group_label(lang),
            key="lab_group",
        )
        rest = [g for g in groups if g != base] or groups
        added = cols[1].selectbox(
            tx("lab.add_group"),
            rest,
            index=rest.index("child") if "child" in rest else 0,
            format_func=ex.group_label(lang),
            key="lab_add_group",
        )
        return {"train_groups": (base,), "add_groups": (added,)}
    return {}


def probe_picker(cfg: ex.ExperimentConfig, data: ex.LabData) -> ex.Example:
    """The photo every model is asked about: a test photo, or the student's own (upload or camera)."""
    tests = sorted(data.test, key=lambda e: e.id)
    probe = st.selectbox(
        tx("lab.probe"),
        tests,
        index=tests.index(ex.default_probe(cfg, data)),
        format_func=lambda e: f"{cname(e.label)} · {e.id.split('/')[-1]}",
        key=f"lab_probe_{cfg.experiment}",
    )
    up_col, cam_col = st.columns(2)
    own = up_col.file_uploader(
        tx("lab.probe_upload"), type=["jpg", "jpeg", "png", "webp", "heic"], key="lab_upload"
    )
    if cam_col.toggle(tx("lab.probe_camera"), key="lab_cam_on"):  # the camera starts only when asked
        own = cam_col.camera_input(tx("lab.probe_camera"), key="lab_camera") or own
    if own is not None:
        probe = ex.Example(f"upload:{own.name}", "", face=own_face(own))
    st.image(probe.face.crop, width=160)
    return probe


def own_face(photo: Any) -> Any:
    """The face in the student's own probe photo, found once per photo."""
    from edu_core.faces import extract

    if st.session_state.get("lab_own_id") != photo.file_id:
        with ui.landmarker_pool().acquire() as lm:
            face = extract(photo.getvalue(), landmarker=lm)
        if not face.ok:
            raise EduError(face.reason or "no_face")
        st.session_state["lab_own_id"], st.session_state["lab_own_face"] = photo.file_id, face
    return st.session_state["lab_own_face"]


def pick_past() -> None:
    if st.session_state.get("lab_past") is not None:
        st.session_state["lab_result"] = st.session_state["lab_past"][1]


def variant_panel(v: ex.VariantResult, png: dict) -> None:
    """One variant: its name, the probe photo's probabilities and the confusion matrix."""
    st.markdown(f"#### {ex.variant_label(v.variant, lang)}")
    st.caption(tx("lab.n_train", n=round(v.n_train())))
    if v.detective():
        found = v.detective()
        st.caption(tx("lab.detective", found=round(found["found"], 1), planted=round(found["planted"], 1)))
    if v.probe() is not None:
        probs = {c: m["mean"] for c, m in v.probe().items()}
        st.caption(tx("lab.probe_chart"))
        bars = charts.probability_bars(probs, lang=lang, classes=v.variant.classes, renamed=renamed)
        st.plotly_chart(bars, config=png, key=f"lab_probe_{v.variant.key}")
    st.caption(tx("lab.confusion"))
    matrix = charts.confusion_heatmap(
        np.rint(v.confusion()), classes=v.variant.classes, lang=lang, renamed=renamed
    )
    st.plotly_chart(matrix, config=png, key=f"lab_cm_{v.variant.key}")


def show(result: ex.ExperimentResult) -> None:
    """Accuracy and recall with error bars, then each variant's probe bars and confusion matrix."""
    s = result.summary()
    st.subheader(
        tx(
            "lab.summary",
            experiment=tx(f"lab.exp.{s['experiment']}"),
            model=s["model"],
            repeats=s["repeats"],
            n_test=s["n_test"],
            seconds=round(s["seconds"], 1),
        )
    )
    png = {"toImageButtonOptions": {"format": "png", "scale": 2, "filename": f"lab_{s['experiment']}"}}
    st.plotly_chart(ex.accuracy_figure(result, lang), config=png, key="lab_acc")
    st.plotly_chart(ex.recall_figure(result, lang), config=png, key="lab_rec")
    if result.config.experiment == "groups":
        st.plotly_chart(ex.groups_figure(result, lang), config=png, key="lab_groups")
    per_row = min(3, len(result.variants))  # wider panels than that stop being readable on a projector
    for start in range(0, len(result.variants), per_row):
        for col, v in zip(st.columns(per_row), result.variants[start : start + per_row], strict=False):
            with col:
                variant_panel(v, png)
    d1, d2 = st.columns(2)
    d1.download_button(
        tx("lab.download_csv"),
        ex.result_csv(result),
        f"lab_{s['experiment']}.csv",
        "text/csv",
        icon="📄",
        key="lab_csv",
    )
    d2.download_button(
        tx("lab.download_png"),
        lambda: ex.result_png(result, lang),
        f"lab_{s['experiment']}.png",
        "image/png",
        icon="🖼️",
        key="lab_png",
    )


st.title(tx("lab.title"))
sid = ui.student_id()
projector = st.toggle(tx("lab.projector"), key="lab_projector")
try:
    if not projector:
        ui.lesson("4_model")
        st.write(tx("lab.intro"))
        mine = sid is not None and st.toggle(
            tx("lab.data_mine"), key="lab_mine", help=tx("lab.data_mine_help")
        )
        data = my_data(sid) if mine else sample_data()
        kind = (
            st.segmented_control(
                tx("lab.experiment"),
                ex.EXPERIMENTS,
                default="size",
                key="lab_exp",
                format_func=lambda k: tx(f"lab.exp.{k}"),
            )
            or "size"
        )
        st.info(tx(f"lab.about.{kind}"), icon="🧪")
        c1, c2 = st.columns(2)
        model = c1.radio(
            tx("lab.model"),
            ex.MODEL_CHOICES,
            horizontal=True,
            key="lab_model",
            format_func=lambda m: tx(f"lab.model.{m}"),
        )
        repeats = c2.slider(tx("lab.repeats"), 5, 10, 5, key="lab_repeats")
        cfg = ex.ExperimentConfig(kind, model, repeats, **options(kind, data.classes(), data.groups()))
        probe = probe_picker(cfg, data)
        embed_s = embed_seconds() if model == "cnn" else None
        seconds = max(1, round(ex.estimate_seconds(cfg, data, embed_s=embed_s)))
        st.caption(tx("lab.estimate", seconds=seconds, runs=ex.n_trainings(cfg, data)))
        if st.button(tx("lab.run"), type="primary", icon="🧪", key="lab_run"):
            key = "lab.progress" if i18n.has_key("lab.progress") else "common.working"
            result = ui.run_with_progress(
                lambda p: ex.run_experiment(cfg, data, probe=probe, progress=p), text_key=key
            )
            st.session_state["lab_result"] = result
            if sid is not None:
                ex.save_result(ui.store(), sid, result)
                st.toast(tx("lab.saved"))
        past = ex.list_results(ui.store(), sid) if sid is not None else []
        if past:
            st.selectbox(
                tx("lab.past"),
                [None, *past],
                key="lab_past",
                on_change=pick_past,
                format_func=lambda p: (
                    tx("lab.past_none")
                    if p is None
                    else f"#{p[0]} · {tx(f'lab.exp.{p[1].config.experiment}')} · {p[1].config.model}"
                ),
            )
except EduError as exc:
    st.error(ex.reason_text(exc.code, lang), icon="⚠️")
if st.session_state.get("lab_result") is not None:
    show(st.session_state["lab_result"])
