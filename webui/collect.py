"""Collect page widgets: upload, camera and samples into the store; accepted, rejected and pieces views."""

from __future__ import annotations

from typing import Any

import streamlit as st

from edu_core import charts, i18n, ingest, kept
from edu_core.errors import EduError
from edu_core.images import decode, encode_jpeg
from edu_core.store import normalize_group
from webui.common import class_name, lang, run_with_progress, tr
from webui.photos import THUMB_SIDE, gallery_caption, gallery_page, gallery_thumb, group_choice
from webui.resources import landmarker_pool, store


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
    db, pool = store(), landmarker_pool()
    entries, too_big = ingest.split_oversized(entries)
    if not entries:
        return [], too_big
    stored, refused = run_with_progress(
        lambda progress: ingest.store_photos(
            db, sid, entries, source=source, label=label, group=group, pool=pool, progress=progress
        ),
        text_key="collect.progress",
        total=len(entries),
    )
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
        group = group_choice(sid, tr("collect.group"), key="collect_group", help=tr("collect.group_help"))
    return label, normalize_group(group)


def refused_list(refused: list[tuple[str, str]]) -> None:
    """Files that could not be stored at all, each with its one-sentence reason."""
    for name, code in refused:
        st.warning(f"**{name}** — {i18n.reason_message(code, lang())}", icon="⚠️")


def load_samples(sid: int, per_class: int) -> Any:
    """Put the ready-made sample faces, already labelled, into the workspace."""
    db, pool = store(), landmarker_pool()
    return run_with_progress(
        lambda progress: ingest.load_samples(db, sid, per_class, pool=pool, progress=progress),
        text_key="collect.progress",
    )


def collect_gallery(sid: int, records: list, *, show_box: bool, per_row: int = 5) -> None:
    """The accepted faces on the collect page, newest first, each with its own delete button."""
    shown = gallery_page(records, "gallery")
    for start in range(0, len(shown), per_row):
        for col, r in zip(st.columns(per_row), shown[start : start + per_row], strict=False):
            with col:
                st.image(gallery_thumb(sid, r, show_box), caption=gallery_caption(r), width=THUMB_SIDE)
                if st.button(tr("collect.delete"), icon="🗑️", key=f"gallery_delete_{r.id}", type="tertiary"):
                    store().delete_image(sid, r.id)  # a student may remove any of their own photos
                    st.toast(tr("collect.skipped", name=r.filename))
                    st.rerun()


def rejected_list(sid: int, records: list) -> None:
    """Each rejected photo with its reason, a *skip* button that removes it and a *use it anyway*
    button for a photo the gate got wrong."""
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
    with landmarker_pool().acquire() as lm:
        face = kept.cut_anyway(store().original_bytes(sid, record.id), lm)
    if face is None:
        st.warning(tr("collect.keep_failed", name=record.filename), icon="⚠️")
        return
    store().keep_rejected(sid, record.id, face)
    st.toast(tr("collect.kept", name=record.filename))
    st.rerun()


def pieces_view(sid: int, records: list) -> None:
    """One face's data pieces: brows, eyes and lips drawn, the strongest movements named."""
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
