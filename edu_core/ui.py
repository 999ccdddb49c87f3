"""The one bridge between edu_core and Streamlit: shared resources, session set-up, small helpers.

Everything here is about *presentation plumbing* — which language the session uses,
the MediaPipe landmarkers shared by every session, turning edu_core progress callbacks
into a progress bar, turning a reason code into a friendly message. Domain work stays
in the other edu_core modules; pages stay thin by calling these helpers.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from edu_core import experiments as ex  # light: its torch and plotly parts load lazily
from edu_core import i18n
from edu_core.errors import EduError
from edu_core.priority import background_thread

T = TypeVar("T")

EXTRACT_WORKERS = 2
_LANG_KEY = "lang"
_MODE_KEY = "mode"
_MODES = ("student", "teacher")


# --- language and mode ------------------------------------------------------------------------


def lang() -> str:
    """The session's language (Korean unless the student switched)."""
    value = st.session_state.get(_LANG_KEY, i18n.DEFAULT_LANG)
    return value if value in i18n.LANGUAGES else i18n.DEFAULT_LANG


def tr(key: str, **fmt: object) -> str:
    """``i18n.t`` in the session's language."""
    return i18n.t(key, lang(), **fmt)


def class_name(class_id: str) -> str:
    """A class id's display name in the session's language (a teacher's renaming wins)."""
    return i18n.class_name(class_id, lang(), renamed=renamed())


def renamed() -> dict[str, str]:
    """Class display names the teacher changed (Korean defaults are not renames)."""
    from edu_core.labels import KOREAN_NAMES

    names = st.session_state.get("display_names") or {}
    return {c: n for c, n in names.items() if n and n != KOREAN_NAMES.get(c)}


def is_teacher() -> bool:
    """Whether this session unlocked teacher mode."""
    return teacher_session() is not None


def flash(text: str, icon: str = "✅") -> None:
    """Keep a success message for the next run: an action that changes what the page shows
    reruns the page, and the message must survive that rerun to be seen."""
    st.session_state.setdefault("_flash", []).append((text, icon))


def show_flashes() -> None:
    """The messages :func:`flash` kept, shown once.

    Always one container, empty or not: a message that comes and goes would shift everything
    below it, and tabs that move are drawn anew on their first tab (a teacher ticking the wipe
    box after an import was thrown back to the overview).
    """
    slot = st.container()
    for text, icon in st.session_state.pop("_flash", []):
        slot.success(text, icon=icon)


def show_error(exc: EduError | str) -> None:
    """Show a reason code as one short sentence, never a traceback."""
    code = exc if isinstance(exc, str) else exc.code
    st.error(i18n.reason_message(code, lang()), icon="⚠️")


# --- shared resources ---------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def landmarker_pool() -> Any:
    """MediaPipe landmarkers shared by every session (at most EXTRACT_WORKERS graphs in memory)."""
    from edu_core.faces import LandmarkerPool

    return LandmarkerPool(size=EXTRACT_WORKERS)


@st.cache_resource(show_spinner=False)
def device_info() -> dict[str, str]:
    """Which device training uses: ``{"kind": "gpu"|"cpu", "name": ...}`` (checked once per server)."""
    import torch

    if torch.cuda.is_available():
        return {"kind": "gpu", "name": torch.cuda.get_device_name(0)}
    return {"kind": "cpu", "name": "CPU"}


@st.cache_resource(show_spinner=False)
def _store_at(root: str) -> Any:
    from edu_core.store import open_store

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
    from edu_core.store import TEACHER_PASSWORD_ENV

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
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    from edu_core.store import default_root

    try:
        return _store_at(str(default_root()))
    except EduError as exc:
        if get_script_run_ctx() is None:  # a worker thread: its caller reports the error
            raise
        show_error(exc)
        st.stop()


_SWAP = "font-size: 0 !important;"  # hides Streamlit's own text; ::before/::after bring ours back
_OWN = "font-size: 1rem; content: "


def widget_text_css(lg: str) -> str:
    """CSS that puts the app's words on Streamlit's file uploader and camera, in ``lg``.

    Streamlit 1.67 hard-codes "Upload", "25MB per file", "Take Photo", "Clear photo" and the
    camera permission prompt in English and offers no parameter for them, so a Korean class saw
    English there. The selectors are Streamlit's own test ids (pinned version); the file type
    list after the size limit is dropped, the uploader's label already says what to upload.
    """
    from streamlit import config

    def text(key: str, **fmt: object) -> str:
        return json.dumps(i18n.t(key, lg, **fmt), ensure_ascii=False)

    drop, cam = '[data-testid="stFileUploaderDropzone"]', '[data-testid="stCameraInput"]'
    button = f"{drop} button [data-testid='stMarkdownContainer'] p"
    limit = '[data-testid="stFileUploaderDropzoneInstructions"] span'
    shoot = '[data-testid="stCameraInputButton"]'
    ask = '[data-testid="stCameraInputWebcamComponent"] p'
    mb = config.get_option("server.maxUploadSize")
    return "".join(
        [
            f"{button}, {limit}, {shoot}, {ask}, {ask} a {{{_SWAP}}}",
            f"{button}::after {{{_OWN}{text('widget.upload')}}}",
            f"{limit}::after {{font-size: 0.875rem; content: {text('widget.upload_limit', mb=mb)}}}",
            f"{shoot}::after {{{_OWN}{text('widget.take_photo')}}}",
            f"{cam}:has(img) {shoot}::after {{content: {text('widget.clear_photo')}}}",
            f"{ask}::before {{{_OWN}{text('widget.camera_ask')}; display: block}}",
            f"{ask} a::after {{{_OWN}{text('widget.camera_how')}}}",
        ]
    )


def run_page(nav: Any) -> None:
    """Run the chosen page; a store error the page did not expect still ends as one sentence."""
    st.html(f"<style>{widget_text_css(lang())}</style>")
    try:
        nav.run()
    except EduError as exc:
        show_error(exc)


# --- progress -----------------------------------------------------------------------------------


class ProgressState:
    """A thread-safe (done, total) pair that worker threads update and the page thread reads.

    Streamlit elements may only be updated from the script thread, while edu_core calls
    ``progress(done, total)`` from its worker threads, so the two meet here.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done, self._total = 0, 0

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            self._done, self._total = done, total

    def read(self) -> tuple[int, int]:
        with self._lock:
            return self._done, self._total


def run_with_progress(
    work: Callable[[Callable[[int, int], None]], T],
    *,
    text_key: str,
    total: int | None = None,
    poll_s: float = 0.15,
) -> T:
    """Run ``work(progress)`` in a worker thread while a progress bar follows its callbacks.

    ``text_key`` is an i18n key with ``{done}`` and ``{total}`` placeholders. Errors
    raised by ``work`` are re-raised here, in the page thread, for the page to show.
    """
    state = ProgressState()
    if total:
        state(0, total)
    bar = st.progress(0.0, text=tr(text_key, done=0, total=total or "?"))
    with ThreadPoolExecutor(max_workers=1, initializer=background_thread) as ex:
        future = ex.submit(work, state)
        while not future.done():
            done, tot = state.read()
            if tot:
                bar.progress(min(1.0, done / tot), text=tr(text_key, done=done, total=tot))
            time.sleep(poll_s)
        result = future.result()
    done, tot = state.read()
    bar.progress(1.0, text=tr(text_key, done=tot or done, total=tot or done))
    return result


# --- charts -------------------------------------------------------------------------------------

_FIGURES: OrderedDict[str, Any] = OrderedDict()
_FIGURES_LOCK = threading.Lock()
FIGURE_CACHE_SIZE = 512


def figure(builder: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``builder(*args, **kwargs)`` from :mod:`edu_core.charts`, built once per distinct input.

    Plotly spends 15-50 ms of pure Python on each figure, holding the GIL that every other
    student's page needs, and the label, split and train pages redraw theirs on every click.
    The figures are shared between sessions: never modify one that came from here. Inputs are
    compared as JSON with sorted keys, so a builder must not depend on a dict's order.
    """
    import json

    key = f"{builder.__module__}.{builder.__name__}:"
    key += json.dumps([args, kwargs], sort_keys=True, default=repr)
    with _FIGURES_LOCK:
        fig = _FIGURES.get(key)
        if fig is not None:
            _FIGURES.move_to_end(key)
            return fig
    fig = builder(*args, **kwargs)
    with _FIGURES_LOCK:
        _FIGURES[key] = fig
        while len(_FIGURES) > FIGURE_CACHE_SIZE:
            _FIGURES.popitem(last=False)
    return fig


# --- lessons ------------------------------------------------------------------------------------

_ANSWER_LINE = re.compile(r"^\s*-\s*(정답|Answer)\s*:.*$\n?", re.MULTILINE)


def lesson_read(chapter: str) -> bool:
    """Whether this session opened the chapter's lesson text (only where ``lesson(track=True)``)."""
    return chapter in st.session_state.get("lessons_read", set())


def lesson(chapter: str, *, expanded: bool = False, track: bool = False) -> None:
    """Render a chapter's lesson text: objectives for everyone, notes and quiz for teachers.

    ``track`` remembers (for this session) that the student opened it: the lesson map ticks
    chapter 1 for that. Only where needed, since every open and close then reruns the page.
    """
    try:
        parts = i18n.load_lesson(chapter, lang())
    except FileNotFoundError:
        return
    tracking: dict[str, Any] = {"key": f"lesson_open_{chapter}", "on_change": "rerun"} if track else {}
    box = st.expander(tr("common.lesson"), expanded=expanded, icon="📘", **tracking)
    if track and box.open:
        st.session_state.setdefault("lessons_read", set()).add(chapter)
    with box:
        st.markdown(parts.get("student", ""))
        if parts.get("quiz"):
            st.divider()
            show = st.toggle(tr("common.show_answer"), key=f"quiz_answers_{chapter}")
            st.markdown(parts["quiz"] if show else _ANSWER_LINE.sub("", parts["quiz"]))
    if is_teacher() and parts.get("teacher"):
        with st.expander(tr("common.teacher_notes"), icon="🧑‍🏫"):
            st.markdown(parts["teacher"])


# --- session and sidebar ------------------------------------------------------------------------


def bootstrap() -> None:
    """Initialise this browser session once: language and mode defaults, URL options.

    ``?lang=en`` opens the app in English (handy for a projector link), ``?mode=teacher`` with
    the teacher switch on; the sidebar keeps both in the address, so a reload keeps them.
    """
    if "booted" not in st.session_state:
        st.session_state["booted"] = True
        requested = st.query_params.get(_LANG_KEY)
        st.session_state.setdefault(
            _LANG_KEY, requested if requested in i18n.LANGUAGES else i18n.DEFAULT_LANG
        )
        mode = st.query_params.get(_MODE_KEY)
        st.session_state.setdefault(_MODE_KEY, mode if mode in _MODES else _MODES[0])
    store()  # before the sidebar, so a data folder that cannot be opened is explained on the page


