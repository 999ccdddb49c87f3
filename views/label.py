"""라벨링: give each face a label, see the counts per class and whether they are balanced."""

import streamlit as st

from edu_core import charts, ui

ui.page_header("label.title", "3_labels")
if ui.teacher_session():
    ui.rename_classes_form(ui.teacher_session())
sid = ui.require_student()
db = ui.store()
classes = list(db.class_labels(sid))
records = db.list_images(sid, status="ok")
if not records:
    st.info(ui.tr("label.empty"), icon="📷")
    st.page_link("views/collect.py", label=ui.tr("nav.collect"), icon="📷")
    st.stop()

st.write(ui.tr("label.intro"))
counts = db.counts(sid)
chart_col, note_col = st.columns([3, 2], gap="large")
with chart_col:
    fig = ui.figure(
        charts.class_count_bars,
        counts,
        classes=classes,
        lang=ui.lang(),
        renamed=ui.renamed(),
        title=ui.tr("label.counts"),
    )
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None)
with note_col:
    ui.balance_message(counts)
    unlabelled = sum(r.label is None for r in records)
    if unlabelled:
        st.info(ui.tr("warn.unlabelled", n=unlabelled), icon="🏷️")

target = st.segmented_control(
    ui.tr("label.target"),
    [*classes, ui.NO_LABEL],
    format_func=ui.label_display,
    default=classes[0],
    key="label_target",
)
target = None if target in (None, ui.NO_LABEL) else target
groups = [None, *classes]
members = {g: [r for r in records if r.label == g] for g in groups}
# A keyed control instead of st.tabs: tabs cannot be set from code and jump back to the first one
# after every rerun, i.e. after every single photo moved.
views = [ui.NO_LABEL, *classes]
# the starting view is set once; a default that changed with the counts would reset the control
st.session_state.setdefault("label_view", ui.NO_LABEL if members[None] else classes[0])
view = st.segmented_control(
    ui.tr("label.view"),
    views,
    format_func=ui.label_display,  # no counts here: the browser sends the chosen option's text back
    key="label_view",
)
group = None if view in (None, ui.NO_LABEL) else view
st.markdown(f"**{ui.tr('label.tab', name=ui.label_display(group), n=len(members[group]))}**")
if members[group] and group != target:
    if st.button(ui.tr("label.move_all", name=ui.label_display(target)), key=f"all_{group}", icon="📦"):
        db.set_labels(sid, {r.id: target for r in members[group]})
        st.toast(ui.tr("label.moved", n=len(members[group]), name=ui.label_display(target)))
        st.rerun()
ui.label_grid(sid, members[group], target=target, key=f"grid_{group}")

with st.expander(ui.tr("label.person_title"), icon="👤"):
    ui.person_tagger(sid, members[group], records, key=f"person_{group}")
with st.expander(ui.tr("label.group_title"), icon="🏷️"):
    ui.group_tagger(sid, members[group], records, key=f"tag_{group}")

with st.expander(ui.tr("label.history"), icon="🕘"):
    ui.label_history(sid, records)
st.page_link("views/split.py", label=ui.tr("common.next", page=ui.tr("nav.split")), icon="➡️")
