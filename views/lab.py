"""실험실: the lesson's data experiments side by side, repeated over seeds, stored and exportable."""

import streamlit as st

from edu_core import experiments as ex
from edu_core import i18n
from edu_core.errors import EduError
from webui.common import lang, run_with_progress
from webui.lab import (
    lab_embed_seconds,
    lab_fairness,
    lab_my_data,
    lab_options,
    lab_pair_choice,
    lab_pick_past,
    lab_probe_picker,
    lab_sample_data,
    lab_show,
    lab_size_check,
)
from webui.resources import store
from webui.session import lesson, student_id

lg = lang()


def tx(key: str, **fmt: object) -> str:
    # the language is read once per run: widgets also call format functions outside the run
    return i18n.t(key, lg, **fmt)


st.title(tx("lab.title"))
sid = student_id()
projector = st.toggle(tx("lab.projector"), key="lab_projector")
# The results get one slot at a fixed place that is made, and so emptied, before a new run starts:
# without it the last run's charts stayed on screen, greyed out, while the next one ran.
controls, results = st.container(), st.empty()
with controls:
    try:
        if not projector:
            lesson("4_model")
            st.write(tx("lab.intro"))
            mine = sid is not None and st.toggle(
                tx("lab.data_mine"), key="lab_mine", help=tx("lab.data_mine_help")
            )
            data = lab_my_data(sid) if mine else lab_sample_data()
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
            options = lab_options(kind, data.classes(), data.groups())
            if kind == "pairs":
                options |= lab_pair_choice(data)  # the hardest pair of these photos, named
            cfg = ex.ExperimentConfig(kind, model, repeats, **options)
            probe = lab_probe_picker(cfg, data)
            embed_s = lab_embed_seconds() if model == "cnn" else None
            seconds = max(1, round(ex.estimate_seconds(cfg, data, embed_s=embed_s)))
            st.caption(tx("lab.estimate", seconds=seconds, runs=ex.n_trainings(cfg, data)))
            enough = lab_size_check(cfg, data)
            if st.button(tx("lab.run"), type="primary", icon="🧪", key="lab_run", disabled=not enough):
                key = "lab.progress" if i18n.has_key("lab.progress") else "common.working"
                result = run_with_progress(
                    lambda p: ex.run_experiment(cfg, data, probe=probe, progress=p), text_key=key
                )
                st.session_state["lab_result"] = result
                chosen = probe if isinstance(probe, ex.Example) else None
                chosen = chosen or next((e for e in data.test if e.id == result.probe_id), None)
                st.session_state["lab_probe_crop"] = chosen.face.crop if chosen is not None else None
                st.session_state["lab_ran"] = result  # the crop belongs to this run, not a past one
                if sid is not None:
                    ex.save_result(store(), sid, result)
                    st.toast(tx("lab.saved"))
            past = ex.list_results(store(), sid) if sid is not None else []
            if past:
                st.selectbox(
                    tx("lab.past"),
                    past,
                    index=None,
                    placeholder=tx("lab.past_pick", n=len(past)),
                    key="lab_past",
                    on_change=lab_pick_past,
                    format_func=lambda p: (
                        f"#{p[0]} · {tx(f'lab.exp.{p[1].config.experiment}')}"
                        f" · {tx(f'lab.model_name.{p[1].config.model}')}"
                    ),
                )
    except EduError as exc:
        st.error(ex.reason_text(exc.code, lg), icon="⚠️")
if st.session_state.get("lab_result") is not None:
    with results.container():
        shown = st.session_state["lab_result"]
        crop = st.session_state.get("lab_probe_crop") if shown is st.session_state.get("lab_ran") else None
        lab_show(shown, crop)
if sid is not None and not projector:
    lab_fairness(sid)  # the class's groups in the student's own photos: the bias lesson in numbers
