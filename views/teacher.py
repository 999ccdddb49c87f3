"""교사: create or open a class, see progress, pool shared photos, train a class model, export, wipe."""

import streamlit as st

from webui.common import show_flashes, tr
from webui.fairness import class_fairness
from webui.resources import store
from webui.session import page_header
from webui.teacher import (
    class_overview,
    files_panel,
    join_qr,
    kept_review,
    logout_teacher,
    pool_panel,
    teacher_gate,
    wipe_panel,
)

page_header("teacher.title")
session = teacher_gate()
db = store()
klass = db.get_class(session.class_id)
st.markdown(f"## {klass.name} · {tr('teacher.join_code', code=klass.join_code)}")
st.button(tr("teacher.logout"), on_click=logout_teacher, key="teacher_logout")

# Actions below rerun the page so the tabs drawn before them show their result; their
# messages come back here.
show_flashes()

overview_tab, join_tab, pool_tab, files_tab, wipe_tab = st.tabs(
    [
        tr(k)
        for k in (
            "teacher.overview",
            "teacher.join_link",
            "teacher.merge_title",
            "teacher.export_title",
            "teacher.wipe_title",
        )
    ]
)
with overview_tab:
    class_overview(session)
    kept_review(session)
    class_fairness(session)
with join_tab:
    join_qr(klass.join_code)
with pool_tab:
    pool_panel(session)
with files_tab:
    files_panel(session, klass)
with wipe_tab:
    wipe_panel(session, klass)
