"""Plotly figures and annotated pictures for the lesson, built for a classroom projector.

Every builder returns a ``go.Figure`` (or a new image array) and never touches Streamlit, so the
same charts work in tests, notebooks and the CLI. The five lesson classes always appear in
:data:`edu_core.labels.LESSON_CLASSES` order with the same Okabe–Ito colour on every chart, so
students learn "orange is joy" once.

The package has one module per audience: :mod:`~edu_core.charts.theme` (the shared look),
:mod:`~edu_core.charts.lesson` (the lesson's charts), :mod:`~edu_core.charts.lab` (fairness and
the lab's comparisons), :mod:`~edu_core.charts.pictures` (annotated face pictures) and
:mod:`~edu_core.charts.cli`. Callers use ``edu_core.charts.<name>``: the names below are its API.
"""

from edu_core.charts.cli import _main
from edu_core.charts.lab import effect_bars, fairness_bars, student_class_bars
from edu_core.charts.lesson import (
    add_cell_targets,
    class_count_bars,
    confusion_heatmap,
    probability_bars,
    recall_bars,
    scarce_classes,
    split_bars,
    training_curves,
)
from edu_core.charts.pictures import PIECE_COLORS, draw_face_box, draw_pieces, top_blendshapes
from edu_core.charts.theme import (
    ACCURACY_COLOR,
    CLASS_COLORS,
    FONT_FAMILY,
    FONT_SIZE,
    KEEP_COLOR,
    TEST_COLOR,
    TITLE_MARGIN,
    TRAIN_COLOR,
    class_color,
    count_axis,
    ordered_classes,
    style,
)

__all__ = [
    "ACCURACY_COLOR",
    "CLASS_COLORS",
    "FONT_FAMILY",
    "FONT_SIZE",
    "KEEP_COLOR",
    "PIECE_COLORS",
    "TEST_COLOR",
    "TITLE_MARGIN",
    "TRAIN_COLOR",
    "_main",
    "add_cell_targets",
    "class_color",
    "class_count_bars",
    "confusion_heatmap",
    "count_axis",
    "draw_face_box",
    "draw_pieces",
    "effect_bars",
    "fairness_bars",
    "ordered_classes",
    "probability_bars",
    "recall_bars",
    "scarce_classes",
    "split_bars",
    "student_class_bars",
    "style",
    "top_blendshapes",
    "training_curves",
]
