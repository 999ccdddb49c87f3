"""사진 모으기 · 얼굴 추출: upload or capture photos, find the faces, skip the ones that cannot be used."""

import time

import streamlit as st

from edu_core import ui
from edu_core.errors import EduError

ui.page_header("collect.title", "2_faces")
sid = ui.require_student()
db = ui.store()
st.session_state.setdefault("upload_round", 0)
st.session_state.setdefault("camera_round", 0)

label, group = ui.collect_tags(sid)
upload_tab, camera_tab, sample_tab = st.tabs(
    [ui.tr("collect.upload_tab"), ui.tr("collect.camera_tab"), ui.tr("collect.samples_tab")]
)
try:
    with upload_tab:
        files = st.file_uploader(
            ui.tr("collect.upload_label"),
            accept_multiple_files=True,
            help=ui.tr("collect.upload_help"),
            key=f"upload_{st.session_state.upload_round}",
        )
        if st.button(ui.tr("collect.extract_button"), type="primary", disabled=not files, icon="🔍"):
            stored, refused = ui.extract_and_store(
                sid, [(f.name, f.getvalue()) for f in files], source="upload", label=label, group=group
            )
            ok = sum(r.status == "ok" for r in stored)
            st.session_state["collect_done"] = ui.tr(
                "collect.done", ok=ok, bad=len(stored) + len(refused) - ok
            )
            st.session_state["collect_refused"] = refused
            st.session_state.upload_round += 1  # a fresh, empty uploader for the next batch
            st.rerun()
    with camera_tab:
        st.caption(ui.tr("collect.burst_label"))
        shot = st.camera_input(ui.tr("collect.camera_label"), key=f"camera_{st.session_state.camera_round}")
        if shot is not None:
            name = time.strftime("camera_%H%M%S.jpg")
            ui.extract_and_store(sid, [(name, shot.getvalue())], source="camera", label=label, group=group)
            st.session_state.camera_round += 1  # the camera is ready for the next shot at once
            st.rerun()
    with sample_tab:
        st.info(ui.tr("collect.samples_info"), icon="🧪")
        col20, col60 = st.columns(2)
        for col, n in ((col20, 20), (col60, 60)):
            if col.button(ui.tr(f"collect.samples_{n}"), key=f"samples_{n}", width="stretch"):
                report = ui.load_samples(sid, n)
                st.session_state["collect_done"] = ui.tr("collect.samples_added", n=len(report.image_ids))
                st.rerun()
except EduError as exc:
    ui.show_error(exc)

if "collect_done" in st.session_state:
    st.success(st.session_state.pop("collect_done"), icon="✅")
    ui.refused_list(st.session_state.pop("collect_refused", []))

records = db.list_images(sid)
accepted = [r for r in records if r.status == "ok"]
rejected = [r for r in records if r.status != "ok"]
if not records:
    st.info(ui.tr("collect.nothing_yet"))
st.subheader(ui.tr("collect.accepted_title", n=len(accepted)))
show_box = st.toggle(ui.tr("collect.show_box"), key="show_box")
ui.collect_gallery(sid, accepted, show_box=show_box)
if rejected:
    st.subheader(ui.tr("collect.rejected_title", n=len(rejected)))
    ui.rejected_list(sid, rejected)
if accepted:
    st.subheader(ui.tr("collect.pieces_title"))
    ui.pieces_view(sid, accepted)
