"""사진 모으기 · 얼굴 추출: upload or capture photos, find the faces, skip the ones that cannot be used."""

import time

import streamlit as st

from edu_core.errors import EduError
from webui.collect import (
    collect_gallery,
    collect_tags,
    extract_and_store,
    load_samples,
    pieces_view,
    refused_list,
    rejected_list,
)
from webui.common import show_error, tr
from webui.resources import store
from webui.session import page_header, require_student

page_header("collect.title", "2_faces")
sid = require_student()
db = store()
st.session_state.setdefault("upload_round", 0)
st.session_state.setdefault("camera_round", 0)

label, group = collect_tags(sid)
upload_tab, camera_tab, sample_tab = st.tabs(
    [tr("collect.upload_tab"), tr("collect.camera_tab"), tr("collect.samples_tab")]
)
try:
    with upload_tab:
        files = st.file_uploader(
            tr("collect.upload_label"),
            accept_multiple_files=True,
            help=tr("collect.upload_help"),
            key=f"upload_{st.session_state.upload_round}",
        )
        if st.button(tr("collect.extract_button"), type="primary", disabled=not files, icon="🔍"):
            stored, refused = extract_and_store(
                sid, [(f.name, f.getvalue()) for f in files], source="upload", label=label, group=group
            )
            ok = sum(r.status == "ok" for r in stored)
            st.session_state["collect_done"] = tr("collect.done", ok=ok, bad=len(stored) + len(refused) - ok)
            st.session_state["collect_refused"] = refused
            st.session_state.upload_round += 1  # a fresh, empty uploader for the next batch
            st.rerun()
    with camera_tab:
        st.caption(tr("collect.burst_label"))
        shot = st.camera_input(tr("collect.camera_label"), key=f"camera_{st.session_state.camera_round}")
        if shot is not None:
            name = time.strftime("camera_%H%M%S.jpg")
            extract_and_store(sid, [(name, shot.getvalue())], source="camera", label=label, group=group)
            st.session_state.camera_round += 1  # the camera is ready for the next shot at once
            st.rerun()
    with sample_tab:
        st.info(tr("collect.samples_info"), icon="🧪")
        col20, col60 = st.columns(2)
        for col, n in ((col20, 20), (col60, 60)):
            if col.button(tr(f"collect.samples_{n}"), key=f"samples_{n}", width="stretch"):
                report = load_samples(sid, n)
                st.session_state["collect_done"] = tr("collect.samples_added", n=len(report.image_ids))
                st.rerun()
except EduError as exc:
    show_error(exc)

if "collect_done" in st.session_state:
    st.success(st.session_state.pop("collect_done"), icon="✅")
    refused_list(st.session_state.pop("collect_refused", []))

records = db.list_images(sid)
accepted = [r for r in records if r.status == "ok"]
rejected = [r for r in records if r.status != "ok"]
if not records:
    st.info(tr("collect.nothing_yet"))
st.subheader(tr("collect.accepted_title", n=len(accepted)))
show_box = st.toggle(tr("collect.show_box"), key="show_box")
collect_gallery(sid, accepted, show_box=show_box)
if rejected:
    st.subheader(tr("collect.rejected_title", n=len(rejected)))
    rejected_list(sid, rejected)
if accepted:
    st.subheader(tr("collect.pieces_title"))
    pieces_view(sid, accepted)
