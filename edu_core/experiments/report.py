"""A result as CSV, as a PNG chart and as plotly figures."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
import plotly.graph_objects as go
from matplotlib import font_manager
from matplotlib.figure import Figure

from edu_core.charts import class_color, style
from edu_core.experiments.results import ExperimentResult
from edu_core.experiments.words import _class_word, _group_word, text, variant_label

if TYPE_CHECKING:  # heavy imports stay out of module import time (the page imports this early)
    import plotly.graph_objects as go

# --------------------------------------------------------------------------- export


def result_csv(result: ExperimentResult) -> str:
    """Long-format CSV: one row per variant, seed (or mean/sd) and measure, for spreadsheets."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["experiment", "model", "variant", "seed", "measure", "class", "value"])
    exp, model = result.config.experiment, result.config.model
    for v in result.variants:
        key = v.variant.key
        for r in v.runs:
            w.writerow([exp, model, key, r.seed, "n_train", "", len(r.train_ids)])
            w.writerow([exp, model, key, r.seed, "accuracy", "", f"{r.accuracy:.6f}"])
            for c, x in r.recall.items():
                w.writerow([exp, model, key, r.seed, "recall", c, f"{x:.6f}"])
            for g, x in r.group_accuracy.items():
                w.writerow([exp, model, key, r.seed, "group_accuracy", g, f"{x:.6f}"])
            for c, x in (r.probe or {}).items():
                w.writerow([exp, model, key, r.seed, "probe", c, f"{x:.6f}"])
            if r.planted:
                w.writerow(
                    [exp, model, key, r.seed, "detective_found", "", f"{len(r.found)}/{len(r.planted)}"]
                )
        for stat in ("mean", "sd"):
            w.writerow([exp, model, key, stat, "accuracy", "", f"{v.accuracy()[stat]:.6f}"])
            for c, ms in v.recall().items():
                w.writerow([exp, model, key, stat, "recall", c, f"{ms[stat]:.6f}"])
    return buf.getvalue()


def _hangul_font() -> str | None:

    wanted = (
        "Noto Sans CJK KR",
        "Noto Sans KR",
        "NanumGothic",
        "Malgun Gothic",
        "AppleGothic",
        "Apple SD Gothic Neo",
        "UnDotum",
        "Baekmuk Gulim",
    )
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in wanted if n in names), None)


def result_png(result: ExperimentResult, lang: str = "ko", *, dpi: int = 110) -> bytes:
    """Accuracy (mean ± sd, one dot per seed) and per-class recall side by side, as PNG bytes.

    Drawn with matplotlib on the server so it also works from the CLI. Without a font
    that has Hangul the labels fall back to English rather than printing empty boxes.
    """

    matplotlib.use("Agg", force=False)

    font = _hangul_font()
    if lang == "ko" and font is None:
        lang = "en"
    rc = {"font.size": 13, **({"font.family": font} if font else {})}
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(13, 5.2), dpi=dpi)
        ax_acc, ax_rec = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
        names = [variant_label(v.variant, lang) for v in result.variants]
        xs = np.arange(len(names))
        means = [v.accuracy()["mean"] for v in result.variants]
        sds = [v.accuracy()["sd"] for v in result.variants]
        ax_acc.bar(xs, means, yerr=sds, capsize=8, color="#56B4E9", edgecolor="black")
        for i, v in enumerate(result.variants):
            ax_acc.scatter([i] * len(v.runs), [r.accuracy for r in v.runs], color="black", s=14, zorder=3)
            ax_acc.text(i, min(means[i] + sds[i] + 0.03, 1.02), f"{means[i]:.0%}", ha="center")
        ax_acc.set_xticks(xs, names, rotation=20, ha="right")
        ax_acc.set_ylim(0, 1.08)
        ax_acc.set_title(text("lab.accuracy", lang))
        classes = list(dict.fromkeys(c for v in result.variants for c in v.variant.classes))
        width = 0.8 / max(len(result.variants), 1)
        for i, v in enumerate(result.variants):
            rec = v.recall()
            ys = [rec.get(c, {"mean": np.nan})["mean"] for c in classes]
            es = [rec.get(c, {"sd": 0.0})["sd"] for c in classes]
            ax_rec.bar(
                np.arange(len(classes)) + (i - (len(result.variants) - 1) / 2) * width,
                ys,
                width,
                yerr=es,
                capsize=3,
                label=names[i],
                edgecolor="black",
                color=[class_color(c) for c in classes],
                alpha=0.35 + 0.65 * (i + 1) / len(result.variants),
                hatch=["", "//", "..", "xx", "\\\\", "++"][i % 6],
            )
        ax_rec.set_xticks(np.arange(len(classes)), [_class_word(c, lang) for c in classes])
        ax_rec.set_ylim(0, 1.08)
        ax_rec.set_title(text("lab.recall", lang))
        ax_rec.legend(fontsize=10, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(3, len(names)))
        fig.suptitle(
            text(
                "lab.png_title",
                lang,
                experiment=text(f"lab.exp.{result.config.experiment}", lang),
                model=text(f"lab.model_name.{result.config.model}", lang),
                repeats=len(result.config.seeds),
            ),
            fontsize=15,
        )
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()


