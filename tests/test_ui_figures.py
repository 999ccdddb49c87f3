"""ui.figure builds each chart once per distinct input and stays bounded."""

from __future__ import annotations

from edu_core import charts, ui


def test_same_input_same_figure_other_input_new_figure(monkeypatch):
    monkeypatch.setattr(ui, "_FIGURES", type(ui._FIGURES)())
    calls = []

    def bars(counts, **kw):
        calls.append(counts)
        return charts.class_count_bars(counts, **kw)

    a = ui.figure(bars, {"joy": 3, "anger": 1}, lang="ko", title="t")
    b = ui.figure(bars, {"anger": 1, "joy": 3}, lang="ko", title="t")  # same counts, other order
    c = ui.figure(bars, {"joy": 4, "anger": 1}, lang="ko", title="t")
    d = ui.figure(bars, {"joy": 3, "anger": 1}, lang="en", title="t")
    assert a is b
    assert c is not a and d is not a
    assert len(calls) == 3
    assert list(c.data[0].y) != list(a.data[0].y)


def test_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(ui, "_FIGURES", type(ui._FIGURES)())
    monkeypatch.setattr(ui, "FIGURE_CACHE_SIZE", 4)
    for n in range(10):
        ui.figure(charts.class_count_bars, {"joy": n})
    assert len(ui._FIGURES) == 4
