"""시작: what the lesson is, the chapter map, joining a class, carrying on or starting alone."""

import streamlit as st

from edu_core import ui
from edu_core.errors import EduError

ui.page_header("home.title")
ui.lesson("1_basics", track=True)
st.markdown(f"### {ui.tr('app.tagline')}")
st.write(ui.tr("home.intro"))
db = ui.store()
sid = ui.student_id()
if st.session_state.pop("home_deleted", False):
    st.success(ui.tr("home.deleted"), icon="🗑️")

# The lesson map ticks a chapter off once the student's data shows it was done. Chapter 1 (the
# terms) is done once its lesson text above was opened, or work of chapter 2 exists (a reload
# forgets the first, never the second).
images = db.list_images(sid) if sid else []
done = [
    ui.lesson_read("1_basics") or bool(images),
    bool(images),
    any(r.label for r in images),
    bool(sid and db.list_models(sid)),
    bool(sid and any(r.status == "done" for r in ui.training_runs(sid))),
]
st.subheader(ui.tr("home.map"))
for i, finished in enumerate(done, start=1):
    mark = "✅" if finished else "⬜"
    state = ui.tr("home.step_done") if finished else ui.tr("home.step_todo")
    st.markdown(f"#### {mark} {ui.tr(f'home.chapter{i}')} · {state}")

if sid is None:
    if st.session_state.pop("resume_error", None) == "resume_wait":
        ui.show_error("resume_wait")
    join_col, resume_col, solo_col = st.columns(3, gap="large")
    with join_col, st.form("join"):
        st.subheader(ui.tr("home.join_title"))
        code = st.text_input(
            ui.tr("home.join_code"),
            value=st.query_params.get("join", ""),
            help=ui.tr("home.join_code_help"),
            max_chars=12,
        )
        nickname = st.text_input(ui.tr("home.nickname"), help=ui.tr("home.nickname_help"), max_chars=20)
        if st.form_submit_button(ui.tr("home.join_button"), type="primary", width="stretch"):
            if not code.strip() or not nickname.strip():
                st.warning(ui.tr("home.need_code") if not code.strip() else ui.tr("home.need_nickname"))
            else:
                try:
                    ui.remember_student(db.join(db.find_class(code).id, nickname))
                    st.rerun()
                except EduError as exc:
                    ui.show_error(exc)
    with resume_col, st.form("resume"):
        st.subheader(ui.tr("home.resume_title"))
        resume = st.text_input(ui.tr("home.resume_code"), max_chars=12)
        if st.form_submit_button(ui.tr("home.resume_button"), width="stretch"):
            try:
                ui.remember_student(ui.resume_student(resume))
                st.rerun()
            except EduError as exc:
                ui.show_error(exc)
    with solo_col, st.form("solo"):
        st.subheader(ui.tr("home.solo_title"))
        st.caption(ui.tr("home.solo_help"))
        solo_name = st.text_input(ui.tr("home.nickname"), help=ui.tr("home.nickname_help"), max_chars=20)
        if st.form_submit_button(ui.tr("home.solo_button"), width="stretch"):
            if not solo_name.strip():
                st.warning(ui.tr("home.need_nickname"))
            else:
                try:
                    ui.remember_student(db.join_solo(solo_name))
                    st.rerun()
                except EduError as exc:
                    ui.show_error(exc)
else:
    student = db.student(sid)
    st.success(ui.tr("home.joined", nickname=student.nickname), icon="👋")
    st.info(ui.tr("home.code_hint", code=student.resume_code), icon="🔑")
    if ui.solo_workspace(sid):
        st.caption(ui.tr("home.solo_note"))
    else:  # the practice class has no teacher to share with
        consent = st.toggle(
            ui.tr("home.consent"), value=student.pool_consent, help=ui.tr("home.consent_help")
        )
        if consent != student.pool_consent:
            db.set_pool_consent(sid, consent)
            st.toast(ui.tr("common.saved"))
    st.page_link("views/collect.py", label=ui.tr("home.start"), icon="📷")
    with st.expander(ui.tr("home.delete_me"), icon="🗑️"):
        st.warning(ui.tr("home.delete_me_warning"), icon="⚠️")
        sure = st.checkbox(ui.tr("home.delete_me_check"), key="delete_me_ok")
        if st.button(ui.tr("home.delete_me"), key="delete_me", type="primary", disabled=not sure):
            db.delete_student(sid)
            ui.forget_student()
            st.session_state["home_deleted"] = True
            st.rerun()  # a fresh page: no name, resume code or ticks of the deleted workspace
