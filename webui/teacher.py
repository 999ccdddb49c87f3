"""Teacher page widgets: the password door and class PIN, overview, kept photos, join link, imports."""

from __future__ import annotations

import time
from typing import Any

import segno
import streamlit as st

from edu_core import archive, brake, charts, i18n, ingest, photosets
from edu_core.errors import EduError
from edu_core.netinfo import lan_address
from edu_core.store import SOLO_JOIN_CODE
from edu_core.train import TrainConfig
from webui.common import MODE_KEY, flash, lang, renamed, run_with_progress, show_error, tr
from webui.evaluate import run_metrics
from webui.resources import _password_failures, device_info, landmarker_pool, store
from webui.session import RESUME_WINDOW_S
from webui.train import class_models, latest_job, start_training, training_monitor, training_result

#: Wrong teacher passwords, the same way (only teachers type it, so the server allows fewer).
PASSWORD_SESSION_TRIES = 5
PASSWORD_SERVER_TRIES = 30
_DOOR_KEY = "teacher_door"


def teacher_door_open() -> bool:
    """Whether this browser session typed the server's teacher password (the one in force now)."""
    stamp = st.session_state.get(_DOOR_KEY)
    return stamp is not None and stamp == store().teacher_password_stamp()


def _check_password(password: str) -> str:
    db = store()
    if db.teacher_password_source() is None:
        raise EduError("no_teacher_password")
    if not db.check_teacher_password(password):
        raise EduError("bad_password")
    return db.teacher_password_stamp()


def _open_door() -> None:
    password = st.session_state.get("teacher_password", "")
    st.session_state["teacher_password"] = ""  # a widget callback may clear it: keep no password around
    try:
        st.session_state[_DOOR_KEY] = brake.braked(
            lambda: _check_password(password),
            server=_password_failures(),
            session=st.session_state.setdefault("password_failures", []),
            tries=(PASSWORD_SESSION_TRIES, PASSWORD_SERVER_TRIES),
            wait_code="password_wait",
            failed=lambda exc: exc.code == "bad_password",
            window_s=RESUME_WINDOW_S,
        )
    except EduError as exc:
        st.session_state["teacher_error"] = exc.code
        return
    st.session_state[MODE_KEY] = "teacher"


def _teacher_in(session: Any) -> None:
    st.session_state["teacher_session"] = session
    st.session_state[MODE_KEY] = "teacher"  # allowed here: this runs as a widget callback


def _create_class() -> None:
    if not teacher_door_open():  # the form is only drawn behind the door; this also holds if it was not
        st.session_state["teacher_error"] = "door_closed"
        return
    try:
        _, session = store().create_class(
            st.session_state["new_class_name"].strip() or "?", st.session_state["new_pin"]
        )
    except EduError as exc:
        st.session_state["teacher_error"] = exc.code
        return
    _teacher_in(session)


def _login() -> None:
    if not teacher_door_open():
        st.session_state["teacher_error"] = "door_closed"
        return
    klass = st.session_state.get("login_class")
    if klass is None:
        st.session_state["teacher_error"] = "not_found"
        return
    try:
        _teacher_in(store().teacher_login(klass.id, st.session_state["login_pin"]))
    except EduError as exc:
        st.session_state["teacher_error"] = exc.code


def logout_teacher() -> None:
    """Forget the teacher session and close the teacher door (a widget callback)."""
    session = st.session_state.pop("teacher_session", None)
    if session is not None:
        store().teacher_logout(session)
    st.session_state.pop(_DOOR_KEY, None)
    st.session_state[MODE_KEY] = "student"


def _class_choice(record: Any) -> str:
    # No join code here: the list is for opening a class, and the code is shown once it is open.
    return f"{record.name} · {time.strftime('%Y-%m-%d', time.localtime(record.created_at))}"


