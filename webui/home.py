"""Start page widgets: the lesson map, joining a class or carrying on, and the student's own corner."""

from __future__ import annotations

from typing import Any

import streamlit as st

from edu_core.errors import EduError
from webui.common import show_error, tr
from webui.session import forget_student, lesson_read, remember_student, resume_student, solo_workspace
from webui.train import training_runs


def lesson_map(db: Any, sid: int | None) -> None:
    """The five chapters, each ticked once the student's data shows it was done."""
    # The lesson map ticks a chapter off once the student's data shows it was done. Chapter 1 (the
    # terms) is done once its lesson text above was opened, or work of chapter 2 exists (a reload
    # forgets the first, never the second).
    images = db.list_images(sid) if sid else []
    done = [
        lesson_read("1_basics") or bool(images),
        bool(images),
        any(r.label for r in images),
        bool(sid and db.list_models(sid)),
        bool(sid and any(r.status == "done" for r in training_runs(sid))),
    ]
    st.subheader(tr("home.map"))
    for i, finished in enumerate(done, start=1):
        mark = "✅" if finished else "⬜"
        state = tr("home.step_done") if finished else tr("home.step_todo")
        st.markdown(f"#### {mark} {tr(f'home.chapter{i}')} · {state}")


def join_forms(db: Any) -> None:
    """Join a class with its code, carry on with a resume code, or start alone."""
    if st.session_state.pop("resume_error", None) == "resume_wait":
        show_error("resume_wait")
    join_col, resume_col, solo_col = st.columns(3, gap="large")
    with join_col, st.form("join"):
        st.subheader(tr("home.join_title"))
        code = st.text_input(
            tr("home.join_code"),
            value=st.query_params.get("join", ""),
            help=tr("home.join_code_help"),
            max_chars=12,
        )
        nickname = st.text_input(tr("home.nickname"), help=tr("home.nickname_help"), max_chars=20)
        if st.form_submit_button(tr("home.join_button"), type="primary", width="stretch"):
            if not code.strip() or not nickname.strip():
                st.warning(tr("home.need_code") if not code.strip() else tr("home.need_nickname"))
            else:
                try:
                    remember_student(db.join(db.find_class(code).id, nickname))
                    st.rerun()
                except EduError as exc:
                    show_error(exc)
    with resume_col, st.form("resume"):
        st.subheader(tr("home.resume_title"))
        resume = st.text_input(tr("home.resume_code"), max_chars=12)
        if st.form_submit_button(tr("home.resume_button"), width="stretch"):
            try:
                remember_student(resume_student(resume))
                st.rerun()
            except EduError as exc:
                show_error(exc)
    with solo_col, st.form("solo"):
        st.subheader(tr("home.solo_title"))
        st.caption(tr("home.solo_help"))
        solo_name = st.text_input(tr("home.nickname"), help=tr("home.nickname_help"), max_chars=20)
        if st.form_submit_button(tr("home.solo_button"), width="stretch"):
            if not solo_name.strip():
                st.warning(tr("home.need_nickname"))
            else:
                try:
                    remember_student(db.join_solo(solo_name))
                    st.rerun()
                except EduError as exc:
                    show_error(exc)


def my_workspace(db: Any, sid: int) -> None:
    """The signed-in student: the resume code, sharing with the class, leaving for good."""
    student = db.student(sid)
    st.success(tr("home.joined", nickname=student.nickname), icon="👋")
    st.info(tr("home.code_hint", code=student.resume_code), icon="🔑")
    if solo_workspace(sid):
        st.caption(tr("home.solo_note"))
    else:  # the practice class has no teacher to share with
        consent = st.toggle(tr("home.consent"), value=student.pool_consent, help=tr("home.consent_help"))
        if consent != student.pool_consent:
            db.set_pool_consent(sid, consent)
            st.toast(tr("common.saved"))
    st.page_link("views/collect.py", label=tr("home.start"), icon="📷")
    with st.expander(tr("home.delete_me"), icon="🗑️"):
        st.warning(tr("home.delete_me_warning"), icon="⚠️")
        sure = st.checkbox(tr("home.delete_me_check"), key="delete_me_ok")
        if st.button(tr("home.delete_me"), key="delete_me", type="primary", disabled=not sure):
            db.delete_student(sid)
            forget_student()
            st.session_state["home_deleted"] = True
            st.rerun()  # a fresh page: no name, resume code or ticks of the deleted workspace
