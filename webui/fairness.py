"""Per-group figures: the gate's keep rate and the model's accuracy for each group of photos."""

from __future__ import annotations

from typing import Any

import streamlit as st

from edu_core import charts, fairness
from webui.common import lang, tr
from webui.figures import figure
from webui.resources import store
from webui.train import training_runs


def last_test_hits(viewer: Any) -> dict[int, bool] | None:
    """Photo id → right, from the viewer's last finished training that kept its test answers."""
    for run in reversed(training_runs(viewer)):
        if run.status == "done" and run.metrics.get("confusion_ids"):
            return fairness.run_hits(run.metrics)
    return None


def fairness_view(rows: list, *, key: str, model: bool) -> None:
    """The keep-rate / accuracy chart per group, its counts in words and what to read in it."""
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
    db = store()
    st.subheader(tr("fair.teacher_title"))
    hits = last_test_hits(session)
    tests = fairness.tested_counts(db.pool(session), hits) if hits else {}
    rows = fairness.group_rows(db.group_gate_counts(session), tests)
    if not fairness.has_groups(rows):
        st.caption(tr("fair.teacher_none"))
        return
    st.caption(tr("fair.teacher_intro"))
    fairness_view(rows, key="class_fairness", model=hits is not None)