def teacher_gate() -> Any:
    """The verified teacher session, or the forms that lead to one (and the page stops).

    First the server's teacher password (whoever started the server set it or was shown it);
    behind it, creating a class and opening one with its PIN.
    """
    session = st.session_state.get("teacher_session")
    if session is not None:
        try:
            store().get_class(session.class_id)
            if store().session_alive(session):
                return session
        except EduError:
            pass
        st.session_state.pop("teacher_session", None)
    if "teacher_error" in st.session_state:
        show_error(st.session_state.pop("teacher_error"))
    if not teacher_door_open():
        with st.form("teacher_door"):
            st.subheader(tr("teacher.door_title"))
            st.caption(tr("teacher.door_help"))
            st.text_input(tr("teacher.password"), type="password", key="teacher_password", max_chars=128)
            st.form_submit_button(tr("teacher.door_button"), type="primary", on_click=_open_door)
        st.stop()
    create_col, login_col = st.columns(2, gap="large")
    with create_col, st.form("create_class"):
        st.subheader(tr("teacher.create_title"))
        st.text_input(tr("teacher.class_name"), key="new_class_name", max_chars=40)
        st.text_input(tr("teacher.new_pin"), type="password", key="new_pin", max_chars=32)
        st.form_submit_button(tr("teacher.create_button"), type="primary", on_click=_create_class)
    with login_col, st.form("teacher_login"):
        st.subheader(tr("teacher.login_title"))
        classes = [c for c in store().list_classes() if c.join_code != SOLO_JOIN_CODE]  # it has no teacher
        st.selectbox(
            tr("teacher.classes"),
            classes,
            format_func=_class_choice,
            key="login_class",
            placeholder=tr("teacher.no_classes") if not classes else None,  # else Streamlit's English
        )
        st.text_input(tr("teacher.pin"), type="password", key="login_pin", max_chars=32)
        st.form_submit_button(tr("teacher.login_button"), on_click=_login, disabled=not classes)
    st.button(tr("teacher.close_door"), on_click=logout_teacher, key="teacher_close_door")
    st.stop()


def join_qr(code: str) -> None:
    """The join link for phones and tablets, as text and as a QR code."""
    scheme = "https" if st.get_option("server.sslCertFile") else "http"
    default = f"{scheme}://{lan_address()}:{st.get_option('server.port')}"
    base = st.text_input(tr("teacher.address"), value=default, key="join_base")
    link = f"{base.rstrip('/')}/?join={code}"
    st.code(link, language=None)
    st.image(segno.make(link, error="m").svg_data_uri(scale=8, border=2), width=260)
    st.caption(tr("teacher.join_link_help"))


def class_overview(session: Any) -> None:
    """Numbers for the whole class, per-student counts for those who share, who is stuck."""
    db = store()
    summary = db.class_summary(session)
    line = tr(
        "teacher.summary",
        students=summary["students"],
        sharing=summary["students_sharing"],
        images=summary["images"],
        accepted=summary["accepted"],
        rejected=summary["rejected"],
    )
    st.markdown(f"### {line}")
    classes = list(db.class_labels(session))
    title = tr("teacher.class_counts", n=sum(summary["counts"].values()))
    fig = charts.class_count_bars(
        summary["counts"], classes=classes, lang=lang(), renamed=renamed(), title=title
    )
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None, key="class_counts")
    sharing = [s for s in db.students(session) if s.pool_consent]
    st.caption(tr("teacher.sharing_only"))
    if not sharing:
        return
    per_student: dict[str, dict[str, int]] = {}
    for s in sharing:
        recs = db.list_images(session, student_id=s.id, status="ok", labelled=True)
        per_student[s.nickname] = {c: sum(r.label == c for r in recs) for c in classes}
    fig = charts.student_class_bars(
        per_student, classes=classes, lang=lang(), renamed=renamed(), title=tr("teacher.counts")
    )
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None, key="student_counts")
    need = 5 * len(classes)
    stuck = [name for name, counts in per_student.items() if sum(counts.values()) < need]
    if stuck:
        st.warning(tr("teacher.stuck", min=need, names=", ".join(stuck)), icon="🆘")
    else:
        st.success(tr("teacher.nobody_stuck"), icon="✅")


def kept_review(session: Any) -> None:
    """Photos students kept although the gate rejected them, counted per reason; the teacher can
    let them into the class pool (they stay out of it until then)."""
    summary = store().kept_summary(session)
    st.subheader(tr("teacher.kept_title"))
    st.caption(tr("teacher.kept_help"))
    if not summary:
        st.caption(tr("teacher.kept_none"))
        return
    for code, n in summary.items():
        st.markdown(tr("teacher.kept_row", reason=code, message=i18n.reason_message(code, lang()), **n))
    waiting = sum(n["kept"] - n["accepted"] for n in summary.values())
    if waiting and st.button(tr("teacher.kept_accept", n=waiting), key="accept_kept", icon="✅"):
        st.toast(tr("teacher.kept_accepted", n=store().accept_kept(session)))
        st.rerun()


