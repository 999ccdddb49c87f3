"""The lesson's charts: class counts, the split, probabilities, training curves, the confusion table."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from edu_core.charts.theme import (
    FONT_SIZE,
    TEST_COLOR,
    TITLE_MARGIN,
    TRAIN_COLOR,
    class_color,
    count_axis,
    ordered_classes,
    style,
    values_by_class,
)
from edu_core.i18n import DEFAULT_LANG, class_name, t
from edu_core.labels import LESSON_CLASSES


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
    p = values_by_class(probs, classes)
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
    r = values_by_class(recall, classes)
    ids = ordered_classes(r)
    vals = [r[c] for c in ids]
    error_y = None
    if low is not None and high is not None:
        lo = values_by_class(low, classes)
        hi = values_by_class(high, classes)
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
