"""One browser session: language, mode, who is signed in (``?s=`` resume), lessons, sidebar.

The app's own words go onto Streamlit's file uploader and camera here too, and a page runs
inside :func:`run_page` so that an unexpected store error still ends as one sentence.
"""

from __future__ import annotations

import json
import re
from typing import Any

import streamlit as st
from streamlit import config

from edu_core import brake, i18n
from edu_core.errors import EduError
from edu_core.store import SOLO_JOIN_CODE
from webui.common import LANG_KEY, MODE_KEY, MODES, lang, show_error, tr
from webui.resources import _resume_failures, device_info, store

_SWAP = "font-size: 0 !important;"  # hides Streamlit's own text; ::before/::after bring ours back
_OWN = "font-size: 1rem; content: "


def widget_text_css(lg: str) -> str:
    """CSS that puts the app's words on Streamlit's file uploader and camera, in ``lg``.

    Streamlit 1.67 hard-codes "Upload", "25MB per file", "Take Photo", "Clear photo" and the
    camera permission prompt in English and offers no parameter for them, so a Korean class saw
    English there. The selectors are Streamlit's own test ids (pinned version); the file type
    list after the size limit is dropped, the uploader's label already says what to upload.
    """

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


def bootstrap() -> None:
    """Initialise this browser session once: language and mode defaults, URL options.

    ``?lang=en`` opens the app in English (handy for a projector link), ``?mode=teacher`` with
    the teacher switch on; the sidebar keeps both in the address, so a reload keeps them.
    """
    if "booted" not in st.session_state:
        st.session_state["booted"] = True
        requested = st.query_params.get(LANG_KEY)
        st.session_state.setdefault(LANG_KEY, requested if requested in i18n.LANGUAGES else i18n.DEFAULT_LANG)
        mode = st.query_params.get(MODE_KEY)
        st.session_state.setdefault(MODE_KEY, mode if mode in MODES else MODES[0])
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
            key=LANG_KEY,
            selection_mode="single",
            required=True,  # a click on the chosen language must not leave none chosen
        )
        st.radio(
            tr("sidebar.mode"),
            options=list(MODES),
            # Fixed bilingual labels: a label that changes with the language would reset the widget.
            format_func=lambda m: f"{i18n.t(f'mode.{m}', 'ko')} · {i18n.t(f'mode.{m}', 'en')}",
            key=MODE_KEY,
            horizontal=True,
        )
        _keep_in_address(LANG_KEY, lang(), i18n.DEFAULT_LANG)
        _keep_in_address(MODE_KEY, st.session_state.get(MODE_KEY) or MODES[0], MODES[0])
        if st.session_state.get(MODE_KEY) == "teacher":
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


def resume_student(code: str) -> Any:
    """``store().resume(code)`` with a brake on guessing other students' codes.

    After RESUME_SESSION_TRIES wrong codes in this session, or RESUME_SERVER_TRIES on the
    whole server, within RESUME_WINDOW_S, every code (even a right one) is refused with
    ``resume_wait`` until the window has passed.
    """
    return brake.braked(
        lambda: store().resume(code),
        server=_resume_failures(),
        session=st.session_state.setdefault("resume_failures", []),
        tries=(RESUME_SESSION_TRIES, RESUME_SERVER_TRIES),
        wait_code="resume_wait",
        failed=lambda exc: exc.code == "not_found",
        window_s=RESUME_WINDOW_S,
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


def teacher_session() -> Any:
    """The verified teacher session of this browser, when teacher mode is on.

    Only the teacher page hands out sessions, behind the server's teacher password and the
    class PIN; one that was logged out elsewhere, expired or ended by a password reset is dropped.
    """
    session = st.session_state.get("teacher_session")
    if session is None or st.session_state.get(MODE_KEY) != "teacher":
        return None
    if not store().session_alive(session):
        st.session_state.pop("teacher_session", None)
        return None
    return session


def is_teacher() -> bool:
    """Whether this session unlocked teacher mode."""
    return teacher_session() is not None
