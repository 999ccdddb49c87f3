"""Language, messages and the progress bar every page uses (no store, no server-wide state)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import streamlit as st

from edu_core import i18n
from edu_core.errors import EduError
from edu_core.labels import KOREAN_NAMES
from edu_core.priority import background_thread
from edu_core.progress import ProgressState

T = TypeVar("T")
LANG_KEY = "lang"
MODE_KEY = "mode"
MODES = ("student", "teacher")


def lang() -> str:
    """The session's language (Korean unless the student switched)."""
    value = st.session_state.get(LANG_KEY, i18n.DEFAULT_LANG)
    return value if value in i18n.LANGUAGES else i18n.DEFAULT_LANG


def tr(key: str, **fmt: object) -> str:
    """``i18n.t`` in the session's language."""
    return i18n.t(key, lang(), **fmt)


def class_name(class_id: str) -> str:
    """A class id's display name in the session's language (a teacher's renaming wins)."""
    return i18n.class_name(class_id, lang(), renamed=renamed())


def renamed() -> dict[str, str]:
    """Class display names the teacher changed (Korean defaults are not renames)."""
    names = st.session_state.get("display_names") or {}
    return {c: n for c, n in names.items() if n and n != KOREAN_NAMES.get(c)}


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
