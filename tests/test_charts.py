"""Charts: fixed class order and colours, projector-sized fonts, correct numbers on the bars."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from edu_core import charts
from edu_core.i18n import class_name, t
from edu_core.labels import LESSON_CLASSES

OKABE_ITO = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"}
LESSON_NAMES = [class_name(c) for c in LESSON_CLASSES]
LESSON_COLORS = [charts.CLASS_COLORS[c] for c in LESSON_CLASSES]


def test_palette_is_okabe_ito_and_one_colour_per_class():
    assert set(charts.CLASS_COLORS.values()) <= OKABE_ITO
    assert len(set(charts.CLASS_COLORS.values())) == len(charts.CLASS_COLORS)


def test_probability_bars_keep_lesson_order_whatever_the_input_order():
    # The lesson's mislabelled-model example: nothing is sure, sadness is highest.
    probs = {"neutral": 0.064, "anger": 0.010, "surprise": 0.366, "sadness": 0.542, "joy": 0.018}
    fig = charts.probability_bars(probs)
    bar = fig.data[0]
    assert isinstance(fig, go.Figure)
    assert list(bar.y) == LESSON_NAMES
    assert list(bar.marker.color) == LESSON_COLORS
    assert list(bar.text) == ["1.8%", "54.2%", "36.6%", "1.0%", "6.4%"]
    widths = list(bar.marker.line.width)
    assert widths.index(max(widths)) == 1  # the most likely class (sadness) is outlined
    assert fig.layout.font.size >= 18


def test_probability_bars_accept_a_sequence_and_english():
    fig = charts.probability_bars([0.968, 0, 0, 0.032, 0], lang="en")
    assert list(fig.data[0].y) == ["joy", "sadness", "surprise", "anger", "neutral"]
    with pytest.raises(ValueError, match="5 classes"):
        charts.probability_bars([0.5, 0.5])


def test_class_counts_mark_the_scarce_class():
    # The lesson's imbalance example: 40 joy photos, 20 sadness photos.
    fig = charts.class_count_bars(
        {"joy": 40, "sadness": 20, "surprise": 40, "anger": 40, "neutral": 40}, imbalance_ratio=0.6
    )
    bar = fig.data[0]
    assert list(bar.x) == LESSON_NAMES
    assert list(bar.y) == [40, 20, 40, 40, 40]
    shapes = list(bar.marker.pattern.shape)
    assert shapes[1] == "/" and shapes.count("/") == 1
    assert "⚠" in bar.text[1] and "⚠" not in bar.text[0]


def test_class_counts_fill_missing_classes_with_zero():
    fig = charts.class_count_bars({"joy": 3})
    assert list(fig.data[0].y) == [3, 0, 0, 0, 0]
    assert charts.scarce_classes({"joy": 3, "anger": 0}) == ["anger"]


def test_confusion_heatmap_counts_and_row_shares():
    m = np.array([[8, 0, 0, 2, 0], [0, 5, 0, 0, 5], [0, 0, 6, 4, 0], [0, 0, 3, 7, 0], [0, 1, 0, 0, 9]])
    fig = charts.confusion_heatmap(m)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (5, 5)
    assert np.allclose(z.sum(axis=1), 1.0)
    assert z[0, 0] == pytest.approx(0.8)
    texts = {(a.x, a.y): a.text for a in fig.layout.annotations}
    assert texts[(LESSON_NAMES[3], LESSON_NAMES[2])] == "4"  # true surprise called anger 4 times
    dark = [a for a in fig.layout.annotations if a.font.color == "#FFFFFF"]
    assert {a.text for a in dark} == {"8", "6", "7", "9"}  # dark cells get white text
    with pytest.raises(ValueError, match="does not match"):
        charts.confusion_heatmap(np.zeros((3, 3)))


def test_confusion_heatmap_with_an_empty_row():
    fig = charts.confusion_heatmap(np.zeros((5, 5), dtype=int))
    assert np.asarray(fig.data[0].z).sum() == 0


def test_training_curves_grow_epoch_by_epoch():
    history = [
        {"epoch": 1, "train_loss": 1.5, "val_loss": 1.6, "train_acc": 0.3, "val_acc": 0.25},
        {"epoch": 2, "loss": 1.1, "val_loss": 1.3, "acc": 0.5, "val_acc": 0.45},
    ]
    fig = charts.training_curves(history, total_epochs=20)
    names = [(tr.name, tr.line.dash) for tr in fig.data]
    assert len(fig.data) == 4
    # the dashed line is the validation slice: calling it "test" made it disagree with the test score
    assert ("학습용", "solid") in names and (t("train.val_curve"), "dash") in names
    assert "시험용" not in [n for n, _ in names]
    assert list(fig.data[0].y) == [1.5, 1.1]
    assert tuple(fig.layout.xaxis.range) == (0.5, 20.5)  # the axis shows the whole run from the start
    assert len(charts.training_curves([]).data) == 0  # before the first epoch: empty axes, no error
    refit = history + [{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.7}]
    assert list(charts.training_curves(refit).data[0].y) == [1.5, 1.1]  # the refit pass is not drawn


def test_recall_bars_with_error_bars():
    fig = charts.recall_bars(
        [0.9, 0.5, 0.6, 0.7, 1.0], low=[0.8, 0.3, 0.5, 0.6, 0.9], high=[1.0, 0.7, 0.7, 0.8, 1.0]
    )
    bar = fig.data[0]
    assert list(bar.x) == LESSON_NAMES
    assert list(bar.error_y.array) == pytest.approx([0.1, 0.2, 0.1, 0.1, 0.0])
    assert list(bar.error_y.arrayminus) == pytest.approx([0.1, 0.2, 0.1, 0.1, 0.1])


def test_split_and_student_bars():
    fig = charts.split_bars({"joy": 16, "sadness": 16}, {"joy": 4, "sadness": 4})
    assert [list(d.y)[:2] for d in fig.data] == [[16, 16], [4, 4]]
    fig = charts.student_class_bars({"토끼": {"joy": 3}, "곰": {"anger": 2}})
    assert [d.name for d in fig.data] == LESSON_NAMES
    assert list(fig.data[0].x) == [3, 0]


def test_renamed_classes_show_the_teachers_names():
    fig = charts.probability_bars([0.2] * 5, renamed={"anger": "짜증"})
    assert list(fig.data[0].y)[3] == "짜증"


def test_draw_face_box_returns_a_new_picture():
    rgb = np.full((200, 300, 3), 128, np.uint8)
    out = charts.draw_face_box(rgb, (50, 40, 150, 160))
    assert out.shape == rgb.shape and (rgb == 128).all()  # the input is untouched
    assert tuple(out[100, 50]) == (0xE6, 0x9F, 0x00) or tuple(out[100, 51]) == (0xE6, 0x9F, 0x00)
    assert (out[100, 100] == 128).all()  # inside the box stays as it was


def test_draw_pieces_and_top_blendshapes():
    crop = np.full((256, 256, 3), 200, np.uint8)
    lm = np.zeros((478, 3), np.float32)
    lm[:, 0] = np.linspace(40, 216, 478)
    lm[:, 1] = np.linspace(60, 200, 478)
    out = charts.draw_pieces(crop, lm, scale=2)
    assert out.shape == (512, 512, 3)
    assert (out != 200).any()
    with pytest.raises(ValueError):
        charts.draw_pieces(crop, np.zeros((10, 3)))
    top = charts.top_blendshapes(
        {"_neutral": 0.9, "mouthSmileLeft": 0.8, "jawOpen": 0.1, "browDownLeft": 0.5}
    )
    assert top == [("mouthSmileLeft", 0.8), ("browDownLeft", 0.5)]


def test_cli_writes_offline_html(tmp_path, capsys):
    out = tmp_path / "p.html"
    assert charts._main(["probabilities", "0.018", "0.542", "0.366", "0.01", "0.064", "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "<script src=" not in html  # plotly.js is embedded: works with no internet
    assert len(html) > 1_000_000
    assert "54.2%" in html