def _keep_in_address(key: str, value: str, default: str) -> None:
    # Like ``?s=``: written on every run, because a page switch drops the query parameters.
    if value == default:
        if key in st.query_params:
            st.query_params.pop(key)
    elif st.query_params.get(key) != value:
        st.query_params[key] = value


def sidebar() -> None:
    """Language switch, student/teacher mode and the GPU/CPU badge."""
    with st.sidebar:
        st.segmented_control(
            i18n.t("sidebar.language", lang()),
            options=list(i18n.LANGUAGES),
            format_func=lambda code: {"ko": "한국어", "en": "English"}[code],
            key=_LANG_KEY,
            selection_mode="single",
            required=True,  # a click on the chosen language must not leave none chosen
        )
        st.radio(
            tr("sidebar.mode"),
            options=list(_MODES),
            # Fixed bilingual labels: a label that changes with the language would reset the widget.
            format_func=lambda m: f"{i18n.t(f'mode.{m}', 'ko')} · {i18n.t(f'mode.{m}', 'en')}",
            key=_MODE_KEY,
            horizontal=True,
        )
        _keep_in_address(_LANG_KEY, lang(), i18n.DEFAULT_LANG)
        _keep_in_address(_MODE_KEY, st.session_state.get(_MODE_KEY) or _MODES[0], _MODES[0])
        if st.session_state.get(_MODE_KEY) == "teacher":
            if teacher_session() is None:
                # The switch alone opens nothing: the teacher page asks for the password and the PIN.
                st.info(tr("sidebar.teacher_hint"), icon="🔒")
                st.page_link("views/teacher.py", label=tr("sidebar.teacher_go"), icon="🧑‍🏫")
            else:
                st.caption(tr("sidebar.teacher_on"))
        sid = student_id()
        if sid is not None:
            who = tr(
                "sidebar.student",
                nickname=st.session_state["nickname"],
                class_name=st.session_state["class_title"],
            )
            st.markdown(f"**{who}**")
            st.caption(tr("sidebar.resume_code", code=st.session_state["resume_code"]))
            if st.button(tr("sidebar.leave"), key="leave"):
                forget_student()
                st.rerun()
        dev = device_info()
        if dev["kind"] == "gpu":
            st.success(tr("sidebar.device_gpu", name=dev["name"]), icon="⚡")
        else:
            st.info(tr("sidebar.device_cpu"), icon="🖥️")


# --- students -----------------------------------------------------------------------------------

_RESUME_PARAM = "s"


def remember_student(student: Any) -> None:
    """Make this session the student's and put the resume code in the URL (survives a reload)."""
    st.session_state["student_id"] = student.id
    st.session_state["resume_code"] = student.resume_code
    st.session_state["nickname"] = student.nickname
    record = store().get_class(student.class_id)
    st.session_state["class_title"] = record.name
    st.session_state["display_names"] = dict(record.display_names)
    st.query_params[_RESUME_PARAM] = student.resume_code


#: What a session keeps of a student's workspace besides the id: gone when they leave or delete.
_STUDENT_KEYS = (
    "student_id", "resume_code", "nickname", "class_title", "display_names", "_bundles",
    "lab_mine_data", "lab_mine_stamp", "lab_result", "lab_own_id", "lab_own_face", "lessons_read",
)  # fmt: skip


def solo_workspace(sid: int) -> bool:
    """Whether the student started alone (the practice class, which has no teacher)."""
    from edu_core.store import SOLO_JOIN_CODE

    return store().get_class(store().student(sid).class_id).join_code == SOLO_JOIN_CODE


def forget_student() -> None:
    """Leave: this browser no longer opens the student's workspace, nor keeps any of it."""
    for key in _STUDENT_KEYS:
        st.session_state.pop(key, None)
    st.query_params.pop(_RESUME_PARAM, None)


#: Wrong resume codes one browser session may try per window, and the whole server may see.
RESUME_SESSION_TRIES = 5
RESUME_SERVER_TRIES = 120  # high enough that one pupil mashing keys never locks the class out
RESUME_WINDOW_S = 60.0
#: Wrong teacher passwords, the same way (only teachers type it, so the server allows fewer).
PASSWORD_SESSION_TRIES = 5
PASSWORD_SERVER_TRIES = 30


@st.cache_resource(show_spinner=False)
def _resume_failures() -> tuple[threading.Lock, list[float]]:
    # Server-wide: a guesser who opens a new tab for every try still meets this brake.
    return threading.Lock(), []


@st.cache_resource(show_spinner=False)
def _password_failures() -> tuple[threading.Lock, list[float]]:
    return threading.Lock(), []


def _braked(
    attempt: Callable[[], T],
    *,
    failures: tuple[threading.Lock, list[float]],
    session_key: str,
    tries: tuple[int, int],
    wait_code: str,
    failed: Callable[[EduError], bool],
) -> T:
    """``attempt()`` unless ``tries`` = (this session's, the server's) failures within
    RESUME_WINDOW_S are used up: then every attempt, even a right one, is refused with
    ``wait_code`` until the window has passed. A failure is an EduError that ``failed`` accepts.
    """
    now = time.monotonic()
    lock, server = failures
    mine = [t for t in st.session_state.get(session_key, []) if now - t < RESUME_WINDOW_S]
    with lock:
        server[:] = [t for t in server if now - t < RESUME_WINDOW_S]
        crowded = len(server) >= tries[1]
    if crowded or len(mine) >= tries[0]:
        raise EduError(wait_code)
    try:
        return attempt()
    except EduError as exc:
        if failed(exc):
            st.session_state[session_key] = [*mine, now]
            with lock:
                server.append(now)
        raise


def resume_student(code: str) -> Any:
    """``store().resume(code)`` with a brake on guessing other students' codes.

    After RESUME_SESSION_TRIES wrong codes in this session, or RESUME_SERVER_TRIES on the
    whole server, within RESUME_WINDOW_S, every code (even a right one) is refused with
    ``resume_wait`` until the window has passed.
    """
    return _braked(
        lambda: store().resume(code),
        failures=_resume_failures(),
        session_key="resume_failures",
        tries=(RESUME_SESSION_TRIES, RESUME_SERVER_TRIES),
        wait_code="resume_wait",
        failed=lambda exc: exc.code == "not_found",
    )


def student_id() -> int | None:
    """The student of this session, restored from ``?s=<resume code>`` after a reload."""
    sid = st.session_state.get("student_id")
    if sid is not None:
        if st.query_params.get(_RESUME_PARAM) != st.session_state.get("resume_code"):
            st.query_params[_RESUME_PARAM] = st.session_state["resume_code"]  # page switches drop it
        return int(sid)
    code = st.query_params.get(_RESUME_PARAM)
    if code:
        try:
            remember_student(resume_student(code))
        except EduError as exc:
            if exc.code != "resume_wait":  # a right code keeps working once the pause is over
                st.query_params.pop(_RESUME_PARAM, None)
            st.session_state["resume_error"] = exc.code
            return None
        return int(st.session_state["student_id"])
    return None


def require_student() -> int:
    """The student id, or a friendly pointer to the Start page (and the page stops)."""
    sid = student_id()
    if sid is None:
        if st.session_state.pop("resume_error", None) == "resume_wait":
            show_error("resume_wait")
        st.info(tr("common.need_join"), icon="👋")
        st.page_link("views/home.py", label=tr("common.go_home"), icon="🏠")
        st.stop()
    return int(sid)


def page_header(title_key: str, chapter: str | None = None) -> None:
    """Title plus the chapter's lesson text."""
    st.title(tr(title_key))
    if chapter:
        lesson(chapter)


# --- photos -------------------------------------------------------------------------------------

GALLERY_PAGE = 40
THUMB_SIDE = 160
#: The largest photo file taken (the decoder's limit too); ``server.maxUploadSize`` is the larger
#: limit for a teacher's class zips and model files.
PHOTO_MAX_BYTES = 25 * 1024 * 1024


def extract_and_store(
    sid: int,
    entries: list[tuple[str, bytes]],
    *,
    source: str,
    label: str | None = None,
    group: str | None = None,
) -> tuple[list, list[tuple[str, str]]]:
    """Find the faces in uploaded photos with a progress bar, then store every photo.

    ``group`` tags every photo of the batch, the rejected ones too (the gate's keep rate per
    group counts them).

    Returns the stored records and the ``(file name, reason code)`` of each file the store
    refused (an empty file, say). A photo counts as received only once the store returned
    its record, so nothing is acknowledged that a reload could lose, and one refused file
    never stops the rest of the batch.
    """
    from edu_core import faces
    from edu_core.errors import StoreError
    from edu_core.store import NewImage

    db = store()
    # The server takes files up to the teachers' limit (class zips, models); a photo has its own,
    # checked here so the student reads why, and the file is neither stored nor decoded.
    too_big = [(name, "photo_too_large") for name, data in entries if len(data) > PHOTO_MAX_BYTES]
    entries = [(name, data) for name, data in entries if len(data) <= PHOTO_MAX_BYTES]

    if not entries:
        return [], too_big

    def work(progress: Callable[[int, int], None]) -> tuple[list, list[tuple[str, str]]]:
        results = faces.extract_many(
            [data for _, data in entries], workers=EXTRACT_WORKERS, pool=landmarker_pool(), progress=progress
        )
        photos = [
            NewImage(data, name, source, res, group=group, label=label if res.ok else None)
            for (name, data), res in zip(entries, results, strict=True)
        ]
        try:
            # One transaction for the batch: its files are fsynced side by side and the class
            # queues once for the write lock instead of once per photo.
            return db.add_images(sid, photos), []
        except StoreError as exc:
            if exc.code in ("disk_full", "read_only"):
                raise
        # One file spoiled the batch (an empty one, say): store them one by one to name it.
        stored, refused = [], []
        for photo in photos:
            try:
                stored += db.add_images(sid, [photo])
            except StoreError as exc:
                if exc.code in ("disk_full", "read_only"):  # every later photo would fail the same way
                    raise
                refused.append((photo.filename, exc.code))
        return stored, refused

    stored, refused = run_with_progress(work, text_key="collect.progress", total=len(entries))
    return stored, too_big + refused


def collect_tags(sid: int) -> tuple[str | None, str | None]:
    """The expression and the group (optional) that the next uploads or camera shots get."""
    label_col, group_col = st.columns(2)
    label = label_col.selectbox(
        tr("collect.camera_class"),
        [None, *store().class_labels(sid)],
        format_func=lambda c: class_name(c) if c else tr("label.none"),
        key="collect_label",
    )
    with group_col:
        group = _group_choice(sid, tr("collect.group"), key="collect_group", help=tr("collect.group_help"))
    from edu_core.store import normalize_group

    return label, normalize_group(group)


