"""Per-group figures for the bias lesson: the gate's keep rate and the model's accuracy."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from edu_core import charts, fairness
from edu_core.fairness import NO_GROUP, GroupRow
from edu_core.metrics import wilson_bounds


@dataclass(frozen=True)
class Rec:
    id: int
    status: str
    group: str | None
    kept: bool = False


def _recs() -> list[Rec]:
    return [
        Rec(1, "ok", "안경"),
        Rec(2, "rejected", "안경"),
        Rec(3, "rejected", "안경"),
        Rec(4, "ok", "안경", kept=True),  # the student kept it: the gate still said no
        Rec(5, "ok", "안경 없음"),
        Rec(6, "ok", "안경 없음"),
        Rec(7, "rejected", "안경 없음"),
        Rec(8, "ok", None),
    ]


def test_keep_rate_counts_accepted_and_rejected_per_group():
    rows = {r.group: r for r in fairness.group_table(_recs())}
    assert list(rows) == ["안경", "안경 없음", NO_GROUP]  # tagged groups by name, untagged last
    assert (rows["안경"].photos, rows["안경"].passed) == (4, 1)
    assert rows["안경"].keep_rate == pytest.approx(0.25)
    assert (rows["안경 없음"].photos, rows["안경 없음"].passed) == (3, 2)
    assert (rows[NO_GROUP].photos, rows[NO_GROUP].passed) == (1, 1)
    assert all(r.tested == 0 and r.accuracy is None for r in rows.values())  # no model: nothing claimed


def test_accuracy_per_group_from_a_runs_confusion_ids():
    # true joy: 1 right (id 1), 1 answered sadness (id 5); true sadness: 6 and 8 right
    metrics = {"confusion_ids": [[[1], [5]], [[], [6, 8]]]}
    hits = fairness.run_hits(metrics)
    assert hits == {1: True, 5: False, 6: True, 8: True}
    rows = {r.group: r for r in fairness.group_table(_recs(), hits)}
    assert (rows["안경"].tested, rows["안경"].correct) == (1, 1)
    assert (rows["안경 없음"].tested, rows["안경 없음"].correct) == (2, 1)
    assert rows["안경 없음"].accuracy == pytest.approx(0.5)
    assert (rows[NO_GROUP].tested, rows[NO_GROUP].correct) == (1, 1)
    low, high = rows["안경 없음"].accuracy_interval
    expected = wilson_bounds({"g": 0.5}, {"g": 2})
    assert (low, high) == pytest.approx((expected[0]["g"], expected[1]["g"]))
    assert 0 < low < 0.5 < high < 1


def test_test_photos_of_unknown_records_are_left_out():
    rows = fairness.group_table(_recs()[:1], {1: True, 99: False})
    assert [(r.group, r.tested, r.correct) for r in rows] == [("안경", 1, 1)]


def test_empty_input_and_groups_without_photos():
    assert fairness.group_table([]) == []
    assert not fairness.has_groups([])
    assert not fairness.has_groups(fairness.group_table([Rec(1, "ok", None)]))
    empty = GroupRow("안경", 0, 0)
    assert empty.keep_rate is None and empty.accuracy is None
    assert empty.keep_interval == (0.0, 1.0) and empty.accuracy_interval == (0.0, 1.0)
    # a group only the tests know (its gate counts came from elsewhere) still gets a row
    rows = fairness.group_rows({"a": (2, 2)}, {"b": (3, 1)})
    assert [(r.group, r.photos, r.tested) for r in rows] == [("a", 2, 0), ("b", 0, 3)]


def test_fairness_chart_has_two_bars_per_group_with_counts_and_intervals():
    rows = fairness.group_table(_recs(), {1: True, 5: False, 6: True})
    fig = charts.fairness_bars(rows, title="공정성")
    keep, acc = fig.data
    names = ["안경", "안경 없음", "(그룹 없음)"]
    assert list(keep.x) == names and list(acc.x) == names
    assert list(keep.text) == ["1/4", "2/3", "1/1"]
    assert list(acc.text) == ["1/1", "1/2", "–"]  # no test photo: a dash, not a 0 % bar
    assert list(keep.y) == pytest.approx([0.25, 2 / 3, 1.0])
    assert acc.y[2] == 0.0 and acc.textposition[2] == "outside"
    low, high = rows[0].keep_interval
    assert keep.error_y.array[0] == pytest.approx(high - 0.25)
    assert keep.error_y.arrayminus[0] == pytest.approx(0.25 - low)
    assert acc.error_y.array[2] == 0.0  # no interval drawn for a share that does not exist
    assert fig.layout.barmode == "group" and fig.layout.showlegend
    assert keep.marker.color == charts.KEEP_COLOR and acc.marker.color == charts.ACCURACY_COLOR
    assert fig.layout.title.text == "공정성"
    en = charts.fairness_bars(rows, lang="en")
    assert en.data[0].x[2] == "(no group)" and en.data[1].name == "Model right"
