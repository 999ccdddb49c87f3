"""데이터셋 나누기: hold some labelled photos back as the test set."""

import streamlit as st

from edu_core.errors import EduError
from webui.common import show_error, tr
from webui.resources import store
from webui.session import page_header, require_student
from webui.split import split_summary

page_header("split.title", "4_model")
sid = require_student()
db = store()
classes = list(db.class_labels(sid))
records = db.list_images(sid, status="ok", labelled=True)
if len(records) < 2:
    st.info(tr("split.need_labels"), icon="🏷️")
    st.page_link("views/label.py", label=tr("nav.label"), icon="🏷️")
    st.stop()

st.write(tr("split.intro"))
ratio = st.slider(tr("split.ratio"), min_value=50, max_value=95, value=80, step=5, key="split_ratio")
by_person = st.checkbox(tr("split.by_person"), help=tr("split.by_person_help"), key="split_by_person")
st.session_state.setdefault("split_seed", 0)
split_col, shuffle_col = st.columns(2)
again = shuffle_col.button(tr("split.seed"), icon="🔀", width="stretch")
if split_col.button(tr("split.button"), type="primary", icon="✂️", width="stretch") or again:
    st.session_state.split_seed += int(again)
    try:
        db.make_split(sid, test_ratio=1 - ratio / 100, seed=st.session_state.split_seed, by_person=by_person)
    except EduError as exc:
        show_error(exc)
    except ValueError:  # a class too small to give both sides a photo
        st.warning(tr("split.need_labels"), icon="🏷️")

splits = db.list_splits(sid)
if not splits:
    st.stop()
split_summary(sid, splits[-1], records, classes)
st.page_link("views/train.py", label=tr("common.next", page=tr("nav.train")), icon="➡️")