def _group_choice(sid: int, label: str, *, key: str, help: str | None = None) -> str | None:
    # the class's tags are offered so that "안경" is not also typed "안경 씀"; a new one can be typed
    return st.selectbox(
        label,
        store().class_groups(sid),
        index=None,
        accept_new_options=True,
        placeholder=tr("collect.group_none"),
        help=help,
        key=key,
    )


def refused_list(refused: list[tuple[str, str]]) -> None:
    """Files that could not be stored at all, each with its one-sentence reason."""
    for name, code in refused:
        st.warning(f"**{name}** — {i18n.reason_message(code, lang())}", icon="⚠️")


def load_samples(sid: int, per_class: int) -> Any:
    """Put the ready-made sample faces, already labelled, into the workspace."""
    from edu_core import dataset, faces

    def extractor(blobs: Any) -> list:
        return faces.extract_many(list(blobs), workers=EXTRACT_WORKERS, pool=landmarker_pool())

    return run_with_progress(
        lambda progress: dataset.load_samples(
            store(), sid, per_class, extractor=extractor, progress=progress
        ),
        text_key="collect.progress",
    )


@st.cache_data(max_entries=4096, show_spinner=False)
def _crop_thumb(sid: int, image_id: int, crop_sha: str) -> bytes:
    from edu_core.images import decode, encode_jpeg

    data = store().crop_bytes(sid, image_id)
    return encode_jpeg(_fit(decode(data, max_side=THUMB_SIDE).rgb), quality=85)


@st.cache_data(max_entries=1024, show_spinner=False)
def _boxed_thumb(sid: int, image_id: int, sha: str) -> bytes | None:
    from edu_core import charts
    from edu_core.images import decode, encode_jpeg

    face = store().face(image_id, sid)
    if face.box is None:
        return None
    img = decode(store().original_bytes(sid, image_id), max_side=2 * THUMB_SIDE)
    box = [v * img.scale for v in face.box]
    return encode_jpeg(_fit(charts.draw_face_box(img.rgb, box)), quality=85)


