"""Server-wide things, made once per server with ``st.cache_resource`` and shared by every session.

Only what belongs to no one: the MediaPipe landmarkers, the store, the device, the training
service, frozen-backbone embeddings and the guessing brakes. A student's model is never here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st
import torch
from streamlit.runtime.scriptrunner import get_script_run_ctx

from edu_core.brake import FailureLog
from edu_core.errors import EduError
from edu_core.faces import LandmarkerPool
from edu_core.ingest import EXTRACT_WORKERS
from edu_core.jobs import TrainingService
from edu_core.store import TEACHER_PASSWORD_ENV, default_root, open_store
from edu_core.train import EmbeddingCache
from webui.common import show_error


@st.cache_resource(show_spinner=False)
def landmarker_pool() -> LandmarkerPool:
    """MediaPipe landmarkers shared by every session (at most EXTRACT_WORKERS graphs in memory)."""
    return LandmarkerPool(size=EXTRACT_WORKERS)


@st.cache_resource(show_spinner=False)
def device_info() -> dict[str, str]:
    """Which device training uses: ``{"kind": "gpu"|"cpu", "name": ...}`` (checked once per server)."""
    if torch.cuda.is_available():
        return {"kind": "gpu", "name": torch.cuda.get_device_name(0)}
    return {"kind": "cpu", "name": "CPU"}


@st.cache_resource(show_spinner=False)
def _store_at(root: str) -> Any:
    db = open_store(Path(root))
    # Once per server start: runs a killed server left "running" become "interrupted" (the
    # train page says so) and files of uploads it never committed go. Live processes are spared.
    db.recover()
    announce_teacher_password(db)
    return db


def announce_teacher_password(db: Any) -> None:
    """Tell whoever started the server (in its terminal) how teachers get in.

    On the first start without ``$EXPRESSION_LAB_TEACHER_PASSWORD`` a password is made and
    printed this once, the way notebook servers print their token; only its hash is kept.
    """
    reset = "python -m edu_core.store teacher-password --reset"
    try:
        new = db.ensure_teacher_password()
    except EduError as exc:  # a full or read-only disk: students still work, the teacher page says why
        print(f"Teacher password: could not be stored ({exc.code}); set ${TEACHER_PASSWORD_ENV}.", flush=True)
        return
    if new is not None:
        lines = [
            f"Teacher password (교사 비밀번호): {new}",
            f"Shown only now; its hash is kept in {db.teacher_password_file}.",
            f"Forgot it? {reset}   Or start the server with ${TEACHER_PASSWORD_ENV} set.",
        ]
    elif db.teacher_password_source() == "env":
        lines = [f"Teacher password: the value of ${TEACHER_PASSWORD_ENV}."]
    else:
        lines = [f"Teacher password: stored as a hash in {db.teacher_password_file}. Forgot it? {reset}"]
    width = max(len(line) for line in lines)
    print("\n".join(["", "=" * width, *lines, "=" * width, ""]), flush=True)


def store() -> Any:
    """The class data store (one per data folder, shared by every session; it is thread-safe).

    A data folder that cannot be opened (read-only, full disk, damaged) ends the page with
    one sentence saying so instead of a traceback; opening is retried on the next rerun.
    """
    try:
        return _store_at(str(default_root()))
    except EduError as exc:
        if get_script_run_ctx() is None:  # a worker thread: its caller reports the error
            raise
        show_error(exc)
        st.stop()


@st.cache_resource(show_spinner=False)
def _resume_failures() -> FailureLog:
    # Server-wide: a guesser who opens a new tab for every try still meets this brake.
    return FailureLog()


@st.cache_resource(show_spinner=False)
def _password_failures() -> FailureLog:
    return FailureLog()


@st.cache_resource(show_spinner=False)
def training_service() -> TrainingService:
    """One training service for the whole server: jobs run one at a time, in order."""
    return TrainingService(max_workers=1)


@st.cache_resource(show_spinner=False)
def embedding_cache() -> EmbeddingCache:
    """Frozen-backbone embeddings shared by every session (feature vectors keyed by a hash of the
    crop, never the photos): a CNN trained in head mode and the detective's k-fold models embed each
    crop once."""
    return EmbeddingCache()
