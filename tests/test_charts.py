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


# --- readable on a projector, Korean included (issue 15: what a class met in a whole lesson) ---------


def test_titles_have_room_and_a_korean_font():
    fig = charts.probability_bars([0.2] * 5, title="손실 (작을수록 좋아요)")
    assert fig.layout.margin.t >= 70 and fig.layout.title.automargin is False
    assert fig.layout.title.yref == "container" and fig.layout.title.yanchor == "top"
    assert "Noto Sans KR" in fig.layout.font.family and fig.layout.font.family.endswith("sans-serif")
    # the two subplot titles ("손실 (작을수록 좋아요)") were cut in half by a 20 px top margin
    curves = charts.training_curves([{"epoch": 1, "loss": 1.0, "acc": 0.5}])
    assert curves.layout.margin.t >= 60
    assert all(a.yanchor == "bottom" for a in curves.layout.annotations)


def test_split_counts_are_written_in_white_boxes_not_on_the_hatching():
    fig = charts.split_bars({"joy": 16, "sadness": 16}, {"joy": 4, "sadness": 4})
    assert all(d.text is None for d in fig.data)
    boxes = [a for a in fig.layout.annotations if a.bgcolor == "#FFFFFF"]
    assert sorted(a.text for a in boxes) == ["16", "16", "4", "4"]
    test_box = next(a for a in boxes if a.text == "4" and a.x == LESSON_NAMES[0])
    assert test_box.y == pytest.approx(16 + 4 / 2)  # in the middle of the test-photo segment
    assert fig.layout.legend.y >= 1 and fig.layout.legend.yanchor == "bottom"  # above, not on the bars


def test_recall_labels_stay_clear_of_the_error_bars_which_are_explained():
    fig = charts.recall_bars(
        [0.75, 0.5, 0.6, 0.7, 1.0], low=[0.41, 0.3, 0.5, 0.6, 0.9], high=[0.93, 0.7, 0.7, 0.8, 1.0]
    )
    bar = fig.data[0]
    assert bar.text is None  # not at the top of the bar, where the error bar runs
    labels = {a.x: a for a in fig.layout.annotations}
    assert labels[LESSON_NAMES[0]].text == "75%" and labels[LESSON_NAMES[0]].y == 0
    assert labels[LESSON_NAMES[0]].bgcolor == "#FFFFFF"
    assert "95%" in bar.hovertemplate and list(bar.customdata[0]) == pytest.approx([0.41, 0.93])


def test_confusion_axis_title_has_room_beside_the_class_names():
    fig = charts.confusion_heatmap(np.eye(5))
    assert fig.layout.yaxis.title.text == "정답" and fig.layout.yaxis.title.standoff >= 12
    assert fig.layout.margin.l >= 40 + charts.FONT_SIZE * 2 + charts.FONT_SIZE  # two-syllable names


def test_student_legend_sits_beside_the_bars():
    fig = charts.student_class_bars({"토끼": {"joy": 3}, "곰": {"anger": 2}})
    assert fig.layout.legend.x > 1 and fig.layout.legend.orientation == "v"
    assert fig.layout.legend.traceorder == "normal"  # lesson order, not plotly's reversed stack order
    assert fig.layout.height >= 200 + 40 * 5  # the five-class legend fits without a scrollbar


def test_empty_count_charts_tick_whole_photos():
    fig = charts.class_count_bars({})
    assert fig.layout.yaxis.tickformat == "d" and fig.layout.yaxis.dtick == 1
    fig = charts.class_count_bars({"joy": 400})
    assert fig.layout.yaxis.tickformat == "d" and fig.layout.yaxis.dtick is None  # plotly's steps
    assert charts.split_bars({}, {}).layout.yaxis.dtick == 1


def test_probability_bars_for_narrow_panels_drop_the_decimals():
    fig = charts.probability_bars([1.0, 0, 0, 0, 0], decimals=0)
    assert list(fig.data[0].text) == ["100%", "0%", "0%", "0%", "0%"]