def _fit(rgb: Any) -> Any:
    """Shrink to the width the gallery shows: st.image would otherwise resize and re-encode
    every thumbnail on every rerun, for every student (the costliest part of a page under load)."""
    import numpy as np
    from PIL import Image

    h, w = rgb.shape[:2]
    if w <= THUMB_SIDE:
        return rgb
    size = (THUMB_SIDE, max(1, round(h * THUMB_SIDE / w)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def _gallery_page(records: list, key: str) -> list:
    """The newest photos first, one page of them, with page pills when there is more than one."""
    records = sorted(records, key=lambda r: -r.id)
    pages = max(1, -(-len(records) // GALLERY_PAGE))
    page = 1
    if pages > 1:
        page = st.pills(tr("label.page"), list(range(1, pages + 1)), default=1, key=f"{key}_page") or 1
    return records[(page - 1) * GALLERY_PAGE : page * GALLERY_PAGE]


def _gallery_thumb(sid: int, r: Any, show_box: bool) -> bytes:
    thumb = _boxed_thumb(sid, r.id, r.sha) if show_box else None
    return thumb or _crop_thumb(sid, r.id, r.crop_sha)


def _gallery_caption(r: Any) -> str:
    caption = class_name(r.label) if r.label else r.filename[:18]
    return f"🙋 {caption}" if getattr(r, "kept", False) else caption  # kept although the gate said no


def face_gallery(sid: int, records: list, *, show_box: bool, key: str = "gallery") -> None:
    """Accepted faces as a grid (crops, or the originals with the face box), newest first, paged."""
    shown = _gallery_page(records, key)
    images = [_gallery_thumb(sid, r, show_box) for r in shown]
    captions = [_gallery_caption(r) for r in shown]
    if images:
        st.image(images, caption=captions, width=THUMB_SIDE)


def collect_gallery(sid: int, records: list, *, show_box: bool, per_row: int = 5) -> None:
    """The accepted faces on the collect page, newest first, each with its own delete button."""
    shown = _gallery_page(records, "gallery")
    for start in range(0, len(shown), per_row):
        for col, r in zip(st.columns(per_row), shown[start : start + per_row], strict=False):
            with col:
                st.image(_gallery_thumb(sid, r, show_box), caption=_gallery_caption(r), width=THUMB_SIDE)
                if st.button(tr("collect.delete"), icon="🗑️", key=f"gallery_delete_{r.id}", type="tertiary"):
                    store().delete_image(sid, r.id)  # a student may remove any of their own photos
                    st.toast(tr("collect.skipped", name=r.filename))
                    st.rerun()


def rejected_list(sid: int, records: list) -> None:
    """Each rejected photo with its reason, a *skip* button that removes it and a *use it anyway*
    button for a photo the gate got wrong."""
    from edu_core import kept
    from edu_core.images import decode, encode_jpeg

    for r in records:
        thumb_col, text_col, button_col = st.columns([1, 4, 1], vertical_alignment="center")
        with thumb_col:
            try:
                small = decode(store().original_bytes(sid, r.id), max_side=120)
                st.image(encode_jpeg(small.rgb), width=100)
            except EduError:
                st.markdown("## 🚫")
        with text_col:
            st.markdown(f"**{r.filename}**")
            st.warning(i18n.reason_message(r.reason or "error", lang()), icon="⚠️")
        with button_col:
            if st.button(tr("collect.skip"), key=f"skip_{r.id}", width="stretch"):
                store().delete_image(sid, r.id)
                st.toast(tr("collect.skipped", name=r.filename))
                st.rerun()
        if (r.reason or "") not in kept.CANNOT_KEEP and text_col.button(
            tr("collect.keep"), key=f"keep_{r.id}", icon="🙋"
        ):
            keep_rejected(sid, r)


def keep_rejected(sid: int, record: Any) -> None:
    """The student overrules the face gate: cut the face MediaPipe finds and keep the photo."""
    from edu_core import kept

    with landmarker_pool().acquire() as lm:
        face = kept.cut_anyway(store().original_bytes(sid, record.id), lm)
    if face is None:
        st.warning(tr("collect.keep_failed", name=record.filename), icon="⚠️")
        return
    store().keep_rejected(sid, record.id, face)
    st.toast(tr("collect.kept", name=record.filename))
    st.rerun()


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


def pieces_view(sid: int, records: list) -> None:
    """One face's data pieces: brows, eyes and lips drawn, the strongest movements named."""
    from edu_core import charts

    if not records:
        return
    chosen = st.selectbox(
        tr("collect.pieces_pick"),
        records,
        format_func=lambda r: f"#{r.id} · {r.filename}",
        key="pieces_pick",
    )
    face = store().face(chosen.id, sid)
    if face.crop is None or face.landmarks is None:
        st.info(tr("collect.no_pieces"))
        return
    pic_col, text_col = st.columns([1, 1], gap="large")
    with pic_col:
        st.image(charts.draw_pieces(face.crop, face.landmarks), caption=tr("collect.pieces_caption"))
    with text_col:
        st.markdown(f"#### {tr('collect.strongest')}")
        for name, score in charts.top_blendshapes(face.blendshapes, n=4, min_score=0.05):
            st.progress(min(1.0, score), text=f"{i18n.blendshape_name(name, lang())} · {score:.0%}")
        st.divider()
        if st.button(tr("collect.delete"), icon="🗑️", key=f"delete_{chosen.id}"):
            store().delete_image(sid, chosen.id)  # a student may remove any of their own photos
            st.toast(tr("collect.skipped", name=chosen.filename))
            st.rerun()


# --- labelling ----------------------------------------------------------------------------------

NO_LABEL = "_none"  # the "no label" choice in widgets (None cannot be a segmented-control option)


def label_display(label: str | None) -> str:
    """A label (or no label) as students read it."""
    return class_name(label) if label and label != NO_LABEL else tr("label.none")


def label_grid(sid: int, records: list, *, target: str | None, key: str, per_row: int = 6) -> None:
    """Photos in a grid; clicking a photo's button moves it to ``target`` (stored at once)."""
    records = sorted(records, key=lambda r: r.id)
    pages = max(1, -(-len(records) // GALLERY_PAGE))
    page = 1
    if pages > 1:
        page = st.pills(tr("label.page"), list(range(1, pages + 1)), default=1, key=f"{key}_page") or 1
    shown = records[(page - 1) * GALLERY_PAGE : page * GALLERY_PAGE]
    for start in range(0, len(shown), per_row):
        for col, r in zip(st.columns(per_row), shown[start : start + per_row], strict=False):
            with col:
                st.image(_crop_thumb(sid, r.id, r.crop_sha), width="stretch")
                if r.label != target and st.button(
                    f"→ {label_display(target)}", key=f"{key}_{r.id}", width="stretch"
                ):
                    store().set_label(sid, r.id, target)
                    st.rerun()


def _tag_photos(records: list, shown: list, *, key: str, field: str, blank: str) -> list[int]:
    """Counts of each tag over all photos, then a pick of the shown photos to tag (their ids)."""
    from collections import Counter

    tags = Counter(getattr(r, field) or blank for r in records)
    st.markdown(tr(f"label.{field}_counts", tags=", ".join(f"{t} ({n})" for t, n in sorted(tags.items()))))
    if not shown:
        return []
    by_id = {r.id: r for r in shown}
    return st.multiselect(
        tr(f"label.{field}_pick"),
        sorted(by_id),
        format_func=lambda i: f"{by_id[i].filename} · {getattr(by_id[i], field) or blank}",
        key=f"{key}_pick",
    )


def person_tagger(sid: int, shown: list, records: list, *, key: str) -> None:
    """Say who is in some photos: pick them, type a nickname, save (empty name = the student)."""
    st.caption(tr("label.person_intro"))
    picked = _tag_photos(records, shown, key=key, field="person", blank=tr("label.person_me"))
    if not shown:
        return
    name = st.text_input(tr("label.person_name"), placeholder=tr("label.person_me"), key=f"{key}_name")
    if st.button(tr("label.person_save"), key=f"{key}_save", icon="👤", disabled=not picked):
        store().set_person(sid, picked, name)
        st.toast(tr("label.person_saved", n=len(picked), name=name.strip() or tr("label.person_me")))
        st.rerun()


def group_tagger(sid: int, shown: list, records: list, *, key: str) -> None:
    """Put photos into a group the class chose ("안경" / "안경 없음"): pick them, name it, save."""
    from edu_core.store import normalize_group

    st.caption(tr("label.group_intro"))
    picked = _tag_photos(records, shown, key=key, field="group", blank=tr("fair.no_group"))
    if not shown:
        return
    name = _group_choice(sid, tr("label.group_name"), key=f"{key}_name")
    if st.button(tr("label.group_save"), key=f"{key}_save", icon="🏷️", disabled=not picked):
        store().set_group(sid, picked, name)
        tag = normalize_group(name)
        st.toast(
            tr("label.group_saved", n=len(picked), name=tag)
            if tag
            else tr("label.group_cleared", n=len(picked))
        )
        st.rerun()


def balance_message(counts: dict[str, int]) -> None:
    """The imbalance warning for a student's labelled photos, or a word of praise."""
    from edu_core import dataset

    code = dataset.imbalance_warning(counts)
    if code == "imbalanced":
        small = min(counts, key=counts.__getitem__)
        big = max(counts, key=counts.__getitem__)
        st.warning(
            tr(
                "warn.imbalance",
                small=class_name(small),
                n_small=counts[small],
                big=class_name(big),
                n_big=counts[big],
            ),
            icon="⚖️",
        )
    elif code == "empty_class":
        missing = [class_name(c) for c, n in counts.items() if n == 0]
        st.warning(tr("warn.missing_class", name=", ".join(missing)), icon="⚖️")
    elif code == "too_few_images":
        need = dataset.BalanceRule().min_per_class
        for c in (c for c, n in counts.items() if n < need):
            st.warning(tr("warn.too_few", name=class_name(c), n=counts[c], min=need), icon="⚖️")
    elif code:
        st.warning(i18n.reason_message(code, lang()), icon="⚖️")
    else:
        st.success(tr("label.balanced"), icon="✅")


def label_history(sid: int, records: list, limit: int = 12) -> None:
    """The most recent label changes, newest first."""
    # One query: asking per photo cost a fifth of every label-page run with 60 photos.
    by_id = {r.id: r for r in records}
    events = [(e, by_id[e.image_id]) for e in store().recent_label_events(sid, limit) if e.image_id in by_id]
    if not events:
        st.caption(tr("label.no_history"))
    for e, r in events:
        st.markdown(
            "- "
            + tr(
                "label.history_row",
                time=time.strftime("%H:%M", time.localtime(e.at)),
                name=r.filename,
                old=label_display(e.old_label),
                new=label_display(e.new_label),
            )
        )


def teacher_session() -> Any:
    """The verified teacher session of this browser, when teacher mode is on.

    Only the teacher page hands out sessions, behind the server's teacher password and the
    class PIN; one that was logged out elsewhere, expired or ended by a password reset is dropped.
    """
    session = st.session_state.get("teacher_session")
    if session is None or st.session_state.get(_MODE_KEY) != "teacher":
        return None
    if not store().session_alive(session):
        st.session_state.pop("teacher_session", None)
        return None
    return session


def rename_classes_form(session: Any) -> None:
    """Teacher: give the classes other display names (the ids stay the same)."""
    record = store().get_class(session.class_id)
    with st.expander(tr("label.rename_title"), icon="✏️"), st.form("rename_classes"):
        names = {
            c: st.text_input(class_name(c), value=record.display_names.get(c, ""), key=f"rename_{c}")
            for c in record.labels
        }
        if st.form_submit_button(tr("label.rename_button")):
            try:
                updated = store().rename_classes(session, names)
            except EduError as exc:
                show_error(exc)
                return
            if (
                st.session_state.get("student_id")
                and store().student(st.session_state["student_id"]).class_id == updated.id
            ):
                st.session_state["display_names"] = dict(updated.display_names)
            st.toast(tr("common.saved"))


# --- training -----------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def training_queue() -> Any:
    """One training queue for the whole server: jobs run one at a time, in order."""
    from edu_core.train import TrainingQueue

    return TrainingQueue(max_workers=1)


@st.cache_resource(show_spinner=False)
def _job_runs() -> dict[str, Any]:
    # job id -> store run id, shared by every session: a reloaded page (a new session) can
    # still close the run of a job that was cancelled before it started.
    return {"lock": threading.Lock(), "runs": {}}


def owner_of(viewer: Any) -> str:
    """The queue owner name of a student id or a teacher session (ids are per data folder)."""
    who = f"student:{viewer}" if isinstance(viewer, int) else f"class:{viewer.class_id}"
    return f"{store().root}|{who}"


def latest_job(viewer: Any) -> Any:
    """The viewer's most recent training job (queued, running or finished), if any."""
    jobs = training_queue().jobs(owner=owner_of(viewer))
    return max(jobs, key=lambda j: j.created) if jobs else None


def _split_faces(
    viewer: Any, ids: tuple[int, ...], *, crops: bool = True
) -> tuple[list[int], list, list[str]]:
    db = store()
    labelled = {r.id: r.label for r in db.list_images(viewer, status="ok", labelled=True)}
    keep = [i for i in ids if i in labelled]
    return keep, db.faces(viewer, keep, crops=crops), [labelled[i] for i in keep]


def start_training(viewer: Any, split: Any, kind: str, cfg: Any) -> Any:
    """Queue a training run on the split's training photos.

    The job itself keeps the model, tests it on the held-back photos and closes the
    store's run record, so a student who closes the tab mid-training still finds the
    model afterwards.
    """
    from dataclasses import asdict

    from edu_core import evaluate, models
    from edu_core.train import TrainingCancelled, choose_device, train

    db = store()
    class_names = db.class_labels(viewer)
    crops = kind != "pieces"
    _, faces, labels = _split_faces(viewer, split.train_ids, crops=crops)
    test_ids, test_faces, test_labels = _split_faces(viewer, split.test_ids, crops=crops)
    own = db.list_models(viewer) if isinstance(viewer, int) else class_models(viewer)
    name = f"{tr('train.model_' + kind)} #{len(own) + 1}"
    run_id = db.start_run(viewer, config={"kind": kind, **asdict(cfg)}, split_id=split.id)
    embeddings = embedding_cache()  # fetched here: the job runs outside the page's script thread

    def work(
        on_epoch_end: Callable[[int, dict[str, float]], None], cancel: threading.Event
    ) -> dict[str, Any]:
        try:
            result = train(
                kind, faces, labels, cfg, class_names=class_names, on_epoch_end=on_epoch_end, cancel=cancel,
                embedding_cache=embeddings,
            )  # fmt: skip
        except TrainingCancelled:
            db.finish_run(viewer, run_id, metrics={"error": "training_cancelled"}, status="cancelled")
            raise
        except Exception as exc:  # recorded in the run, then re-raised for the job to report
            db.finish_run(viewer, run_id, metrics={"error": getattr(exc, "code", "error")}, status="failed")
            raise
        bundle = result.bundle
        model = db.add_model(
            viewer,
            name=name,
            kind=bundle.kind,
            labels=bundle.class_names,
            config=bundle.config,
            file_bytes=models.save_bundle(bundle),
        )
        metrics = (
            evaluate.evaluate_bundle(bundle, test_faces, test_labels, ids=test_ids)
            if test_faces
            else {"n": 0}
        )
        metrics.update(
            history=result.history,
            device=result.device_name,
            seconds=result.seconds,
            best_epoch=result.best_epoch,
            n_train=result.n_train,
            stopped_early=result.stopped_early,
            planned_epochs=result.config.epochs,
            patience=result.config.patience,
        )
        db.finish_run(viewer, run_id, metrics=metrics, model_id=model.id)
        return {"model_id": model.id, "accuracy": metrics.get("accuracy")}

    epochs = cfg.resolved(kind, choose_device(cfg.device)).epochs or 1
    queue = training_queue()
    job = queue.submit_call(work, total_epochs=epochs, owner=owner_of(viewer))
    book = _job_runs()
    with book["lock"]:
        # Only jobs the queue still keeps can be asked about; the rest would pile up for good.
        book["runs"] = {k: v for k, v in book["runs"].items() if queue.get(k) is not None}
        book["runs"][job.id] = run_id
    return job


def job_summary(viewer: Any, job: Any) -> dict[str, Any] | None:
    """How a finished job ended: ``{"state", "accuracy"|"code"}``; None while it runs."""
    if job.state in ("queued", "running"):
        return None
    if job.state == "done":
        return {"state": "done", **(job.result or {})}
    if job.state == "cancelled":
        run_id = _job_runs()["runs"].get(job.id)
        # A job cancelled while still queued never ran, so nothing closed its run yet.
        if run_id is not None and store().run(viewer, run_id).status == "running":
            store().finish_run(viewer, run_id, metrics={"error": "training_cancelled"}, status="cancelled")
        return {"state": "cancelled", "code": "training_cancelled"}
    return {"state": job.state, "code": getattr(job.error, "code", "error")}


@st.fragment(run_every=1.0)
def training_monitor(viewer: Any) -> None:
    """Live view of the viewer's training job: queue place, progress, curves, cancel."""
    from edu_core import charts

    job = latest_job(viewer)
    if job is None:
        return
    state = job.state
    if state in ("queued", "running"):
        if state == "queued":
            # No empty chart while waiting: with a class in the queue, every waiting tab redraws
            # this view each second, and building a plotly figure is the costly part of it.
            place = training_queue().place(job) or 1
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
    from edu_core import charts

    job = latest_job(viewer)
    if job is not None and job.state in ("queued", "running"):
        return
    runs = [r for r in training_runs(viewer) if r.status != "running"]
    if job is not None:
        summary, history = job_summary(viewer, job) or {}, job.history
        # the job's run, closed by the job itself (its metrics say whether it stopped early)
        run_id = _job_runs()["runs"].get(job.id)
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


# --- evaluation and trying the model ------------------------------------------------------------


def bundle(viewer: Any, model_id: int) -> Any:
    """A trained model, loaded once per session (never shared: it belongs to one student)."""
    from edu_core import models

    cache = st.session_state.setdefault("_bundles", {})
    if model_id not in cache:
        cache.clear()  # keep one model in memory per session
        cache[model_id] = models.load_bundle(store().model_bytes(viewer, model_id))
    return cache[model_id]


def run_metrics(viewer: Any, model_id: int) -> dict[str, Any]:
    """The test figures stored when the model was trained (empty if none)."""
    runs = [r for r in store().list_runs(viewer) if r.model_id == model_id and r.status == "done"]
    return runs[-1].metrics if runs else {}


def recall_chart(metrics: dict[str, Any], classes: list[str]) -> None:
    """Per-class share correct with a 95 % interval (few test photos → wide bars)."""
    from edu_core import charts

    per = metrics.get("per_class", {})
    recall = {c: per.get(c, {}).get("recall", 0.0) for c in classes}
    support = {c: per.get(c, {}).get("support", 0) for c in classes}
    low, high = charts.wilson_bounds(recall, support)
    fig = figure(
        charts.recall_bars, recall, low=low, high=high, classes=classes, lang=lang(), renamed=renamed()
    )
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None, key="recall_chart")
    st.caption(tr("eval.interval_note"))


def _cell_from_chart() -> None:
    """A click on the confusion table (a widget callback): that cell becomes the chosen one."""
    event = st.session_state.get("confusion_chart") or {}
    points = (event.get("selection") or {}).get("points") or []
    cell = points[0].get("customdata") if points else None
    if isinstance(cell, list | tuple) and len(cell) == 2:
        st.session_state["confusion_cell"] = (int(cell[0]), int(cell[1]))
        st.session_state["confusion_pick"] = None  # the latest choice wins, chart or list


def _cell_from_pills() -> None:
    st.session_state["confusion_cell"] = st.session_state.get("confusion_pick")


def confusion_explorer(viewer: Any, metrics: dict[str, Any], classes: list[str]) -> None:
    """The confusion table; picking a cell (on the chart or in the list) shows its photos."""
    from edu_core import charts

    matrix, cells = metrics.get("confusion"), metrics.get("confusion_ids")
    if not matrix or not cells:
        return
    fig = charts.confusion_heatmap(matrix, classes=classes, lang=lang(), renamed=renamed())
    charts.add_cell_targets(fig, classes, lang=lang(), renamed=renamed())
    st.plotly_chart(
        fig, width="stretch", config={"displayModeBar": False}, theme=None,
        on_select=_cell_from_chart, selection_mode="points", key="confusion_chart",
    )  # fmt: skip
    options = [(i, j) for i in range(len(classes)) for j in range(len(classes)) if i != j and cells[i][j]]
    if not options:
        st.success(tr("eval.no_confusion"), icon="🎉")
    if st.session_state.get("confusion_pick") not in (None, *options):
        st.session_state["confusion_pick"] = None  # a newer model without that confusion
    st.pills(
        tr("eval.cells"),
        options,
        format_func=lambda ij: tr(
            "eval.cell_option",
            true=class_name(classes[ij[0]]),
            pred=class_name(classes[ij[1]]),
            n=len(cells[ij[0]][ij[1]]),
        ),
        key="confusion_pick",
        on_change=_cell_from_pills,
    )
    chosen = st.session_state.get("confusion_cell")
    if chosen and all(0 <= k < len(classes) for k in chosen):
        i, j = chosen
        ids = set(cells[i][j])
        title = tr("eval.cell_photos", true=class_name(classes[i]), pred=class_name(classes[j]), n=len(ids))
        st.markdown(f"**{title}**")
        face_gallery(
            viewer, [r for r in store().list_images(viewer) if r.id in ids], show_box=False, key="cell"
        )


def results_gallery(viewer: Any, metrics: dict[str, Any], classes: list[str]) -> None:
    """Every test photo marked right (✅) or wrong (❌ with the model's answer)."""
    cells = metrics.get("confusion_ids") or []
    verdict = {pid: (i, j) for i, row in enumerate(cells) for j, ids in enumerate(row) for pid in ids}
    records = [r for r in store().list_images(viewer) if r.id in verdict]
    images, captions = [], []
    for r in sorted(records, key=lambda r: verdict[r.id][0] == verdict[r.id][1]):
        i, j = verdict[r.id]
        images.append(_crop_thumb(viewer, r.id, r.crop_sha))
        captions.append(
            f"✅ {class_name(classes[i])}"
            if i == j
            else f"❌ {class_name(classes[i])} → {class_name(classes[j])}"
        )
    if images:
        st.image(images, caption=captions, width=THUMB_SIDE)


def predict_upload(model: Any, data: bytes) -> Any:
    """Find the face in a new photo and ask the model (one landmarker from the shared pool)."""
    from edu_core.predict import predict_bytes

    with landmarker_pool().acquire() as lm:
        return predict_bytes(model, data, landmarker=lm)


def show_prediction(pred: Any) -> None:
    """The verdict sentence and a probability bar per class (or why the photo cannot be used)."""
    from edu_core import charts
    from edu_core.predict import CANNOT_TELL

    if pred.status != "ok":
        st.warning(
            tr("eval.rejected", message=i18n.reason_message(pred.reason or "no_face", lang())), icon="⚠️"
        )
        return
    if pred.decision == CANNOT_TELL:
        st.warning(tr("eval.cannot_tell", p=pred.top_probability), icon="🤔")
    else:
        st.success(tr("eval.verdict", name=class_name(pred.top), p=pred.top_probability), icon="🎯")
    fig = charts.probability_bars(
        pred.probabilities,
        classes=list(pred.probabilities),
        lang=lang(),
        renamed=renamed(),
        title=tr("eval.probabilities"),
    )
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None, key="try_bars")
    if pred.face is not None and pred.face.crop is not None and pred.face.landmarks is not None:
        st.image(charts.draw_pieces(pred.face.crop, pred.face.landmarks, scale=1), width=256)


@st.cache_resource(show_spinner=False)
def embedding_cache() -> Any:
    """Frozen-backbone embeddings shared by every session (feature vectors keyed by a hash of the
    crop, never the photos): a CNN trained in head mode and the detective's k-fold models embed each
    crop once."""
    from edu_core.train import EmbeddingCache

    return EmbeddingCache()


def _suspects(viewer: Any, model: Any, model_id: int, ids: list[int], faces: list, labels: list[str]) -> list:
    """The detective's ranking, kept for this model and these labels (one relabel recomputes it)."""
    from edu_core import evaluate

    key = (model_id, tuple(ids), tuple(labels))
    cache = st.session_state.setdefault("_detective", {})
    if key not in cache:
        cache.clear()
        with st.spinner(tr("eval.detective_running")):
            cache[key] = evaluate.mislabel_suspects(
                model.kind,
                faces,
                labels,
                ids,
                class_names=list(model.class_names),
                model_config=model.config,
                top=6,
                embedding_cache=embedding_cache(),
            )
    return cache[key]


def detective(viewer: Any, model: Any, split_id: int, classes: list[str], model_id: int = 0) -> None:
    """Training photos whose label a model that never saw them disagrees with: the first to check."""
    from edu_core.train import TrainingDataError

    train_ids = store().get_split(viewer, split_id).train_ids
    ids, faces, labels = _split_faces(viewer, train_ids, crops=model.model.uses_images)
    if not faces:
        return
    st.caption(tr("eval.detective_help"))
    # Only on request: the page's tabs all run on every visit, and the k-fold models (a CNN's
    # embeddings after a restart) would slow down trying the model for everyone.
    if st.session_state.get("_detective_for") != model_id:
        if not st.button(tr("eval.detective_start"), key="detective_start", icon="🔍"):
            return
        st.session_state["_detective_for"] = model_id
    try:
        ranked = _suspects(viewer, model, model_id, ids, faces, labels)
    except (TrainingDataError, ValueError):  # too few photos of a class to leave some out
        st.caption(tr("eval.detective_few"))
        return
    suspects = [s for s in ranked if s["guess"] != s["label"]]
    if not suspects:
        st.caption(tr("eval.detective_none"))
    records = {r.id: r for r in store().list_images(viewer)}
    for s in suspects:
        pic, text, fix = st.columns([1, 4, 2], vertical_alignment="center")
        rec = records[s["id"]]
        pic.image(_crop_thumb(viewer, rec.id, rec.crop_sha), width=100)
        text.markdown(
            tr(
                "eval.detective_row",
                label=class_name(s["label"]),
                pred=class_name(s["guess"]),
                p=s["guess_probability"],
            )
        )
        if isinstance(viewer, int) and fix.button(
            tr("eval.relabel", name=class_name(s["guess"])), key=f"fix_{s['id']}"
        ):
            store().set_label(viewer, s["id"], s["guess"])
            st.toast(tr("common.saved"))


def show_why(model: Any, pred: Any) -> None:
    """Which face parts drove the answer: data pieces (pieces model) or hidden regions (CNN)."""
    from edu_core import charts, explain

    if pred.status != "ok" or pred.top is None:
        return
    top = pred.top
    names = {p: tr(f"piece.{p}") for p in (*explain.PIECES, *explain.REGIONS)}
    st.markdown(f"#### {tr('eval.why')}")
    if model.model.uses_pieces:
        effects = {p: v[top] for p, v in explain.piece_contributions(model, pred.face).effects.items()}
    else:
        result = explain.region_test(model, pred.face)
        effects = {r: v[top] for r, v in result.effects.items()}
        st.caption(tr("eval.why_regions", name=class_name(top)))
        st.image(list(result.masked.values()), caption=[names[r] for r in result.masked], width=160)
    strongest = max(effects, key=effects.__getitem__)
    st.info(tr("eval.why_top", name=class_name(top), piece=names[strongest]), icon="🔎")
    fig = charts.effect_bars(effects, names=names, axis_title=tr("eval.why_effect", name=class_name(top)))
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None, key="why_bars")


# --- teacher ------------------------------------------------------------------------------------


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
        st.session_state[_DOOR_KEY] = _braked(
            lambda: _check_password(password),
            failures=_password_failures(),
            session_key="password_failures",
            tries=(PASSWORD_SESSION_TRIES, PASSWORD_SERVER_TRIES),
            wait_code="password_wait",
            failed=lambda exc: exc.code == "bad_password",
        )
    except EduError as exc:
        st.session_state["teacher_error"] = exc.code
        return
    st.session_state[_MODE_KEY] = "teacher"


def _teacher_in(session: Any) -> None:
    st.session_state["teacher_session"] = session
    st.session_state[_MODE_KEY] = "teacher"  # allowed here: this runs as a widget callback


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
    st.session_state[_MODE_KEY] = "student"


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
        from edu_core.store import SOLO_JOIN_CODE

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


def lan_address() -> str:
    """This computer's IPv4 address on the class network, read from its own interfaces.

    Nothing is connected to or sent: the kernel is asked for each interface's address
    (Linux ``SIOCGIFADDR``); elsewhere the host name is looked up locally. The teacher can
    still correct the address in the text box if the machine has several networks.
    """
    import socket

    try:
        import fcntl
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _, name in socket.if_nameindex():
                if name == "lo":
                    continue
                try:
                    packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))
                except OSError:  # interface without an IPv4 address
                    continue
                address = socket.inet_ntoa(packed[20:24])
                if not address.startswith("127."):
                    return address
    except (ImportError, OSError):
        pass
    if sys.platform.startswith("linux"):
        # The kernel listed every interface and none is on a network: looking the host name
        # up could send a DNS query out, so stay on this computer.
        return "127.0.0.1"
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
    return address


def join_qr(code: str) -> None:
    """The join link for phones and tablets, as text and as a QR code."""
    import segno

    scheme = "https" if st.get_option("server.sslCertFile") else "http"
    default = f"{scheme}://{lan_address()}:{st.get_option('server.port')}"
    base = st.text_input(tr("teacher.address"), value=default, key="join_base")
    link = f"{base.rstrip('/')}/?join={code}"
    st.code(link, language=None)
    st.image(segno.make(link, error="m").svg_data_uri(scale=8, border=2), width=260)
    st.caption(tr("teacher.join_link_help"))


def class_overview(session: Any) -> None:
    """Numbers for the whole class, per-student counts for those who share, who is stuck."""
    from edu_core import charts

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


def _last_test_hits(viewer: Any) -> dict[int, bool] | None:
    """Photo id → right, from the viewer's last finished training that kept its test answers."""
    from edu_core import fairness

    for run in reversed(training_runs(viewer)):
        if run.status == "done" and run.metrics.get("confusion_ids"):
            return fairness.run_hits(run.metrics)
    return None


def fairness_view(rows: list, *, key: str, model: bool) -> None:
    """The keep-rate / accuracy chart per group, its counts in words and what to read in it."""
    from edu_core import charts

    fig = figure(charts.fairness_bars, rows, lang=lang(), title=tr("fair.chart_title"))
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None, key=key)
    for r in rows:
        st.markdown(
            tr(
                "fair.row",
                group=r.group or tr("fair.no_group"),
                passed=r.passed,
                photos=r.photos,
                correct=r.correct,
                tested=r.tested,
            )
        )
    st.caption(tr("fair.note") if model else tr("fair.no_model"))


