"""라벨링: give each face a label, see the counts per class and whether they are balanced."""

import streamlit as st

from edu_core import charts
from webui.common import lang, renamed, tr
from webui.figures import figure
from webui.label import (
    NO_LABEL,
    balance_message,
    group_tagger,
    label_display,
    label_grid,
    label_history,
    person_tagger,
    rename_classes_form,
)
from webui.resources import store
from webui.session import page_header, require_student, teacher_session

page_header("label.title", "3_labels")
if teacher_session():
    rename_classes_form(teacher_session())
sid = require_student()
db = store()
classes = list(db.class_labels(sid))
records = db.list_images(sid, status="ok")
if not records:
    st.info(tr("label.empty"), icon="📷")
    st.page_link("views/collect.py", label=tr("nav.collect"), icon="📷")
    st.stop()

st.write(tr("label.intro"))
counts = db.counts(sid)
chart_col, note_col = st.columns([3, 2], gap="large")
with chart_col:
    fig = figure(
        charts.class_count_bars,
        counts,
        classes=classes,
        lang=lang(),
        renamed=renamed(),
        title=tr("label.counts"),
    )
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None)
with note_col:
    balance_message(counts)
    unlabelled = sum(r.label is None for r in records)
    if unlabelled:
        st.info(tr("warn.unlabelled", n=unlabelled), icon="🏷️")

target = st.segmented_control(
    tr("label.target"),
    [*classes, NO_LABEL],
    format_func=label_display,
    default=classes[0],
    key="label_target",
)
target = None if target in (None, NO_LABEL) else target
groups = [None, *classes]
members = {g: [r for r in records if r.label == g] for g in groups}
# A keyed control instead of st.tabs: tabs cannot be set from code and jump back to the first one
# after every rerun, i.e. after every single photo moved.
views = [NO_LABEL, *classes]
# the starting view is set once; a default that changed with the counts would reset the control
st.session_state.setdefault("label_view", NO_LABEL if members[None] else classes[0])
view = st.segmented_control(
    tr("label.view"),
    views,
    format_func=label_display,  # no counts here: the browser sends the chosen option's text back
    key="label_view",
)
group = None if view in (None, NO_LABEL) else view
st.markdown(f"**{tr('label.tab', name=label_display(group), n=len(members[group]))}**")
if members[group] and group != target:
    if st.button(tr("label.move_all", name=label_display(target)), key=f"all_{group}", icon="📦"):
        db.set_labels(sid, {r.id: target for r in members[group]})
        st.toast(tr("label.moved", n=len(members[group]), name=label_display(target)))
        st.rerun()
label_grid(sid, members[group], target=target, key=f"grid_{group}")

with st.expander(tr("label.person_title"), icon="👤"):
    person_tagger(sid, members[group], records, key=f"person_{group}")
with st.expander(tr("label.group_title"), icon="🏷️"):
    group_tagger(sid, members[group], records, key=f"tag_{group}")

with st.expander(tr("label.history"), icon="🕘"):
    label_history(sid, records)
st.page_link("views/split.py", label=tr("common.next", page=tr("nav.split")), icon="➡️")
