"""평가 · 체험: test accuracy, what got confused, and trying the model on a new photo."""

import streamlit as st

from edu_core.errors import EduError
from webui.common import show_error, tr
from webui.evaluate import (
    bundle,
    confusion_explorer,
    detective,
    predict_upload,
    recall_chart,
    results_gallery,
    run_metrics,
    show_prediction,
    show_why,
)
from webui.resources import store
from webui.session import page_header, require_student

page_header("eval.title", "5_evaluate")
sid = require_student()
db = store()
classes = list(db.class_labels(sid))
models = db.list_models(sid)
if not models:
    st.info(tr("eval.no_model"), icon="🏋️")
    st.page_link("views/train.py", label=tr("nav.train"), icon="🏋️")
    st.stop()

record = st.selectbox(tr("eval.model_pick"), models[::-1], format_func=lambda m: m.name, key="eval_model")
try:
    model = bundle(sid, record.id)
except EduError as exc:
    show_error(exc)
    st.stop()
metrics = run_metrics(sid, record.id)

try_tab, test_tab, detective_tab = st.tabs([tr("eval.try_title"), tr("eval.accuracy"), tr("eval.detective")])
with try_tab:
    upload_col, camera_col = st.columns(2)
    upload = upload_col.file_uploader(tr("eval.try_upload"), key="try_upload")
    shot = camera_col.camera_input(tr("eval.try_camera"), key="try_camera")
    photo = shot or upload
    if photo is not None:
        prediction = predict_upload(model, photo.getvalue())
        show_prediction(prediction)
        show_why(model, prediction)
with test_tab:
    if not metrics.get("n"):
        st.info(tr("eval.no_test"), icon="✂️")
    else:
        right = sum(metrics["confusion"][i][i] for i in range(len(classes)))
        st.metric(tr("eval.accuracy"), f"{metrics['accuracy']:.0%}")
        st.write(tr("eval.summary", n=metrics["n"], right=right))
        st.subheader(tr("eval.per_class"))
        recall_chart(metrics, classes)
        st.subheader(tr("eval.confusion"))
        st.caption(tr("eval.confusion_help"))
        confusion_explorer(sid, metrics, classes)
        st.subheader(tr("eval.gallery"))
        results_gallery(sid, metrics, classes)
with detective_tab:
    run = next((r for r in db.list_runs(sid) if r.model_id == record.id), None)
    if run is not None and run.split_id is not None:
        detective(sid, model, run.split_id, classes, model_id=record.id)