def class_fairness(session: Any) -> None:
    """Teacher overview: per group, the gate's keep rate over every student's photos (counts only)
    and the class model's accuracy on its test photos (sharing students only)."""
    from edu_core import fairness

    db = store()
    st.subheader(tr("fair.teacher_title"))
    hits = _last_test_hits(session)
    tests = fairness.tested_counts(db.pool(session), hits) if hits else {}
    rows = fairness.group_rows(db.group_gate_counts(session), tests)
    if not fairness.has_groups(rows):
        st.caption(tr("fair.teacher_none"))
        return
    st.caption(tr("fair.teacher_intro"))
    fairness_view(rows, key="class_fairness", model=hits is not None)


def lab_fairness(sid: int) -> None:
    """Lab section: the student's own photos per group (the gate, and their last model's test)."""
    from edu_core import fairness

    st.subheader(tr("fair.title"))
    hits = _last_test_hits(sid)
    rows = fairness.group_table(store().list_images(sid), hits)
    if not fairness.has_groups(rows):
        st.info(tr("fair.lab_no_tags"), icon="🏷️")
        return
    st.caption(tr("fair.lab_intro"))
    fairness_view(rows, key="lab_fairness", model=hits is not None)


def model_zip(viewer: Any, model_id: int) -> bytes:
    """A model as a zip: the checkpoint plus a small JSON card (name, classes, test figures)."""
    import io
    import json
    import zipfile

    db = store()
    record = db.model(viewer, model_id)
    card = {
        "name": record.name,
        "kind": record.kind,
        "classes": list(record.labels),
        "metrics": run_metrics(viewer, model_id),
    }
    card["metrics"] = {k: v for k, v in card["metrics"].items() if k not in ("confusion_ids", "history")}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.pt", db.model_bytes(viewer, model_id))
        zf.writestr("model.json", json.dumps(card, ensure_ascii=False, indent=1))
    return buf.getvalue()


