"""Plotly figures and annotated pictures for the lesson, built for a classroom projector.

Every builder returns a ``go.Figure`` (or a new image array) and never touches
Streamlit, so the same charts work in tests, notebooks and the CLI. The five
lesson classes always appear in :data:`edu_core.labels.LESSON_CLASSES` order with
the same Okabe–Ito colour on every chart, so students learn "orange is joy" once.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from edu_core.i18n import DEFAULT_LANG, class_name, t
from edu_core.labels import KOREAN7_CLASSES, LESSON_CLASSES
from edu_core.metrics import wilson_bounds  # noqa: F401  (its home moved; callers still use charts.wilson_bounds)

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


def _as_mapping(values: Mapping[str, float] | Sequence[float], classes: Sequence[str]) -> dict[str, float]:
    if isinstance(values, Mapping):
        return {str(k): float(v) for k, v in values.items()}
    vals = list(values)
    if len(vals) != len(classes):
        raise ValueError(f"got {len(vals)} values for {len(classes)} classes")
    return {c: float(v) for c, v in zip(classes, vals, strict=True)}


def probability_bars(
    probs: Mapping[str, float] | Sequence[float],
    *,
    classes: Sequence[str] = LESSON_CLASSES,
    lang: str = DEFAULT_LANG,
    title: str | None = None,
    renamed: Mapping[str, str] | None = None,
    decimals: int = 1,
) -> go.Figure:
    """One horizontal bar per class with its probability written as a percentage.

    ``probs`` is a mapping class id -> probability (0..1) or a sequence in
    ``classes`` order. The most likely class gets a thick black outline. Narrow
    panels (the lab's side-by-side variants) pass ``decimals=0`` so "100%" fits.
    """
    p = _as_mapping(probs, classes)
    ids = ordered_classes(p)
    vals = [p[c] for c in ids]
    top = max(range(len(vals)), key=vals.__getitem__) if vals else -1
    fig = go.Figure(
        go.Bar(
            x=vals,
            y=[class_name(c, lang, renamed=renamed) for c in ids],
            orientation="h",
            marker={
                "color": [class_color(c) for c in ids],
                "line": {"color": "#000000", "width": [4 if i == top else 0 for i in range(len(ids))]},
            },
            text=[f"{v:.{decimals}%}" for v in vals],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1.15], tickformat=".0%", title=t("eval.probability", lang))
    fig.update_yaxes(autorange="reversed")  # first class at the top, like reading order
    return style(fig, title, height=90 + 60 * len(ids))


def scarce_classes(counts: Mapping[str, int], *, ratio: float = 0.5) -> list[str]:
    """Classes whose count is below ``ratio`` times the largest count (or zero)."""
    if not counts:
        return []
    biggest = max(counts.values())
    return [c for c, n in counts.items() if n == 0 or n < ratio * biggest]


def class_count_bars(
    counts: Mapping[str, int],
    *,
    classes: Sequence[str] = LESSON_CLASSES,
    lang: str = DEFAULT_LANG,
    title: str | None = None,
    imbalance_ratio: float = 0.5,
    renamed: Mapping[str, str] | None = None,
) -> go.Figure:
    """Photos per class; scarce classes are hatched and marked so imbalance is visible.

    A class is scarce when it has fewer than ``imbalance_ratio`` times the photos
    of the biggest class. Hatching (not only colour) marks it for colour-blind
    viewers and washed-out projectors.
    """
    full = {c: int(counts.get(c, 0)) for c in classes} | {k: int(v) for k, v in counts.items()}
    ids = ordered_classes(full)
    vals = [full[c] for c in ids]
    scarce = set(scarce_classes(full, ratio=imbalance_ratio)) if any(vals) else set()
    fig = go.Figure(
        go.Bar(
            x=[class_name(c, lang, renamed=renamed) for c in ids],
            y=vals,
            marker={
                "color": [class_color(c) for c in ids],
                "pattern": {"shape": ["/" if c in scarce else "" for c in ids], "fgcolor": "#000000"},
                "line": {"color": "#000000", "width": 2},
            },
            text=[
                f"{v} ⚠ {t('chart.scarce', lang)}" if c in scarce else str(v)
                for c, v in zip(ids, vals, strict=True)
            ],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{y}<extra></extra>",
        )
    )
    top = max(vals + [1]) * 1.25
    fig.update_yaxes(**count_axis({"title": t("chart.count", lang), "range": [0, top]}, top))
    return style(fig, title, height=420)


def split_bars(
    train_counts: Mapping[str, int],
    test_counts: Mapping[str, int],
    *,
    classes: Sequence[str] = LESSON_CLASSES,
    lang: str = DEFAULT_LANG,
    title: str | None = None,
    renamed: Mapping[str, str] | None = None,
) -> go.Figure:
    """Stacked bars: training and test photos per class."""
    ids = ordered_classes(list(dict.fromkeys([*classes, *train_counts, *test_counts])))
    names = [class_name(c, lang, renamed=renamed) for c in ids]
    fig = go.Figure()
    below = [0] * len(ids)
    for label, counts, color, pattern in (
        (t("split.train", lang), train_counts, TRAIN_COLOR, ""),
        (t("split.test", lang), test_counts, TEST_COLOR, "x"),
    ):
        ys = [int(counts.get(c, 0)) for c in ids]
        fig.add_bar(
            name=label,
            x=names,
            y=ys,
            marker={"color": color, "pattern": {"shape": pattern, "fgcolor": "#000000"}},
            hovertemplate=f"{label} · %{{x}}: %{{y}}<extra></extra>",
        )
        # Numbers printed straight onto the hatching are unreadable: each gets a white box instead.
        for name, y, base in zip(names, ys, below, strict=True):
            if y:
                fig.add_annotation(
                    x=name,
                    y=base + y / 2,
                    text=str(y),
                    showarrow=False,
                    bgcolor="#FFFFFF",
                    bordercolor="#000000",
                    borderwidth=1,
                    borderpad=2,
                )
        below = [b + y for b, y in zip(below, ys, strict=True)]
    fig.update_layout(barmode="stack")
    fig.update_yaxes(**count_axis({"title": t("chart.count", lang)}, max(below + [1])))
    style(fig, title, height=420)
    fig.update_layout(showlegend=True, legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"})
    return fig


def confusion_heatmap(
    matrix: np.ndarray | Sequence[Sequence[int]],
    *,
    classes: Sequence[str] = LESSON_CLASSES,
    lang: str = DEFAULT_LANG,
    title: str | None = None,
    renamed: Mapping[str, str] | None = None,
) -> go.Figure:
    """Confusion matrix: rows are the true class, columns the model's answer.

    Colour shows the share of each true class (row-normalised) so a scarce class
    is as readable as a big one; the cell text gives the photo count.
    """
    m = np.asarray(matrix, dtype=float)
    if m.shape != (len(classes), len(classes)):
        raise ValueError(f"matrix shape {m.shape} does not match {len(classes)} classes")
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    names = [class_name(c, lang, renamed=renamed) for c in classes]
    hover = f"{t('chart.true', lang)} %{{y}} → {t('chart.pred', lang)} %{{x}}: %{{text}}<extra></extra>"
    text = [[f"{int(m[i, j])}" for j in range(len(classes))] for i in range(len(classes))]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=names,
            y=names,
            text=text,
            colorscale=[[0.0, "#FFFFFF"], [1.0, "#0072B2"]],
            zmin=0,
            zmax=1,
            showscale=False,
            xgap=3,
            ygap=3,
            hovertemplate=hover,
        )
    )
    # Counts as annotations so dark cells can get white text and stay readable on a projector.
    for i in range(len(classes)):
        for j in range(len(classes)):
            fig.add_annotation(
                x=names[j],
                y=names[i],
                text=text[i][j],
                showarrow=False,
                font={"size": FONT_SIZE + 4, "color": "#FFFFFF" if share[i, j] > 0.55 else "#000000"},
            )
    fig.update_xaxes(title={"text": t("chart.pred", lang), "standoff": 12}, side="top", showline=False)
    fig.update_yaxes(
        title={"text": t("chart.true", lang), "standoff": 16},
        autorange="reversed",
        showline=False,
        ticklabelstandoff=6,
    )
    style(fig, title, height=140 + 90 * len(classes))
    # Hangul is measured before its font is loaded, so automargin alone leaves the axis title on top
    # of the longest class name: reserve room for it (a Hangul syllable is about one em wide).
    longest = max([len(n) for n in names] + [1])
    fig.update_layout(margin={"l": 40 + FONT_SIZE * longest + FONT_SIZE + 16})
    return fig


def add_cell_targets(
    fig: go.Figure,
    classes: Sequence[str],
    *,
    lang: str = DEFAULT_LANG,
    renamed: Mapping[str, str] | None = None,
) -> go.Figure:
    """Clickable cells on a :func:`confusion_heatmap`: an invisible square marker on every cell.

    Plotly cannot select heatmap cells, so a click on the bare table reaches Streamlit as an empty
    selection. Scatter points can be selected; each carries its cell as ``customdata`` (row = true
    class, column = the model's answer).
    """
    names = [class_name(c, lang, renamed=renamed) for c in classes]
    n = len(names)
    hover = fig.data[0].hovertemplate if fig.data else None
    cells = [(i, j) for i in range(n) for j in range(n)]
    fig.add_trace(
        go.Scatter(
            x=[names[j] for _, j in cells],
            y=[names[i] for i, _ in cells],
            customdata=[[i, j] for i, j in cells],
            text=[a.text for a in fig.layout.annotations] if len(fig.layout.annotations) == n * n else None,
            mode="markers",
            marker={"symbol": "square", "size": 64, "color": "rgba(0,0,0,0)", "line": {"width": 0}},
            # plotly greys out the points not selected; invisible points need no greying
            selected={"marker": {"opacity": 1}},
            unselected={"marker": {"opacity": 1}},
            hovertemplate=hover,
            showlegend=False,
        )
    )
    fig.data[0].hoverinfo = "skip"  # the markers carry the hover text
    return fig


_CURVE_KEYS = {
    "train_loss": ("train_loss", "loss"),
    "val_loss": ("val_loss", "test_loss"),
    "train_acc": ("train_acc", "acc", "accuracy", "train_accuracy"),
    "val_acc": ("val_acc", "test_acc", "val_accuracy", "test_accuracy"),
}


def _series(history: Sequence[Mapping[str, float]], name: str) -> list[float | None]:
    out: list[float | None] = []
    for row in history:
        value = next((row[k] for k in _CURVE_KEYS[name] if row.get(k) is not None), None)
        out.append(
            None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
        )
    return out


def _first_pass(history: Sequence[Mapping[str, float]]) -> list[Mapping[str, float]]:
    """The history up to where the epoch count starts again (a refit pass after early stopping)."""
    out: list[Mapping[str, float]] = []
    for i, row in enumerate(history):
        epoch = row.get("epoch", i + 1)
        if out and epoch <= out[-1].get("epoch", len(out)):
            break
        out.append(row)
    return out


def training_curves(
    history: Sequence[Mapping[str, float]],
    *,
    lang: str = DEFAULT_LANG,
    title: str | None = None,
    total_epochs: int | None = None,
) -> go.Figure:
    """Loss (left) and accuracy (right) per epoch, for live updates while training.

    ``history`` holds one mapping per finished epoch with ``epoch`` and any of
    ``train_loss``/``loss``, ``val_loss``, ``train_acc``/``acc``, ``val_acc``. A
    second pass that restarts at epoch 1 (refitting on all photos) is not drawn.
    Training lines are solid, validation lines dashed (shape as well as colour).
    """
    from plotly.subplots import make_subplots

    history = _first_pass(history)
    epochs = [int(row.get("epoch", i + 1)) for i, row in enumerate(history)]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(t("train.loss", lang), t("train.accuracy", lang)))
    for col, (train_key, val_key) in ((1, ("train_loss", "val_loss")), (2, ("train_acc", "val_acc"))):
        for key, label, dash, color in (
            (train_key, t("split.train", lang), "solid", TRAIN_COLOR),
            # the validation slice of the training photos, not the test photos of the final score
            (val_key, t("train.val_curve", lang), "dash", TEST_COLOR),
        ):
            ys = _series(history, key)
            if any(y is not None for y in ys):
                fig.add_scatter(
                    x=epochs,
                    y=ys,
                    mode="lines+markers",
                    name=label,
                    line={"color": color, "width": 4, "dash": dash},
                    marker={"size": 10},
                    legendgroup=label,
                    showlegend=col == 1,
                    row=1,
                    col=col,
                )
    x_max = max([total_epochs or 0, *epochs, 1])
    fig.update_xaxes(title=t("train.epoch", lang), range=[0.5, x_max + 0.5], dtick=max(1, x_max // 10))
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", row=1, col=2)
    style(fig, title, height=420)
    # The two subplot titles sit above the plots: without a top margin for them they are cut in half
    # ("손실 (작을수록 좋아요)" read as "삭늘수독").
    fig.update_annotations(font_size=FONT_SIZE, yshift=4)
    fig.update_layout(
        margin={"t": TITLE_MARGIN + (FONT_SIZE + 20 if title else 0)},
        showlegend=True,
        legend={"orientation": "h", "y": -0.25, "x": 0, "yanchor": "top"},
    )
    return fig


def recall_bars(
    recall: Mapping[str, float] | Sequence[float],
    *,
    low: Mapping[str, float] | Sequence[float] | None = None,
    high: Mapping[str, float] | Sequence[float] | None = None,
    classes: Sequence[str] = LESSON_CLASSES,
    lang: str = DEFAULT_LANG,
    title: str | None = None,
    renamed: Mapping[str, str] | None = None,
) -> go.Figure:
    """Share of each class answered correctly, with optional error bars.

    ``low``/``high`` are the lower and upper ends of the interval (e.g. over seeds
    or a Wilson interval), given per class like ``recall``.
    """
    r = _as_mapping(recall, classes)
    ids = ordered_classes(r)
    vals = [r[c] for c in ids]
    error_y = None
    if low is not None and high is not None:
        lo = _as_mapping(low, classes)
        hi = _as_mapping(high, classes)
        error_y = {
            "type": "data",
            "symmetric": False,
            "array": [max(0.0, hi[c] - r[c]) for c in ids],
            "arrayminus": [max(0.0, r[c] - lo[c]) for c in ids],
            "color": "#000000",
            "thickness": 3,
            "width": 12,
        }
    names = [class_name(c, lang, renamed=renamed) for c in ids]
    hover = "%{x}: %{y:.1%}<extra></extra>"
    custom = None
    if error_y is not None:
        custom = [[lo[c], hi[c]] for c in ids]
        hover = "%{x}: %{y:.1%}<br>" + t("chart.interval_hover", lang) + "<extra></extra>"
    fig = go.Figure(
        go.Bar(
            x=names,
            y=vals,
            marker={"color": [class_color(c) for c in ids], "line": {"color": "#000000", "width": 2}},
            error_y=error_y,
            customdata=custom,
            hovertemplate=hover,
        )
    )
    # The share sits at the foot of its bar in a white box: at the top the error bar ran through it.
    for name, v in zip(names, vals, strict=True):
        fig.add_annotation(
            x=name,
            y=0,
            yanchor="bottom",
            yshift=6,
            text=f"{v:.0%}",
            showarrow=False,
            bgcolor="#FFFFFF",
            bordercolor="#000000",
            borderwidth=1,
            borderpad=2,
        )
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", title=t("eval.recall", lang))
    return style(fig, title, height=420)


KEEP_COLOR = "#0072B2"  # blue: what the face gate did
ACCURACY_COLOR = "#E69F00"  # orange: what the model did


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


# --- annotated pictures -------------------------------------------------------------

#: MediaPipe face-mesh outlines (index pairs) of the parts the lesson names.
PIECE_OUTLINES: Mapping[str, tuple[tuple[int, int], ...]] = {
    "brows": (
        (46, 53), (53, 52), (52, 65), (65, 55), (70, 63), (63, 105), (105, 66), (66, 107),
        (276, 283), (283, 282), (282, 295), (295, 285), (300, 293), (293, 334), (334, 296), (296, 336),
    ),
    "eyes": (
        (33, 7), (7, 163), (163, 144), (144, 145), (145, 153), (153, 154), (154, 155), (155, 133),
        (33, 246), (246, 161), (161, 160), (160, 159), (159, 158), (158, 157), (157, 173), (173, 133),
        (263, 249), (249, 390), (390, 373), (373, 374), (374, 380), (380, 381), (381, 382), (382, 362),
        (263, 466), (466, 388), (388, 387), (387, 386), (386, 385), (385, 384), (384, 398), (398, 362),
    ),
    "lips": (
        (61, 146), (146, 91), (91, 181), (181, 84), (84, 17), (17, 314), (314, 405), (405, 321),
        (321, 375), (375, 291), (61, 185), (185, 40), (40, 39), (39, 37), (37, 0), (0, 267),
        (267, 269), (269, 270), (270, 409), (409, 291), (78, 95), (95, 88), (88, 178), (178, 87),
        (87, 14), (14, 317), (317, 402), (402, 318), (318, 324), (324, 308), (78, 191), (191, 80),
        (80, 81), (81, 82), (82, 13), (13, 312), (312, 311), (311, 310), (310, 415), (415, 308),
    ),
}  # fmt: skip
PIECE_COLORS: Mapping[str, str] = {"brows": "#E69F00", "eyes": "#56B4E9", "lips": "#D55E00"}


def draw_face_box(
    rgb: np.ndarray, box: Sequence[int], *, color: str = "#E69F00", width: int | None = None
) -> np.ndarray:
    """A copy of ``rgb`` with the face box drawn (thick enough to see on a thumbnail)."""
    im = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    w = width or max(3, round(max(im.size) / 120))
    x0, y0, x1, y1 = (int(v) for v in box)
    draw = ImageDraw.Draw(im)
    draw.rectangle((x0, y0, x1, y1), outline="#000000", width=w + 2)
    draw.rectangle((x0, y0, x1, y1), outline=color, width=w)
    return np.asarray(im)


def draw_pieces(crop: np.ndarray, landmarks: np.ndarray, *, scale: int = 2) -> np.ndarray:
    """A copy of the face crop, enlarged ``scale`` times, with brows, eyes and lips outlined.

    ``landmarks`` are MediaPipe's 478 points in crop pixel coordinates.
    """
    pts = np.asarray(landmarks, dtype=float)
    if pts.ndim != 2 or pts.shape[0] < 468:
        raise ValueError(f"expected (478, 3) landmarks, got {pts.shape}")
    im = Image.fromarray(np.asarray(crop, dtype=np.uint8))
    im = im.resize((im.width * scale, im.height * scale), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(im)
    for part, pairs in PIECE_OUTLINES.items():
        for a, b in pairs:
            draw.line(
                (pts[a, 0] * scale, pts[a, 1] * scale, pts[b, 0] * scale, pts[b, 1] * scale),
                fill=PIECE_COLORS[part],
                width=max(2, scale * 2),
            )
        for idx in {i for pair in pairs for i in pair}:
            x, y = pts[idx, 0] * scale, pts[idx, 1] * scale
            draw.ellipse((x - scale, y - scale, x + scale, y + scale), fill="#000000")
    return np.asarray(im)


def top_blendshapes(
    blendshapes: Mapping[str, float], n: int = 3, *, min_score: float = 0.2
) -> list[tuple[str, float]]:
    """The ``n`` strongest expression movements (``_neutral`` excluded), strongest first."""
    items = [(k, float(v)) for k, v in blendshapes.items() if k != "_neutral" and float(v) >= min_score]
    return sorted(items, key=lambda kv: -kv[1])[:n]


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edu_core.charts",
        description="Build a lesson chart from numbers and write it as a standalone HTML file (offline).",
    )
    parser.add_argument("kind", choices=("probabilities", "counts", "recall"))
    parser.add_argument("values", nargs=5, type=float, help="one value per class in lesson order")
    parser.add_argument("--lang", default=DEFAULT_LANG, choices=("ko", "en"))
    parser.add_argument("--out", type=Path, help="write HTML here (plotly.js embedded, no network)")
    parser.add_argument("--json", action="store_true", help="print the figure as JSON")
    args = parser.parse_args(argv)
    if args.kind == "probabilities":
        fig = probability_bars(args.values, lang=args.lang)
    elif args.kind == "counts":
        fig = class_count_bars(dict(zip(LESSON_CLASSES, map(int, args.values), strict=True)), lang=args.lang)
    else:
        fig = recall_bars(args.values, lang=args.lang)
    if args.out:
        fig.write_html(args.out, include_plotlyjs=True)
    if args.json or not args.out:
        print(json.dumps({"kind": args.kind, "figure": json.loads(fig.to_json())}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
