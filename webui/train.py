"""Train page widgets: starting a run on the training service, the live monitor and the result."""

from __future__ import annotations

from typing import Any

import streamlit as st

from edu_core import charts
from edu_core.train import TrainConfig, TrainingJob
from webui.common import lang, show_error, tr
from webui.figures import figure
from webui.resources import embedding_cache, store, training_service


def owner_of(viewer: Any) -> str:
    """The queue owner name of a student id or a teacher session (ids are per data folder)."""
    who = f"student:{viewer}" if isinstance(viewer, int) else f"class:{viewer.class_id}"
    return f"{store().root}|{who}"


def latest_job(viewer: Any) -> Any:
    """The viewer's most recent training job (queued, running or finished), if any."""
    return training_service().latest(owner_of(viewer))


def start_training(viewer: Any, split: Any, kind: str, cfg: TrainConfig) -> TrainingJob:
    """Queue a training run on the split's training photos.

    The job itself keeps the model, tests it on the held-back photos and closes the
    store's run record, so a student who closes the tab mid-training still finds the
    model afterwards.
    """
    db = store()
    own = db.list_models(viewer) if isinstance(viewer, int) else class_models(viewer)
    return training_service().start(
        db,
        viewer,
        split,
        kind,
        cfg,
        name=f"{tr('train.model_' + kind)} #{len(own) + 1}",
        owner=owner_of(viewer),
        embedding_cache=embedding_cache(),  # fetched here: the job runs outside the page's script thread
    )


def job_summary(viewer: Any, job: Any) -> dict[str, Any] | None:
    """How a finished job ended: ``{"state", "accuracy"|"code"}``; None while it runs."""
    return training_service().summary(store(), viewer, job)


@st.fragment(run_every=1.0)
def training_monitor(viewer: Any) -> None:
    """Live view of the viewer's training job: queue place, progress, curves, cancel."""
    job = latest_job(viewer)
    if job is None:
        return
    state = job.state
    if state in ("queued", "running"):
        if state == "queued":
            # No empty chart while waiting: with a class in the queue, every waiting tab redraws
            # this view each second, and building a plotly figure is the costly part of it.
            place = training_service().place(job) or 1
            st.info(tr("train.queue", pos=place, ahead=max(0, place - 1)), icon="⏳")
        else:
            epoch = len(job.history)
            st.progress(job.progress, text=tr("train.running", epoch=epoch, epochs=job.total_epochs))
            fig = figure(charts.training_curves, job.history, lang=lang(), total_epochs=job.total_epochs)
            st.plotly_chart(
                fig, width="stretch", config={"displayModeBar": False}, theme=None, key="live_curves"
            )
            st.caption(tr("train.curves_note"))
        if st.button(tr("train.cancel"), icon="⏹️", key="cancel_training"):
            job.cancel()
        return
    summary = job_summary(viewer, job)
    if summary and not st.session_state.get(f"shown_{job.id}"):
        st.session_state[f"shown_{job.id}"] = True
        st.rerun()  # redraw the whole page once: the new model appears everywhere


def training_runs(viewer: Any) -> list[Any]:
    """The viewer's own training runs, oldest first (experiment-lab runs are stored apart from them).

    A teacher session may read every student's runs, but only the runs of the class's pooled
    model are "the class result": a student's CNN must not stand in for a class model.
    """
    runs = store().list_runs(viewer)
    if not isinstance(viewer, int):
        runs = [r for r in runs if r.student_id is None]
    return [r for r in runs if r.config.get("type") != "experiment"]


def class_models(session: Any) -> list[Any]:
    """The class's own models (pooled training or imported by the teacher), oldest first."""
    return [m for m in store().list_models(session) if m.student_id is None]


def training_result(viewer: Any) -> None:
    """The outcome of the viewer's last training, with its curves.

    Taken from the live job while the server remembers it, else from the store's last
    finished run, so the result is still there after a reload or a server restart.
    """
    job = latest_job(viewer)
    if job is not None and job.state in ("queued", "running"):
        return
    runs = [r for r in training_runs(viewer) if r.status != "running"]
    if job is not None:
        summary, history = job_summary(viewer, job) or {}, job.history
        # the job's run, closed by the job itself (its metrics say whether it stopped early)
        run_id = training_service().run_of(job.id)
        runs = [r for r in runs if r.id == run_id]
    else:
        if not runs:
            return
        last = runs[-1]
        summary = {
            "state": last.status,
            "accuracy": last.metrics.get("accuracy"),
            "code": last.metrics.get("error"),
        }
        history = last.metrics.get("history", [])
    if summary.get("state") == "done":
        acc = summary.get("accuracy")
        if acc is not None and acc == acc:  # NaN when the test set is empty
            st.success(tr("train.done", acc=acc), icon="🎉")
        else:
            st.success(tr("train.best_kept"), icon="🎉")
    elif summary.get("code"):
        show_error(summary["code"])
    metrics = runs[-1].metrics if runs else {}
    if metrics.get("stopped_early"):
        st.caption(
            tr(
                "train.stopped_early",
                epochs=max((int(h.get("epoch", 0)) for h in history), default=0),
                planned=metrics.get("planned_epochs"),
                patience=metrics.get("patience"),
            )
        )
    fig = figure(charts.training_curves, history, lang=lang(), total_epochs=metrics.get("planned_epochs"))
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None, key="final_curves")
    if history:
        st.caption(tr("train.curves_note"))