def import_upload(session: Any, name: str, data: bytes) -> str | None:
    """A teacher's zip: a model (``model.pt`` inside) or a data set for the class pool.

    Returns the sentence saying what was imported (None when nothing was, after saying why):
    the page shows it after rerunning, so every count on the page already includes the import.
    """
    import io
    import zipfile

    from edu_core import dataset, faces, models

    db = store()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            model_bytes = zf.read("model.pt") if "model.pt" in zf.namelist() else None
    except zipfile.BadZipFile:
        model_bytes = data if name.endswith(".pt") else None
        if model_bytes is None:
            show_error("bad_archive")
            return None
    if model_bytes is not None:
        bundle = models.load_bundle(model_bytes)
        rec = db.add_model(
            session, name=Path(name).stem, kind=bundle.kind, labels=bundle.class_names, file_bytes=model_bytes
        )
        return tr("teacher.import_model_done", name=rec.name)
    # Imported photos live in a workspace of their own that shares with the class pool.
    holder = st.session_state.get("import_holder")
    if holder is None or db.student(holder).class_id != session.class_id:
        holder = db.join(session.class_id, tr("teacher.imported_name")).id
        db.set_pool_consent(holder, True)
        st.session_state["import_holder"] = holder

    def extractor(blobs: Any, progress: Any = None) -> list:
        return faces.extract_many(
            list(blobs), workers=EXTRACT_WORKERS, pool=landmarker_pool(), progress=progress
        )

    report = run_with_progress(
        lambda progress: dataset.import_zip(db, holder, data, extractor=extractor, progress=progress),
        text_key="collect.progress",
    )
    return tr("teacher.import_done", n=len(report.image_ids), skipped=len(report.skipped))


# --- Korean seven-class page --------------------------------------------------------------------

#: Share of the demo's progress bar each stage of build_demo_pipeline fills (training is slowest).
K7_DEMO_STAGES: dict[str, tuple[float, float]] = {
    "generate": (0.0, 0.15),
    "prepare": (0.15, 0.45),
    "train": (0.45, 1.0),
}


def korean7_dir() -> Path:
    """The data-folder corner of the seven-class page: uploads, demo runs and the class's choice."""
    from edu_core.store import default_root

    return default_root() / "korean7"


def _k7_names() -> dict[str, str] | None:
    # The data set says 분노/중립 where the lesson says 화남/무표정; charts take it as a renaming.
    from edu_core.labels import KOREAN7_NAMES

    return dict(KOREAN7_NAMES) if lang() == "ko" else None


def _k7_name(class_id: str) -> str:
    return (_k7_names() or {}).get(class_id) or class_name(class_id)


def _k7_chart(fig: Any, key: str) -> None:
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None, key=key)


def korean7_current() -> Path | None:
    """The checkpoint the class uses now: the last one loaded on this server, else the newest saved."""
    import json

    marker = korean7_dir() / "current.json"
    if marker.is_file():
        chosen = json.loads(marker.read_text(encoding="utf-8")).get("path")
        if chosen and Path(chosen).is_file():
            return Path(chosen)
    saved = sorted(korean7_dir().rglob("best.pt"), key=lambda p: p.stat().st_mtime, reverse=True)
    return saved[0] if saved else None


def korean7_use(path: str | Path) -> Any:
    """Load a checkpoint (``ModelFileError`` if it is not one) and make it the class's current model."""
    import json
    import os
    import tempfile

    from edu_core import korean7

    path = Path(path).expanduser().resolve()
    model = korean7.load_model(path)
    folder = korean7_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"path": str(path)}, fh, ensure_ascii=False)
    os.replace(tmp, folder / "current.json")  # atomic: a reader never sees half a file
    st.session_state["_k7_model"] = ((str(path), path.stat().st_mtime_ns), model)
    return model


def korean7_model() -> Any:
    """The class's current seven-class model, loaded once per session (None when there is none)."""
    from edu_core import korean7

    path = korean7_current()
    if path is None:
        return None
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    cached = st.session_state.get("_k7_model")
    if cached is None or cached[0] != key:
        st.session_state["_k7_model"] = (key, korean7.load_model(path))
    return st.session_state["_k7_model"][1]


def korean7_load_path(text: str) -> None:
    """Teacher: use a checkpoint that already sits on the server (e.g. ``runs/resnet18/best.pt``)."""
    path = Path(text).expanduser()
    if not path.is_file():
        st.error(tr("k7.path_missing"), icon="⚠️")
        return
    try:
        korean7_use(path)
    except EduError as exc:
        show_error(exc)
        return
    st.success(tr("k7.loaded", name=str(path)), icon="📦")