def import_upload(session: Any, name: str, data: bytes) -> str | None:
    """A teacher's zip: a model (``model.pt`` inside) or a data set for the class pool.

    Returns the sentence saying what was imported (None when nothing was, after saying why):
    the page shows it after rerunning, so every count on the page already includes the import.
    """
    db = store()
    try:
        model_bytes = ingest.model_in_upload(name, data)
    except EduError as exc:
        show_error(exc)
        return None
    if model_bytes is not None:
        rec = ingest.import_model(db, session, name, model_bytes)
        return tr("teacher.import_model_done", name=rec.name)
    # Imported photos live in a workspace of their own that shares with the class pool.
    holder = ingest.import_holder(
        db, session, st.session_state.get("import_holder"), tr("teacher.imported_name")
    )
    st.session_state["import_holder"] = holder
    pool = landmarker_pool()
    report = run_with_progress(
        lambda progress: ingest.import_dataset(db, holder, data, pool=pool, progress=progress),
        text_key="collect.progress",
    )
    return tr("teacher.import_done", n=len(report.image_ids), skipped=len(report.skipped))


def model_zip(viewer: Any, model_id: int) -> bytes:
    """A model as a zip: the checkpoint plus a small JSON card (name, classes, test figures)."""
    return archive.model_zip(store(), viewer, model_id, metrics=run_metrics(viewer, model_id))


def pool_panel(session: Any) -> None:
    """The class pool: merge the shared photos into one split and train the class's model on it."""
    db = store()
    pool = db.pool(session)
    st.write(tr("teacher.pool", n=len(pool)))
    if st.button(tr("teacher.merge_button"), icon="🧺", disabled=len(pool) < 2):
        try:
            db.make_split(session, test_ratio=0.2, seed=0)
            st.success(tr("teacher.merged", students=len({r.student_id for r in pool}), n=len(pool)))
        except (EduError, ValueError):
            st.warning(tr("split.need_labels"))
    splits = db.list_splits(session)
    job = latest_job(session)
    busy = job is not None and job.state in ("queued", "running")
    kind = "cnn" if device_info()["kind"] == "gpu" else "pieces"  # the GPU makes the CNN worth it
    if splits and st.button(tr("teacher.train_class"), type="primary", icon="🏋️", disabled=busy):
        start_training(session, splits[-1], kind, TrainConfig())
        st.rerun()
    if busy:
        training_monitor(session)
    else:
        training_result(session)


def files_panel(session: Any, klass: Any) -> None:
    """Download the class's data set and model, import a zip or a model file."""
    db = store()
    if db.list_splits(session):
        latest = db.list_splits(session)[-1].id
        st.download_button(
            tr("teacher.export_data"), lambda: photosets.export_zip(db, session, split_id=latest),
            file_name=f"expression-lab-{klass.join_code}-data.zip", mime="application/zip", icon="📦",
        )  # fmt: skip
    models = class_models(session)
    if models:
        st.download_button(
            tr("teacher.export_model"), lambda: model_zip(session, models[-1].id),
            file_name=f"expression-lab-{klass.join_code}-model.zip", mime="application/zip", icon="🧠",
        )  # fmt: skip
    else:
        st.caption(tr("teacher.no_model"))
    upload = st.file_uploader(tr("teacher.import"), type=["zip", "pt"], key="teacher_import")
    if upload is not None and st.button(tr("teacher.import"), key="do_import"):
        try:
            done = import_upload(session, upload.name, upload.getvalue())
        except EduError as exc:
            show_error(exc)
        else:
            if done:
                flash(done, icon="📦")
                st.rerun()


def _wipe(session: Any) -> None:
    # A callback runs before the page is drawn, so every tab already shows the emptied class.
    n = store().wipe_class(session, keep_class=True)
    st.session_state["wipe_ok"] = False
    flash(tr("teacher.wiped", n=n), icon="🗑️")


def wipe_panel(session: Any, klass: Any) -> None:
    """How long photos are kept, and emptying the class."""
    db = store()
    days = st.number_input(
        tr("teacher.retention"),
        0,
        3650,
        klass.retention_days or 0,
        help=tr("teacher.retention_keep"),
        key="retention_days",
    )
    if st.button(tr("teacher.retention_button"), key="save_retention") and days != (
        klass.retention_days or 0
    ):
        db.set_retention(session, int(days) or None)
        st.success(tr("teacher.retention_saved", days=int(days)) if days else tr("teacher.retention_off"))
    st.warning(tr("teacher.wipe_confirm"), icon="⚠️")
    if st.checkbox(tr("teacher.wipe_check"), key="wipe_ok"):
        st.button(tr("teacher.wipe_button"), type="primary", icon="🗑️", on_click=_wipe, args=(session,))
