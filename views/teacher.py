"""교사: create or open a class, see progress, pool shared photos, train a class model, export, wipe."""

import streamlit as st

from edu_core import photosets, ui
from edu_core.errors import EduError
from edu_core.train import TrainConfig

ui.page_header("teacher.title")
session = ui.teacher_gate()
db = ui.store()
klass = db.get_class(session.class_id)
st.markdown(f"## {klass.name} · {ui.tr('teacher.join_code', code=klass.join_code)}")
st.button(ui.tr("teacher.logout"), on_click=ui.logout_teacher, key="teacher_logout")


def _wipe() -> None:
    # A callback runs before the page is drawn, so every tab already shows the emptied class.
    n = db.wipe_class(session, keep_class=True)
    st.session_state["wipe_ok"] = False
    ui.flash(ui.tr("teacher.wiped", n=n), icon="🗑️")


# Actions below rerun the page so the tabs drawn before them show their result; their
# messages come back here.
ui.show_flashes()

overview_tab, join_tab, pool_tab, files_tab, wipe_tab = st.tabs(
    [
        ui.tr(k)
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
    ui.class_overview(session)
    ui.kept_review(session)
    ui.class_fairness(session)
with join_tab:
    ui.join_qr(klass.join_code)
with pool_tab:
    pool = db.pool(session)
    st.write(ui.tr("teacher.pool", n=len(pool)))
    if st.button(ui.tr("teacher.merge_button"), icon="🧺", disabled=len(pool) < 2):
        try:
            split = db.make_split(session, test_ratio=0.2, seed=0)
            st.success(ui.tr("teacher.merged", students=len({r.student_id for r in pool}), n=len(pool)))
        except (EduError, ValueError):
            st.warning(ui.tr("split.need_labels"))
    splits = db.list_splits(session)
    job = ui.latest_job(session)
    busy = job is not None and job.state in ("queued", "running")
    kind = "cnn" if ui.device_info()["kind"] == "gpu" else "pieces"  # the GPU makes the CNN worth it
    if splits and st.button(ui.tr("teacher.train_class"), type="primary", icon="🏋️", disabled=busy):
        ui.start_training(session, splits[-1], kind, TrainConfig())
        st.rerun()
    if busy:
        ui.training_monitor(session)
    else:
        ui.training_result(session)
with files_tab:
    if db.list_splits(session):
        latest = db.list_splits(session)[-1].id
        st.download_button(
            ui.tr("teacher.export_data"), lambda: photosets.export_zip(db, session, split_id=latest),
            file_name=f"expression-lab-{klass.join_code}-data.zip", mime="application/zip", icon="📦",
        )  # fmt: skip
    models = ui.class_models(session)
    if models:
        st.download_button(
            ui.tr("teacher.export_model"), lambda: ui.model_zip(session, models[-1].id),
            file_name=f"expression-lab-{klass.join_code}-model.zip", mime="application/zip", icon="🧠",
        )  # fmt: skip
    else:
        st.caption(ui.tr("teacher.no_model"))
    upload = st.file_uploader(ui.tr("teacher.import"), type=["zip", "pt"], key="teacher_import")
    if upload is not None and st.button(ui.tr("teacher.import"), key="do_import"):
        try:
            done = ui.import_upload(session, upload.name, upload.getvalue())
        except EduError as exc:
            ui.show_error(exc)
        else:
            if done:
                ui.flash(done, icon="📦")
                st.rerun()
with wipe_tab:
    days = st.number_input(
        ui.tr("teacher.retention"),
        0,
        3650,
        klass.retention_days or 0,
        help=ui.tr("teacher.retention_keep"),
        key="retention_days",
    )
    if st.button(ui.tr("teacher.retention_button"), key="save_retention") and days != (
        klass.retention_days or 0
    ):
        db.set_retention(session, int(days) or None)
        st.success(
            ui.tr("teacher.retention_saved", days=int(days)) if days else ui.tr("teacher.retention_off")
        )
    st.warning(ui.tr("teacher.wipe_confirm"), icon="⚠️")
    if st.checkbox(ui.tr("teacher.wipe_check"), key="wipe_ok"):
        st.button(ui.tr("teacher.wipe_button"), type="primary", icon="🗑️", on_click=_wipe)
