"""학습: choose a model and settings, train on the training photos, watch the curves live."""

import streamlit as st

from edu_core.errors import EduError
from edu_core.train import TrainConfig, choose_device
from webui.common import show_error, tr
from webui.resources import device_info, store
from webui.session import page_header, require_student
from webui.train import latest_job, start_training, training_monitor, training_result

page_header("train.title", "4_model")
sid = require_student()
db = store()
splits = db.list_splits(sid)
if not splits:
    st.info(tr("train.need_split"), icon="✂️")
    st.page_link("views/split.py", label=tr("nav.split"), icon="✂️")
    st.stop()

st.write(tr("train.intro"))
device = device_info()
st.info(tr("train.device", device=device["name"]), icon="⚡" if device["kind"] == "gpu" else "🖥️")
kind = st.radio(
    tr("train.model"),
    ["pieces", "cnn"],
    format_func=lambda k: tr(f"train.model_{k}"),
    horizontal=True,
    key="train_kind",
)
settings: dict = {}
# The sliders start at what training really uses on this machine, so opening them changes nothing
# and the progress bar counts the epochs shown here.
default = TrainConfig().resolved(kind, choose_device("auto"))
if st.toggle(tr("train.advanced"), key="train_advanced"):
    epochs_col, batch_col, lr_col = st.columns(3)
    settings["epochs"] = epochs_col.slider(
        tr("train.epochs"), 1, 200, default.epochs, key=f"train_epochs_{kind}"
    )
    settings["batch_size"] = batch_col.select_slider(
        tr("train.batch"),
        sorted({8, 16, 32, 64, 128, int(default.batch_size)}),
        value=default.batch_size,
        key=f"train_batch_{kind}",
    )
    settings["lr"] = lr_col.select_slider(
        tr("train.lr"),
        sorted({0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, float(default.lr)}),
        value=default.lr,
        key=f"train_lr_{kind}",
    )

job = latest_job(sid)
busy = job is not None and job.state in ("queued", "running")
if st.button(tr("train.start"), type="primary", icon="🏋️", disabled=busy, width="stretch"):
    try:
        start_training(sid, splits[-1], kind, TrainConfig(**settings))
        st.rerun()
    except EduError as exc:
        show_error(exc)

st.subheader(tr("train.curves"))
if busy:
    training_monitor(sid)
else:
    training_result(sid)
if db.list_models(sid):
    st.page_link("views/evaluate.py", label=tr("common.next", page=tr("nav.evaluate")), icon="➡️")
