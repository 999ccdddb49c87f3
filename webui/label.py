"""Label page widgets: the label grid, person and group taggers, balance and history, renaming."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import streamlit as st

from edu_core import dataset, i18n
from edu_core.errors import EduError
from edu_core.store import normalize_group
from webui.common import class_name, lang, show_error, tr
from webui.photos import GALLERY_PAGE, crop_thumb, group_choice
from webui.resources import store

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
                st.image(crop_thumb(sid, r.id, r.crop_sha), width="stretch")
                if r.label != target and st.button(
                    f"→ {label_display(target)}", key=f"{key}_{r.id}", width="stretch"
                ):
                    store().set_label(sid, r.id, target)
                    st.rerun()


def _tag_photos(records: list, shown: list, *, key: str, field: str, blank: str) -> list[int]:
    """Counts of each tag over all photos, then a pick of the shown photos to tag (their ids)."""
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
    st.caption(tr("label.group_intro"))
    picked = _tag_photos(records, shown, key=key, field="group", blank=tr("fair.no_group"))
    if not shown:
        return
    name = group_choice(sid, tr("label.group_name"), key=f"{key}_name")
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
