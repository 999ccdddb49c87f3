"""실험실: the lesson's data experiments side by side, repeated over seeds, stored and exportable."""

import streamlit as st

from edu_core import experiments as ex
from edu_core import i18n, ui
from edu_core.errors import EduError

lang = ui.lang()


def tx(key: str, **fmt: object) -> str:
    # the language is read once per run: widgets also call format functions outside the run
    return i18n.t(key, lang, **fmt)


st.title(tx("lab.title"))
sid = ui.student_id()
projector = st.toggle(tx("lab.projector"), key="lab_projector")
# The results get one slot at a fixed place that is made, and so emptied, before a new run starts:
# without it the last run's charts stayed on screen, greyed out, while the next one ran.
controls, results = st.container(), st.empty()
with controls:
    try:
        if not projector:
            ui.lesson("4_model")
            st.write(tx("lab.intro"))
            mine = sid is not None and st.toggle(
                tx("lab.data_mine"), key="lab_mine", help=tx("lab.data_mine_help")
            )
            data = ui.lab_my_data(sid) if mine else ui.lab_sample_data()
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
            options = ui.lab_options(kind, data.classes(), data.groups())
            if kind == "pairs":
                options |= ui.lab_pair_choice(data)  # the hardest pair of these photos, named
            cfg = ex.ExperimentConfig(kind, model, repeats, **options)
            probe = ui.lab_probe_picker(cfg, data)
            embed_s = ui.lab_embed_seconds() if model == "cnn" else None
            seconds = max(1, round(ex.estimate_seconds(cfg, data, embed_s=embed_s)))
            st.caption(tx("lab.estimate", seconds=seconds, runs=ex.n_trainings(cfg, data)))
            enough = ui.lab_size_check(cfg, data)
            if st.button(tx("lab.run"), type="primary", icon="🧪", key="lab_run", disabled=not enough):
                key = "lab.progress" if i18n.has_key("lab.progress") else "common.working"
                result = ui.run_with_progress(
                    lambda p: ex.run_experiment(cfg, data, probe=probe, progress=p), text_key=key
                )
                st.session_state["lab_result"] = result
                chosen = probe if isinstance(probe, ex.Example) else None
                chosen = chosen or next((e for e in data.test if e.id == result.probe_id), None)
                st.session_state["lab_probe_crop"] = chosen.face.crop if chosen is not None else None
                st.session_state["lab_ran"] = result  # the crop belongs to this run, not a past one
                if sid is not None:
                    ex.save_result(ui.store(), sid, result)
                    st.toast(tx("lab.saved"))
            past = ex.list_results(ui.store(), sid) if sid is not None else []
            if past:
                st.selectbox(
                    tx("lab.past"),
                    past,
                    index=None,
                    placeholder=tx("lab.past_pick", n=len(past)),
                    key="lab_past",
                    on_change=ui.lab_pick_past,
                    format_func=lambda p: (
                        f"#{p[0]} · {tx(f'lab.exp.{p[1].config.experiment}')}"
                        f" · {tx(f'lab.model_name.{p[1].config.model}')}"
                    ),
                )
    except EduError as exc:
        st.error(ex.reason_text(exc.code, lang), icon="⚠️")
if st.session_state.get("lab_result") is not None:
    with results.container():
        shown = st.session_state["lab_result"]
        crop = st.session_state.get("lab_probe_crop") if shown is st.session_state.get("lab_ran") else None
        ui.lab_show(shown, crop)
if sid is not None and not projector:
    ui.lab_fairness(sid)  # the class's groups in the student's own photos: the bias lesson in numbers
