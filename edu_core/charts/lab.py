"""The lab's charts: the gate and the model per group, effects over seeds, a student's own photos."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from edu_core.charts.theme import (
    ACCURACY_COLOR,
    FONT_SIZE,
    KEEP_COLOR,
    class_color,
    count_axis,
    ordered_classes,
    style,
)
from edu_core.i18n import DEFAULT_LANG, class_name, t
from edu_core.labels import LESSON_CLASSES


def fairness_bars(rows: Sequence[object], *, lang: str = DEFAULT_LANG, title: str | None = None) -> go.Figure:
    """Per group (:class:`edu_core.fairness.GroupRow`): the gate's keep rate and the model's
    accuracy side by side, each with its count ("12/14") and a 95 % interval as an error bar.

    A group without test photos gets no accuracy bar but a "–" where it would stand, so a
    missing bar is never read as 0 %.
    """
    names = [r.group or t("fair.no_group", lang) for r in rows]
    fig = go.Figure()
    series = (
        (
            "fair.keep_rate",
            KEEP_COLOR,
            "#FFFFFF",
            lambda r: (r.keep_rate, r.passed, r.photos, r.keep_interval),
        ),
        (
            "fair.accuracy",
            ACCURACY_COLOR,
            "#000000",
            lambda r: (r.accuracy, r.correct, r.tested, r.accuracy_interval),
        ),
    )
    for key, color, ink, get in series:
        vals = [get(r) for r in rows]
        fig.add_bar(
            name=t(key, lang),
            x=names,
            y=[0.0 if v[0] is None else v[0] for v in vals],
            marker={"color": color, "line": {"color": "#000000", "width": 2}},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [0.0 if v[0] is None else max(0.0, v[3][1] - v[0]) for v in vals],
                "arrayminus": [0.0 if v[0] is None else max(0.0, v[0] - v[3][0]) for v in vals],
                "color": "#000000",
                "thickness": 3,
                "width": 8,
            },
            # the count sits at the bar's foot: at the top the error bar ran through it (see recall_bars)
            text=["–" if v[0] is None else f"{v[1]}/{v[2]}" for v in vals],
            textposition=["outside" if v[0] is None else "inside" for v in vals],
            insidetextanchor="start",
            textfont={"color": ink, "size": FONT_SIZE - 2},
            outsidetextfont={"color": "#000000"},
            cliponaxis=False,
            customdata=[[v[3][0], v[3][1]] for v in vals],
            hovertemplate="%{x}: %{y:.1%} (%{text})<br>"
            + t("chart.interval_hover", lang)
            + "<extra></extra>",
        )
    fig.update_layout(
        barmode="group", bargap=0.25, bargroupgap=0.08, uniformtext={"minsize": 12, "mode": "show"}
    )
    fig.update_yaxes(range=[0, 1.08], tickformat=".0%", title=t("fair.share", lang))
    return style(fig, title, height=440, legend=True)


def effect_bars(
    effects: Mapping[str, float],
    *,
    names: Mapping[str, str] | None = None,
    title: str | None = None,
    axis_title: str | None = None,
) -> go.Figure:
    """How much each face part pushed a probability up (blue, solid) or down (orange, hatched).

    ``effects`` maps a part (e.g. "mouth") to a probability change in -1..1; the
    text on each bar is in percentage points.
    """
    parts = list(effects)
    vals = [float(effects[p]) for p in parts]
    up = [v >= 0 for v in vals]
    fig = go.Figure(
        go.Bar(
            x=vals,
            y=[(names or {}).get(p, p) for p in parts],
            orientation="h",
            marker={
                "color": ["#0072B2" if u else "#E69F00" for u in up],
                "pattern": {"shape": ["" if u else "/" for u in up], "fgcolor": "#000000"},
                "line": {"color": "#000000", "width": 2},
            },
            text=[f"{v * 100:+.0f}%p" for v in vals],
            textposition="outside",
            cliponaxis=False,
        )
    )
    reach = max([abs(v) for v in vals] + [0.05]) * 1.3
    fig.update_xaxes(
        range=[-reach, reach], tickformat="+.0%", title=axis_title, zeroline=True, zerolinewidth=3
    )
    fig.update_yaxes(autorange="reversed")
    return style(fig, title, height=90 + 60 * max(1, len(parts)))


def student_class_bars(
    counts: Mapping[str, Mapping[str, int]],
    *,
    classes: Sequence[str] = LESSON_CLASSES,
    lang: str = DEFAULT_LANG,
    title: str | None = None,
    renamed: Mapping[str, str] | None = None,
) -> go.Figure:
    """Stacked horizontal bars: photos per student, split by class (teacher overview)."""
    students = list(counts)
    fig = go.Figure()
    for c in ordered_classes(list(classes)):
        fig.add_bar(
            name=class_name(c, lang, renamed=renamed),
            y=students,
            x=[int(counts[s].get(c, 0)) for s in students],
            orientation="h",
            marker={"color": class_color(c), "line": {"color": "#FFFFFF", "width": 1}},
        )
    fig.update_layout(barmode="stack")
    top = max([sum(int(v) for v in counts[s].values()) for s in students] + [1])
    fig.update_xaxes(**count_axis({"title": t("chart.count", lang)}, top))
    fig.update_yaxes(autorange="reversed")
    # tall enough for the legend too, which otherwise scrolls when only a few students have joined
    style(fig, title, height=max(160 + 44 * len(students), 200 + 40 * len(fig.data)))
    # Beside the plot, not above it: a wrapped legend above ran over the first student's bar.
    fig.update_layout(
        showlegend=True,
        legend={
            "orientation": "v",
            "x": 1.02,
            "xanchor": "left",
            "y": 1,
            "yanchor": "top",
            "traceorder": "normal",  # lesson order, like every other chart (plotly reverses stacks)
        },
    )
    return fig