# --------------------------------------------------------------------------- figures (plotly)


def accuracy_figure(result: ExperimentResult, lang: str = "ko", *, height: int = 420) -> go.Figure:
    """One bar per variant: mean accuracy with ± sd error bars and a dot for every seed."""

    names = [variant_label(v.variant, lang) for v in result.variants]
    acc = [v.accuracy() for v in result.variants]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[a["mean"] for a in acc],
            error_y={
                "type": "data",
                "array": [a["sd"] for a in acc],
                "color": "#000000",
                "thickness": 3,
                "width": 14,
            },
            marker={"color": "#56B4E9", "line": {"color": "#000000", "width": 2}},
            text=[f"{a['mean']:.0%}" for a in acc],
            textposition="inside",
            insidetextanchor="start",
            hovertemplate="%{x}: %{y:.1%}<extra></extra>",
            name=text("lab.accuracy", lang),
        )
    )
    fig.add_scatter(
        x=[n for n, v in zip(names, result.variants, strict=True) for _ in v.runs],
        y=[r.accuracy for v in result.variants for r in v.runs],
        mode="markers",
        marker={"color": "#000000", "size": 9, "symbol": "circle-open", "line": {"width": 2}},
        name=text("lab.seed_dots", lang),
        hovertemplate="seed: %{y:.1%}<extra></extra>",
    )
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    style(fig, text("lab.accuracy", lang), height, legend=True)
    return fig


def recall_figure(result: ExperimentResult, lang: str = "ko", *, height: int = 460) -> go.Figure:
    """Per-class recall, variants side by side (mean ± sd); bars keep each class's colour."""

    classes = list(dict.fromkeys(c for v in result.variants for c in v.variant.classes))
    patterns = ["", "/", ".", "x", "\\", "+"]
    fig = go.Figure()
    for i, v in enumerate(result.variants):
        rec = v.recall()
        fig.add_bar(
            name=variant_label(v.variant, lang),
            x=[_class_word(c, lang) for c in classes],
            y=[rec[c]["mean"] if c in rec else None for c in classes],
            error_y={
                "type": "data",
                "array": [rec[c]["sd"] if c in rec else 0 for c in classes],
                "color": "#000000",
                "thickness": 2,
            },
            marker={
                "color": [class_color(c) for c in classes],
                "line": {"color": "#000000", "width": 2},
                "pattern": {"shape": patterns[i % len(patterns)], "fgcolor": "#000000"},
                "opacity": 0.45 + 0.55 * (i + 1) / len(result.variants),
            },
            hovertemplate="%{x}: %{y:.1%}<extra>" + variant_label(v.variant, lang) + "</extra>",
        )
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    fig.update_layout(barmode="group")
    style(fig, text("lab.recall", lang), height, legend=True)
    return fig


def groups_figure(result: ExperimentResult, lang: str = "ko", *, height: int = 420) -> go.Figure:
    """Accuracy on each age group's test photos, variants side by side (mean ± sd)."""

    groups = sorted({g for v in result.variants for g in v.group_accuracy()})
    fig = go.Figure()
    colors = ["#E69F00", "#0072B2", "#009E73", "#CC79A7"]
    for i, v in enumerate(result.variants):
        ga = v.group_accuracy()
        fig.add_bar(
            name=variant_label(v.variant, lang),
            x=[_group_word(g, lang) for g in groups],
            y=[ga[g]["mean"] for g in groups],
            error_y={"type": "data", "array": [ga[g]["sd"] for g in groups], "color": "#000000"},
            marker={"color": colors[i % len(colors)], "line": {"color": "#000000", "width": 2}},
        )
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    fig.update_layout(barmode="group")
    style(fig, text("lab.groups_chart", lang), height, legend=True)
    return fig
