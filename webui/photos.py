"""Photo thumbnails and galleries shared by the collect, label, split and evaluate pages."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st
from PIL import Image

from edu_core import charts
from edu_core.images import decode, encode_jpeg
from webui.common import class_name, tr
from webui.resources import store

GALLERY_PAGE = 40
THUMB_SIDE = 160


@st.cache_data(max_entries=4096, show_spinner=False)
def crop_thumb(sid: int, image_id: int, crop_sha: str) -> bytes:
    data = store().crop_bytes(sid, image_id)
    return encode_jpeg(_fit(decode(data, max_side=THUMB_SIDE).rgb), quality=85)


@st.cache_data(max_entries=1024, show_spinner=False)
def _boxed_thumb(sid: int, image_id: int, sha: str) -> bytes | None:
    face = store().face(image_id, sid)
    if face.box is None:
        return None
    img = decode(store().original_bytes(sid, image_id), max_side=2 * THUMB_SIDE)
    box = [v * img.scale for v in face.box]
    return encode_jpeg(_fit(charts.draw_face_box(img.rgb, box)), quality=85)


def _fit(rgb: Any) -> Any:
    """Shrink to the width the gallery shows: st.image would otherwise resize and re-encode
    every thumbnail on every rerun, for every student (the costliest part of a page under load)."""
    h, w = rgb.shape[:2]
    if w <= THUMB_SIDE:
        return rgb
    size = (THUMB_SIDE, max(1, round(h * THUMB_SIDE / w)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def gallery_page(records: list, key: str) -> list:
    """The newest photos first, one page of them, with page pills when there is more than one."""
    records = sorted(records, key=lambda r: -r.id)
    pages = max(1, -(-len(records) // GALLERY_PAGE))
    page = 1
    if pages > 1:
        page = st.pills(tr("label.page"), list(range(1, pages + 1)), default=1, key=f"{key}_page") or 1
    return records[(page - 1) * GALLERY_PAGE : page * GALLERY_PAGE]


def gallery_thumb(sid: int, r: Any, show_box: bool) -> bytes:
    thumb = _boxed_thumb(sid, r.id, r.sha) if show_box else None
    return thumb or crop_thumb(sid, r.id, r.crop_sha)


def gallery_caption(r: Any) -> str:
    caption = class_name(r.label) if r.label else r.filename[:18]
    return f"🙋 {caption}" if getattr(r, "kept", False) else caption  # kept although the gate said no


def face_gallery(sid: int, records: list, *, show_box: bool, key: str = "gallery") -> None:
    """Accepted faces as a grid (crops, or the originals with the face box), newest first, paged."""
    shown = gallery_page(records, key)
    images = [gallery_thumb(sid, r, show_box) for r in shown]
    captions = [gallery_caption(r) for r in shown]
    if images:
        st.image(images, caption=captions, width=THUMB_SIDE)


def group_choice(sid: int, label: str, *, key: str, help: str | None = None) -> str | None:
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
