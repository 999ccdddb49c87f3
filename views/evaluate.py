"""평가 · 체험: test accuracy, what got confused, and trying the model on a new photo."""

import streamlit as st

from edu_core import ui
from edu_core.errors import EduError

ui.page_header("eval.title", "5_evaluate")
sid = ui.require_student()
db = ui.store()
classes = list(db.class_labels(sid))
models = db.list_models(sid)
if not models:
    st.info(ui.tr("eval.no_model"), icon="🏋️")
    st.page_link("views/train.py", label=ui.tr("nav.train"), icon="🏋️")
    st.stop()

record = st.selectbox(ui.tr("eval.model_pick"), models[::-1], format_func=lambda m: m.name, key="eval_model")
try:
    model = ui.bundle(sid, record.id)
except EduError as exc:
    ui.show_error(exc)
    st.stop()
metrics = ui.run_metrics(sid, record.id)

try_tab, test_tab, detective_tab = st.tabs(
    [ui.tr("eval.try_title"), ui.tr("eval.accuracy"), ui.tr("eval.detective")]
)
with try_tab:
    upload_col, camera_col = st.columns(2)
    upload = upload_col.file_uploader(ui.tr("eval.try_upload"), key="try_upload")
    shot = camera_col.camera_input(ui.tr("eval.try_camera"), key="try_camera")
    photo = shot or upload
    if photo is not None:
        prediction = ui.predict_upload(model, photo.getvalue())
        ui.show_prediction(prediction)
        ui.show_why(model, prediction)
with test_tab:
    if not metrics.get("n"):
        st.info(ui.tr("eval.no_test"), icon="✂️")
    else:
        right = sum(metrics["confusion"][i][i] for i in range(len(classes)))
        st.metric(ui.tr("eval.accuracy"), f"{metrics['accuracy']:.0%}")
        st.write(ui.tr("eval.summary", n=metrics["n"], right=right))
        st.subheader(ui.tr("eval.per_class"))
        ui.recall_chart(metrics, classes)
        st.subheader(ui.tr("eval.confusion"))
        st.caption(ui.tr("eval.confusion_help"))
        ui.confusion_explorer(sid, metrics, classes)
        st.subheader(ui.tr("eval.gallery"))
        ui.results_gallery(sid, metrics, classes)
with detective_tab:
    run = next((r for r in db.list_runs(sid) if r.model_id == record.id), None)
    if run is not None and run.split_id is not None:
        ui.detective(sid, model, run.split_id, classes, model_id=record.id)
