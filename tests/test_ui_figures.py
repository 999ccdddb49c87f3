"""figures.figure builds each chart once per distinct input and stays bounded."""

from __future__ import annotations

from edu_core import charts
from webui import figures


def test_same_input_same_figure_other_input_new_figure(monkeypatch):
    monkeypatch.setattr(figures, "_FIGURES", type(figures._FIGURES)())
    calls = []

    def bars(counts, **kw):
        calls.append(counts)
        return charts.class_count_bars(counts, **kw)

    a = figures.figure(bars, {"joy": 3, "anger": 1}, lang="ko", title="t")
    b = figures.figure(bars, {"anger": 1, "joy": 3}, lang="ko", title="t")  # same counts, other order
    c = figures.figure(bars, {"joy": 4, "anger": 1}, lang="ko", title="t")
    d = figures.figure(bars, {"joy": 3, "anger": 1}, lang="en", title="t")
    assert a is b
    assert c is not a and d is not a
    assert len(calls) == 3
    assert list(c.data[0].y) != list(a.data[0].y)


def test_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(figures, "_FIGURES", type(figures._FIGURES)())
    monkeypatch.setattr(figures, "FIGURE_CACHE_SIZE", 4)
    for n in range(10):
        figures.figure(charts.class_count_bars, {"joy": n})
    assert len(figures._FIGURES) == 4
