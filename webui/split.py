"""Split page widgets: what the newest split holds, per class and per person, and its test photos."""

from __future__ import annotations

from typing import Any

import streamlit as st

from edu_core import charts, dataset
from webui.common import lang, renamed, tr
from webui.figures import figure
from webui.photos import face_gallery


def split_summary(sid: int, split: Any, records: list, classes: list[str]) -> None:
    """Counts of the split's two sides, warnings about people on both sides, the chart, the test photos."""
    by_id = {r.id: r for r in records}
    train = [by_id[i] for i in split.train_ids if i in by_id]
    test = [by_id[i] for i in split.test_ids if i in by_id]
    st.subheader(tr("split.summary", total=len(train) + len(test), train=len(train), test=len(test)))
    if split.by_person:
        people = {dataset.person_key(r) for r in train + test}
        if len(people) < 2:
            st.warning(tr("split.one_person"), icon="👤")
        elif not test:
            st.warning(tr("split.few_people", n=len(people)), icon="👤")
    fig = figure(
        charts.split_bars,
        dataset.class_counts(train, classes),
        dataset.class_counts(test, classes),
        classes=classes,
        lang=lang(),
        renamed=renamed(),
        title=tr("split.chart"),
    )
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, theme=None)
    st.subheader(f"{tr('split.test')} ({len(test)})")
    face_gallery(sid, test, show_box=False, key="test_gallery")
