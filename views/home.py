"""시작: what the lesson is, the chapter map, joining a class, carrying on or starting alone."""

import streamlit as st

from webui.common import tr
from webui.home import join_forms, lesson_map, my_workspace
from webui.resources import store
from webui.session import lesson, page_header, student_id

page_header("home.title")
lesson("1_basics", track=True)
st.markdown(f"### {tr('app.tagline')}")
st.write(tr("home.intro"))
db = store()
sid = student_id()
if st.session_state.pop("home_deleted", False):
    st.success(tr("home.deleted"), icon="🗑️")

lesson_map(db, sid)
if sid is None:
    join_forms(db)
else:
    my_workspace(db, sid)
