"""The look every chart shares: one fixed colour per class, big type, a title margin that holds Hangul."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from edu_core.labels import KOREAN7_CLASSES, LESSON_CLASSES

#: Okabe & Ito (2008) colour-blind-safe palette, one fixed colour per class id.
CLASS_COLORS: Mapping[str, str] = {
    "joy": "#E69F00",  # orange
    "sadness": "#0072B2",  # blue
    "surprise": "#CC79A7",  # reddish purple
    "anger": "#D55E00",  # vermillion
    "neutral": "#009E73",  # bluish green
    "embarrassment": "#56B4E9",  # sky blue
    "anxiety": "#F0E442",  # yellow
    "hurt": "#000000",  # black
}
TRAIN_COLOR = "#0072B2"
TEST_COLOR = "#E69F00"
FONT_SIZE = 20  # readable from the back of a classroom
FONT_FAMILY = "Noto Sans KR, Noto Sans CJK KR, Malgun Gothic, Apple SD Gothic Neo, NanumGothic, sans-serif"


def class_color(class_id: str) -> str:
    """The fixed chart colour of a class id (grey for an unknown id)."""
    return CLASS_COLORS.get(class_id, "#7F7F7F")


def ordered_classes(class_ids: Sequence[str] | Mapping[str, object]) -> list[str]:
    """The given class ids in lesson order (then Korean-7 order, then the rest as given)."""
    ids = list(class_ids)
    order = list(LESSON_CLASSES) + [c for c in KOREAN7_CLASSES if c not in LESSON_CLASSES]
    known = [c for c in order if c in ids]
    return known + [c for c in ids if c not in order]


#: Top margin (px) that holds a title line of ``FONT_SIZE + 4`` type, Hangul included, with air.
TITLE_MARGIN = 80


def style(fig: go.Figure, title: str | None, height: int, *, legend: bool = False) -> go.Figure:
    """The projector look shared by every chart: big black type, white ground, bold axes.

    The title sits at a fixed place inside a top margin made for it (pinned to the
    container, not pushed around by automargin), so a Korean title is never cut off
    at the top; the font list names Korean fonts so Hangul does not fall back to boxes.
    """
    fig.update_layout(
        title=(
            {
                "text": title,
                "font": {"size": FONT_SIZE + 4, "family": FONT_FAMILY},
                "x": 0.01,
                "xanchor": "left",
                "y": 1.0,
                "yref": "container",
                "yanchor": "top",
                "pad": {"t": 14, "l": 4},
                "automargin": False,
            }
            if title
            else None
        ),
        font={"size": FONT_SIZE, "family": FONT_FAMILY, "color": "#000000"},
        paper_bgcolor="#FFFFFF",
        plot_bgcolor="#FFFFFF",
        height=height,
        margin={"l": 20, "r": 20, "t": TITLE_MARGIN if title else 20, "b": 20},
        showlegend=legend,
    )
    if legend:
        fig.update_layout(legend={"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"})
    axis = {
        "showline": True,
        "linecolor": "#000000",
        "linewidth": 2,
        "gridcolor": "#D9D9D9",
        "automargin": True,
        "tickfont": {"size": FONT_SIZE, "color": "#000000"},
        "title_font": {"size": FONT_SIZE, "color": "#000000"},
    }
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    return fig


def count_axis(axis: dict, top: float) -> dict:
    """Axis settings for photo counts: whole-number ticks only (no "0.2 photos" on an empty chart)."""
    step = 1 if top <= 6 else 2 if top <= 12 else None  # above that plotly's own steps are whole
    return {**axis, "tickformat": "d", "rangemode": "tozero", **({"tick0": 0, "dtick": step} if step else {})}


def values_by_class(
    values: Mapping[str, float] | Sequence[float], classes: Sequence[str]
) -> dict[str, float]:
    if isinstance(values, Mapping):
        return {str(k): float(v) for k, v in values.items()}
    vals = list(values)
    if len(vals) != len(classes):
        raise ValueError(f"got {len(vals)} values for {len(classes)} classes")
    return {c: float(v) for c, v in zip(classes, vals, strict=True)}


KEEP_COLOR = "#0072B2"  # blue: what the face gate did
ACCURACY_COLOR = "#E69F00"  # orange: what the model did
