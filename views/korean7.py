"""한국인 7감정 모델: load (or build) the seven-class model, see how good it is, try it on a photo."""

import streamlit as st

from edu_core import korean7
from edu_core.errors import EduError
from edu_core.korean7.registry import korean7_current
from webui.common import show_error, tr
from webui.korean7 import (
    five_class_try,
    korean7_build_demo,
    korean7_intro_model,
    korean7_load_path,
    korean7_load_upload,
    korean7_model,
    korean7_real_tab,
    korean7_report,
    korean7_show_prediction,
)
from webui.session import is_teacher, page_header

page_header("k7.title")
st.write(tr("k7.intro"))
korean7_intro_model()

if is_teacher():
    with st.expander(tr("k7.setup_title"), expanded=korean7_current() is None, icon="🛠️"):
        load_tab, real_tab, demo_tab = st.tabs([tr("k7.load_tab"), tr("k7.real_tab"), tr("k7.demo_tab")])
        with load_tab:
            path = st.text_input(tr("k7.path"), help=tr("k7.path_help"), key="k7_path")
            if st.button(tr("k7.load_path"), key="k7_load_path", disabled=not path.strip()):
                korean7_load_path(path.strip())
            files = st.file_uploader(
                tr("k7.upload"), type=["pt", "json"], accept_multiple_files=True, key="k7_upload"
            )
            if st.button(tr("k7.load_upload"), key="k7_load_upload", disabled=not files):
                korean7_load_upload(files)
        with real_tab:
            korean7_real_tab()
        with demo_tab:
            st.caption(tr("k7.demo_help"))
            left, right = st.columns(2)
            settings = {
                "per_class": left.number_input(
                    tr("k7.demo_per_class"), 2, 500, korean7.DEMO_PER_CLASS, key="k7_per_class"
                ),
                "epochs": right.number_input(
                    tr("k7.demo_epochs"), 1, 500, korean7.DEMO_HEAD_EPOCHS, key="k7_epochs"
                ),
            }
            with st.expander(tr("k7.demo_advanced")):
                settings["image_size"] = st.select_slider(
                    tr("k7.demo_image_size"), [32, 64, 96, 128, 160, 224], value=128, key="k7_image_size"
                )
                settings["crop_source"] = st.radio(
                    tr("k7.demo_crop_source"),
                    ["engine", "boxes"],
                    format_func=lambda c: tr(f"k7.crop.{c}"),
                    horizontal=True,
                    key="k7_crop_source",
                )
                settings["arch"] = st.radio(
                    tr("k7.demo_arch"), ["efficientnet_lite0", "resnet18"], horizontal=True, key="k7_arch"
                )
            if st.button(tr("k7.demo_build"), type="primary", icon="🧪", key="k7_build", width="stretch"):
                korean7_build_demo(settings)
else:
    st.caption(tr("k7.teacher_only"))

try:
    model = korean7_model()
except EduError as exc:
    show_error(exc)
    st.stop()
if model is None:
    st.info(tr("k7.no_model" if is_teacher() else "k7.no_model_student"), icon="🇰🇷")
    st.stop()

korean7_report(model)

st.header(tr("k7.try_title"))
upload_col, camera_col = st.columns(2)
upload = upload_col.file_uploader(tr("k7.try_upload"), key="k7_try_upload")
shot = camera_col.camera_input(tr("k7.try_camera"), key="k7_try_camera")
photo = shot or upload
if photo is not None:
    data = photo.getvalue()
    seven_col, five_col = st.columns(2)
    with seven_col:
        st.subheader(tr("k7.seven_title"))
        korean7_show_prediction(model, data)
    with five_col:
        st.subheader(tr("k7.five_title"))
        five_class_try(data)