def korean7_load_upload(files: list) -> None:
    """Teacher: keep an uploaded checkpoint (and its metrics.json) in the data folder, then use it."""
    import hashlib
    import json

    pts = [f for f in files if f.name.lower().endswith(".pt")]
    if len(pts) != 1:
        st.warning(tr("k7.upload_need_pt"), icon="📦")
        return
    data = pts[0].getvalue()
    folder = korean7_dir() / "uploads" / hashlib.sha256(data).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "best.pt").write_bytes(data)
    for meta in (f for f in files if f.name.lower().endswith(".json")):
        try:
            parsed = json.loads(meta.getvalue().decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            parsed = None
        if isinstance(parsed, dict) and "accuracy" in parsed and "confusion" in parsed:
            (folder / "metrics.json").write_text(json.dumps(parsed, ensure_ascii=False), encoding="utf-8")
        else:
            st.warning(tr("k7.bad_metrics"), icon="📄")
    try:
        korean7_use(folder / "best.pt")
    except EduError as exc:
        show_error(exc)
        return
    st.success(tr("k7.loaded", name=pts[0].name), icon="📦")


@st.cache_resource(show_spinner=False)
def _korean7_demo_lock() -> threading.Lock:
    # One demo build per server: two at once would fight over the CPU and the same folders.
    return threading.Lock()


def korean7_build_demo(settings: dict[str, Any]) -> None:
    """Teacher: run ``korean7.build_demo_pipeline`` with a progress bar, then use its model.

    ``settings`` are build_demo_pipeline keyword arguments; each combination gets its own
    folder, so pressing the button again with the same settings resumes or reuses that run.
    """
    from edu_core import korean7

    lock = _korean7_demo_lock()
    if not lock.acquire(blocking=False):
        st.info(tr("k7.demo_busy"), icon="⏳")
        return
    name = "-".join(f"{k}{settings[k]}" for k in sorted(settings))
    workdir = korean7_dir() / "demo" / re.sub(r"[^A-Za-z0-9_.-]", "_", name)

    def work(report: Callable[[int, int], None]) -> Any:
        def on_stage(stage: str, frac: float) -> None:
            lo, hi = K7_DEMO_STAGES.get(stage, (0.0, 1.0))
            report(int(100 * (lo + (hi - lo) * min(max(frac, 0.0), 1.0))), 100)

        return korean7.build_demo_pipeline(workdir, progress=on_stage, **settings)

    start = time.monotonic()
    try:
        result = run_with_progress(work, text_key="k7.demo_progress", total=100)
        korean7_use(result.checkpoint)
    except EduError as exc:
        show_error(exc)
        return
    finally:
        lock.release()
    st.success(tr("k7.demo_done", seconds=round(time.monotonic() - start)), icon="🧪")


def korean7_intro_model() -> None:
    """What the loaded seven-class model really learned from (nothing, the synthetic demo, real photos)."""
    try:
        model = korean7_model()
    except EduError:
        return  # the page explains an unreadable model below
    if model is None:
        st.caption(tr("k7.intro_none"))
    elif model.synthetic:
        st.caption(tr("k7.intro_synthetic"))
    else:
        st.caption(tr("k7.intro_real"))


def korean7_synthetic_label() -> None:
    """The badge and sentence that go next to every number from the synthetic demo set."""
    st.badge(tr("k7.synthetic_badge"), icon="🧪", color="orange")
    st.caption(tr("k7.synthetic_note"))


def _k7_paper_rows(model: Any, info: dict[str, Any]) -> list[dict[str, str]]:
    import json

    from edu_core import korean7

    ours: dict[str, float] = {}
    if info.get("accuracy") is not None:
        ours["resize" if info.get("cache_mode") == "resize" else "face_crop"] = float(info["accuracy"])
    # `korean7 compare` trains model_face_crop/ and model_resize/ side by side: show both.
    folder = Path(model.path).parent
    if folder.name in ("model_face_crop", "model_resize"):
        for mode in ("face_crop", "resize"):
            sibling = folder.with_name(f"model_{mode}") / "metrics.json"
            if mode not in ours and sibling.is_file():
                acc = json.loads(sibling.read_text(encoding="utf-8")).get("accuracy")
                if acc is not None:
                    ours[mode] = float(acc)
    rows = []
    for prep in (*korean7.PAPER_RESULTS, "face_crop"):
        row = {tr("k7.col.preprocessing"): tr(f"k7.prep.{prep}")}
        for net in ("VGG19", "ResNet18", "K-EmotionNet"):
            value = korean7.PAPER_RESULTS.get(prep, {}).get(net)
            row[net] = f"{value:.1f} %" if value is not None else "–"
        row[tr("k7.col.ours")] = f"{100 * ours[prep]:.1f} %" if prep in ours else "–"
        rows.append(row)
    return rows


def korean7_report(model: Any) -> None:
    """Accuracy, per-class accuracy, the confusion matrix and the paper's table for one checkpoint."""
    import numpy as np

    from edu_core import charts, korean7

    info = korean7.model_report(model)
    classes = list(info.get("classes") or model.classes)
    names = _k7_names()
    if info.get("synthetic"):
        korean7_synthetic_label()
    st.caption(
        tr(
            "k7.model_caption",
            arch=info.get("arch", model.arch),
            mode=tr(f"k7.mode.{'resize' if info.get('cache_mode') == 'resize' else 'crop'}"),
            split=tr(f"k7.split.{'val' if info.get('split') == 'val' else 'test'}"),
            n=info.get("n", 0),
        )
    )
    acc = info.get("accuracy")
    st.metric(tr("k7.accuracy"), f"{acc:.1%}" if acc is not None else "–", help=tr("k7.chance"))
    if acc is not None:
        chance = 1 / len(classes)
        key = "k7.vs_chance_above" if acc > chance else "k7.vs_chance_below"
        st.caption(tr(key, acc=acc, chance=chance, times=acc / chance))
    recall = {c: float(v) for c, v in (info.get("per_class_accuracy") or {}).items() if v is not None}
    if recall:
        st.subheader(tr("k7.per_class"))
        support = {c: int((info.get("support") or {}).get(c, 0)) for c in recall}
        low, high = charts.wilson_bounds(recall, support)
        fig = charts.recall_bars(recall, low=low, high=high, classes=list(recall), lang=lang(), renamed=names)
        _k7_chart(fig, "k7_recall")
    if info.get("confusion"):
        st.subheader(tr("k7.confusion"))
        # the bars above list the classes in charts.ordered_classes order: the table follows it
        order = charts.ordered_classes(classes)
        perm = [classes.index(c) for c in order]
        matrix = np.asarray(info["confusion"])[np.ix_(perm, perm)]
        classes = order
        fig = charts.confusion_heatmap(matrix, classes=classes, lang=lang(), renamed=names)
        _k7_chart(fig, "k7_cm")
        off = matrix * (1 - np.eye(len(classes), dtype=matrix.dtype))
        if off.max() > 0:
            i, j = np.unravel_index(int(off.argmax()), off.shape)
            pair = {"true": _k7_name(classes[i]), "pred": _k7_name(classes[j])}
            st.markdown(tr("k7.most_confused", n=int(off[i, j]), **pair))
        st.info(tr("k7.paper_confusion"), icon="📄")
    st.subheader(tr("k7.paper_title"))
    st.dataframe(_k7_paper_rows(model, info), hide_index=True, width="stretch")
    st.caption(tr("k7.paper_caption"))


def korean7_show_prediction(model: Any, data: bytes) -> None:
    """Seven probability bars for one photo (or the reason the photo cannot be used)."""
    from edu_core import charts, korean7
    from edu_core.predict import DEFAULT_THRESHOLD

    with landmarker_pool().acquire() as lm:
        pred = korean7.predict_bytes(model, data, landmarker=lm)
    if pred.status != "ok":
        st.warning(tr("k7.rejected", message=i18n.reason_message(pred.reason or "no_face", lang())), icon="⚠️")
        return
    p = pred.probabilities[pred.label]
    if p < DEFAULT_THRESHOLD:  # the five-class answer's rule: below it, say so instead of guessing
        st.warning(tr("eval.cannot_tell", p=p), icon="🤔")
    else:
        st.success(tr("k7.verdict", name=_k7_name(pred.label), p=p), icon="🎯")
    fig = charts.probability_bars(
        pred.probabilities, classes=list(pred.probabilities), lang=lang(), renamed=_k7_names(),
        title=tr("eval.probabilities"),
    )  # fmt: skip
    _k7_chart(fig, "k7_bars")
    if model.synthetic:
        korean7_synthetic_label()
    if pred.crop is not None:
        st.image(pred.crop, caption=tr("k7.crop_caption"), width=160)


def five_class_try(data: bytes) -> None:
    """The viewer's newest five-expression model (student's own, or the class's for a teacher) on a photo."""
    viewer = teacher_session() or student_id()
    if viewer is None:
        records = []
    else:  # a teacher compares with the class's own model, not a student's
        records = store().list_models(viewer) if isinstance(viewer, int) else class_models(viewer)
    if not records:
        st.info(tr("k7.five_none"), icon="🏋️")
        return
    try:
        model = bundle(viewer, records[-1].id)
    except EduError as exc:
        show_error(exc)
        return
    show_prediction(predict_upload(model, data))


# --- experiment lab page (views/lab.py) ---------------------------------------------------------


def _fixed_class_name() -> Callable[[str], str]:
    """``class_name`` bound to this run's language: widgets call format functions outside the run."""
    # Never cached: the language and a class's renamings belong to one session, not the server.
    lg, names = lang(), renamed()
    return lambda class_id: i18n.class_name(class_id, lg, renamed=names)


@st.cache_resource(show_spinner=False)
def lab_sample_data() -> ex.LabData:
    """The committed sample faces, shared by every session (they are nobody's photos).

    Loaded once per server: the 400 sample faces took seconds on every rerun of the lab page.
    The data is never modified (experiments draw copies of its tuples).
    """
    from edu_core.dataset import SAMPLE_DIR

    return ex.load_folder(SAMPLE_DIR)


@st.cache_resource(show_spinner=False)
def lab_embed_seconds() -> float:
    """How fast this machine runs the CNN (a property of the server, so shared)."""
    return ex.measure_embed_seconds()


def lab_my_data(sid: int) -> ex.LabData:
    """The student's own labelled faces, reloaded only when their photos or labels change."""
    records = store().list_images(sid, labelled=True)
    stamp = hash(tuple((r.id, r.label, r.status, r.person, r.group) for r in records))
    if st.session_state.get("lab_mine_stamp") != stamp:
        st.session_state["lab_mine_data"] = ex.load_store(store(), sid)
        st.session_state["lab_mine_stamp"] = stamp
    return st.session_state["lab_mine_data"]


def lab_options(kind: str, classes: list[str], data_groups: list[str]) -> dict:
    """The few settings a student may change for each experiment."""
    cols = st.columns(3)
    if kind == "size":
        pair = cols[0].toggle(tr("lab.pair_only"), key="lab_pair")
        small = cols[1].number_input(tr("lab.small"), 2, 60, 20, key="lab_small")
        large = cols[2].number_input(tr("lab.large"), 2, 60, 60, key="lab_large")
        return {"sizes": (int(small), int(large)), "classes": ("joy", "anger") if pair else ()}
    if kind == "imbalance":
        many = cols[0].number_input(tr("lab.count_of", name=class_name("joy")), 2, 60, 40, key="lab_many")
        few = cols[1].number_input(tr("lab.count_of", name=class_name("sadness")), 1, 60, 20, key="lab_few")
        every = cols[2].toggle(tr("lab.all_classes"), value=True, key="lab_all")
        others = [(c, int(many)) for c in classes if c not in ("joy", "sadness")] if every else []
        return {"counts": (("joy", int(many)), ("sadness", int(few)), *others)}
    if kind == "mislabel":
        src = cols[0].selectbox(
            tr("lab.mislabel_class"),
            classes,
            index=classes.index("anger") if "anger" in classes else 0,
            format_func=_fixed_class_name(),
            key="lab_src",
        )
        return {"mislabel_class": src}
    if kind == "groups":
        groups = data_groups or ["adult", "child"]
        base = cols[0].selectbox(
            tr("lab.train_group"),
            groups,
            index=groups.index("adult") if "adult" in groups else 0,
            format_func=ex.group_label(lang()),
            key="lab_group",
        )
        rest = [g for g in groups if g != base] or groups
        added = cols[1].selectbox(
            tr("lab.add_group"),
            rest,
            index=rest.index("child") if "child" in rest else 0,
            format_func=ex.group_label(lang()),
            key="lab_add_group",
        )
        return {"train_groups": (base,), "add_groups": (added,)}
    return {}


#: Fewest training photos per class worth a size comparison (half of it for the small side).
LAB_MIN_PER_CLASS = 4


def _lab_use_sizes(small: int, large: int) -> None:
    st.session_state["lab_small"], st.session_state["lab_large"] = small, large


def lab_size_check(cfg: ex.ExperimentConfig, data: ex.LabData) -> bool:
    """Say which classes lack photos for the chosen sizes and offer sizes the photos allow.

    Without this, a class with 11 photos trained both "20" and "60" on the same photos.
    Returns whether the experiment can run as set.
    """
    short = ex.shortfall(cfg, data)
    if not short:
        return True
    items = " · ".join(
        tr("lab.short_item", name=class_name(c), have=have, need=need) for c, (need, have) in short.items()
    )
    st.warning(tr("lab.short", items=items), icon="📉")
    most = ex.most_per_class(cfg, data)
    if cfg.experiment != "size":
        return False
    if most < LAB_MIN_PER_CLASS:
        st.info(tr("lab.short_none", min=LAB_MIN_PER_CLASS), icon="📸")
        return False
    large = min(most, 60)  # the size inputs stop at 60
    small = large // 2
    st.caption(tr("lab.short_offer", small=small, large=large))
    st.button(
        tr("lab.short_use", small=small, large=large),
        on_click=_lab_use_sizes,
        args=(small, large),
        icon="↔️",
        key="lab_use_sizes",
    )
    return False


def lab_probe_picker(cfg: ex.ExperimentConfig, data: ex.LabData) -> ex.Example | str:
    """The photo every model is asked about: a test photo, or the student's own (upload or camera).

    The first choice, ``"auto"``, lets the run pick the test photo where the two compared
    models differ most: a photo picked by hand often gets the same bars from both.
    """
    tests: list[ex.Example | str] = ["auto", *sorted(data.test, key=lambda e: e.id)]
    name = _fixed_class_name()
    auto_word = tr("lab.probe_auto")
    probe = st.selectbox(
        tr("lab.probe"),
        tests,
        index=0,
        format_func=lambda e: auto_word if e == "auto" else f"{name(e.label)} · {e.id.split('/')[-1]}",
        key=f"lab_probe_{cfg.experiment}",
    )
    up_col, cam_col = st.columns(2)
    own = up_col.file_uploader(
        tr("lab.probe_upload"), type=["jpg", "jpeg", "png", "webp", "heic"], key="lab_upload"
    )
    if cam_col.toggle(tr("lab.probe_camera"), key="lab_cam_on"):  # the camera starts only when asked
        own = cam_col.camera_input(tr("lab.probe_camera"), key="lab_camera") or own
    if own is not None:
        probe = ex.Example(f"upload:{own.name}", "", face=_lab_own_face(own))
    if isinstance(probe, ex.Example):
        st.image(probe.face.crop, width=160)
    return probe


@st.cache_resource(show_spinner=False, max_entries=64)
def _lab_ranked_pairs(fingerprint: str, _data: ex.LabData) -> list:
    """Pairs ranked by how often a model mixes them up, once per data set (keyed by its fingerprint)."""
    return ex.rank_pairs(_data, model="pieces")


def lab_pair_choice(data: ex.LabData) -> dict:
    """The easiest and the hardest pair *in these photos*, named on the page, as the pairs to compare.

    Which pair is hard depends on whose faces they are (on real photos it is rarely the one a
    textbook names), so the lab asks the data: a model of every class is trained a few times
    and the pair it mixes up most is the hard one.
    """
    ranked = _lab_ranked_pairs(data.fingerprint, data)
    if len(ranked) < 2:
        return {}
    (hard, hard_mix), (easy, easy_mix) = ranked[0], ranked[-1]
    st.caption(
        tr(
            "lab.pairs_found",
            hard=f"{class_name(hard[0])}–{class_name(hard[1])}",
            hard_pct=round(100 * hard_mix),
            easy=f"{class_name(easy[0])}–{class_name(easy[1])}",
            easy_pct=round(100 * easy_mix),
        )
    )
    return {"pairs": (easy, hard)}


def _lab_compared_value(result: ex.ExperimentResult, v: ex.VariantResult) -> tuple[float, float, str]:
    """The figure the lesson watches in a variant (mean, sd) and its key in the words."""
    if result.config.experiment in ("imbalance", "mislabel"):
        focus = _lab_focus(result)
        m = v.recall()[focus]
        return m["mean"], m["sd"], "recall"
    if result.config.experiment == "groups":
        added = result.config.add_groups[0]
        m = v.group_accuracy().get(added, v.accuracy())
        return m["mean"], m["sd"], "group"
    m = v.accuracy()
    return m["mean"], m["sd"], "accuracy"


def _lab_focus(result: ex.ExperimentResult) -> str:
    cfg = result.config
    if cfg.experiment == "imbalance":
        counts = dict(cfg.counts)
        return min(result.variants[0].variant.classes, key=lambda c: counts.get(c, 0))
    return cfg.mislabel_class


def lab_effect_text(result: ex.ExperimentResult) -> None:
    """What the class should see, in one sentence, and honestly so when the difference is small.

    The difference counts as clear when it is bigger than the seeds' spread (two sds of the
    noisier side) and at least 3 points; otherwise the page says it is small on these photos.
    """
    if len(result.variants) < 2:
        return
    good_i, bad_i = ex.compared(result.config, result.variants)
    good, bad = result.variants[good_i], result.variants[bad_i]
    g, g_sd, what = _lab_compared_value(result, good)
    b, b_sd, _ = _lab_compared_value(result, bad)
    diff = 100 * (g - b)
    noise = 100 * 2 * max(g_sd, b_sd)
    if what == "recall":
        named = class_name(_lab_focus(result))
    else:
        named = ex.group_label(lang())(result.config.add_groups[0]) if what == "group" else ""
    words = {
        "good": ex.variant_label(good.variant, lang()),
        "bad": ex.variant_label(bad.variant, lang()),
        "good_pct": round(100 * g),
        "bad_pct": round(100 * b),
        "diff": round(abs(diff)),
        "what": tr(f"lab.effect_what.{what}", name=named),
    }
    if diff >= 3 and diff > noise:
        st.success(tr("lab.effect.clear", **words), icon="🔎")
    elif diff <= -3 and -diff > noise:
        st.warning(tr("lab.effect.reverse", **words), icon="🔎")
    else:
        st.info(tr("lab.effect.small", **words), icon="🔎")


def lab_probe_compare(result: ex.ExperimentResult, crop: Any = None) -> None:
    """The probe photo's bars from the two compared models side by side, with the photo itself.

    In the imbalance experiment this is a photo of the scarce class, from the balanced and the
    imbalanced model; for size and wrong labels, the photo where the two differ most.
    """
    from edu_core import charts

    if len(result.variants) < 2:
        return
    good_i, bad_i = ex.probe_compared(result.config, result.variants)
    if result.variants[good_i].probe() is None or result.variants[bad_i].probe() is None:
        return
    st.markdown(f"#### {tr('lab.probe_compare')}")
    cols = st.columns([1, 2, 2]) if crop is not None else st.columns(2)
    if crop is not None:
        cols[0].image(crop, width=140)
        cols = cols[1:]
    png = {"toImageButtonOptions": {"format": "png", "scale": 2, "filename": "lab_probe"}}
    for col, i in zip(cols, (bad_i, good_i), strict=True):
        v = result.variants[i]
        probs = {c: m["mean"] for c, m in v.probe().items()}
        with col:
            st.caption(ex.variant_label(v.variant, lang()))
            bars = charts.probability_bars(
                probs, lang=lang(), classes=v.variant.classes, renamed=renamed(), decimals=0
            )
            st.plotly_chart(bars, config=png, key=f"lab_cmp_{v.variant.key}")
            if max(probs.values()) < 0.5:
                st.caption(tr("lab.cannot_tell"))


def _lab_own_face(photo: Any) -> Any:
    """The face in the student's own probe photo, found once per photo."""
    from edu_core.faces import extract

    if st.session_state.get("lab_own_id") != photo.file_id:
        with landmarker_pool().acquire() as lm:
            face = extract(photo.getvalue(), landmarker=lm)
        if not face.ok:
            raise EduError(face.reason or "no_face")
        st.session_state["lab_own_id"], st.session_state["lab_own_face"] = photo.file_id, face
    return st.session_state["lab_own_face"]


def lab_pick_past() -> None:
    if st.session_state.get("lab_past") is not None:
        st.session_state["lab_result"] = st.session_state["lab_past"][1]


def _mean_count(value: float) -> str:
    """A mean number of photos: whole numbers without a decimal ("6", not "6.0"), else one ("3.6")."""
    return str(round(value)) if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def _lab_variant_panel(v: ex.VariantResult, png: dict) -> None:
    """One variant: its name, the probe photo's probabilities and the confusion matrix."""
    import numpy as np

    from edu_core import charts

    st.markdown(f"#### {ex.variant_label(v.variant, lang())}")
    st.caption(tr("lab.n_train", n=round(v.n_train())))
    if v.detective():
        found = v.detective()
        st.caption(
            tr(
                "lab.detective",
                found=_mean_count(found["found"]),
                planted=_mean_count(found["planted"]),
                runs=len(v.runs),
            )
        )
    if v.probe() is not None:
        probs = {c: m["mean"] for c, m in v.probe().items()}
        st.caption(tr("lab.probe_chart"))
        bars = charts.probability_bars(
            probs, lang=lang(), classes=v.variant.classes, renamed=renamed(), decimals=0
        )
        st.plotly_chart(bars, config=png, key=f"lab_probe_{v.variant.key}")
    st.caption(tr("lab.confusion"))
    matrix = charts.confusion_heatmap(
        np.rint(v.confusion()), classes=v.variant.classes, lang=lang(), renamed=renamed()
    )
    st.plotly_chart(matrix, config=png, key=f"lab_cm_{v.variant.key}")


def lab_show(result: ex.ExperimentResult, probe_crop: Any = None) -> None:
    """What the class should see, accuracy and recall with error bars, the compared probe bars,
    then each variant's probe bars and confusion matrix."""
    s = result.summary()
    # each variant is scored on the test photos of its own classes (a pair: two classes' worth)
    used = sorted({v["n_test"] for v in s["variants"]})
    st.subheader(
        tr(
            "lab.summary",
            experiment=tr(f"lab.exp.{s['experiment']}"),
            model=tr(f"lab.model_name.{s['model']}"),
            repeats=s["repeats"],
            n_test=str(used[0]) if len(used) == 1 else f"{used[0]}–{used[-1]}",
            seconds=round(s["seconds"], 1),
        )
    )
    lab_effect_text(result)
    png = {"toImageButtonOptions": {"format": "png", "scale": 2, "filename": f"lab_{s['experiment']}"}}
    st.plotly_chart(ex.accuracy_figure(result, lang()), config=png, key="lab_acc")
    st.plotly_chart(ex.recall_figure(result, lang()), config=png, key="lab_rec")
    if result.config.experiment == "groups":
        st.plotly_chart(ex.groups_figure(result, lang()), config=png, key="lab_groups")
    lab_probe_compare(result, probe_crop)
    # Three panels a row only for exactly three variants: with five, rows of three squeezed the
    # confusion tables until their labels were cut off.
    per_row = 3 if len(result.variants) == 3 else min(2, len(result.variants))
    for start in range(0, len(result.variants), per_row):
        for col, v in zip(st.columns(per_row), result.variants[start : start + per_row], strict=False):
            with col:
                _lab_variant_panel(v, png)
    d1, d2 = st.columns(2)
    d1.download_button(
        tr("lab.download_csv"),
        ex.result_csv(result),
        f"lab_{s['experiment']}.csv",
        "text/csv",
        icon="📄",
        key="lab_csv",
    )
    d2.download_button(
        tr("lab.download_png"),
        lambda: ex.result_png(result, lang()),
        f"lab_{s['experiment']}.png",
        "image/png",
        icon="🖼️",
        key="lab_png",
    )
