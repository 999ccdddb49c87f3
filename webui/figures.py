"""Plotly figures built once per distinct input and shared by every session."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

_FIGURES: OrderedDict[str, Any] = OrderedDict()
_FIGURES_LOCK = threading.Lock()
FIGURE_CACHE_SIZE = 512


def figure(builder: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``builder(*args, **kwargs)`` from :mod:`edu_core.charts`, built once per distinct input.

    Plotly spends 15-50 ms of pure Python on each figure, holding the GIL that every other
    student's page needs, and the label, split and train pages redraw theirs on every click.
    The figures are shared between sessions: never modify one that came from here. Inputs are
    compared as JSON with sorted keys, so a builder must not depend on a dict's order.
    """
    key = f"{builder.__module__}.{builder.__name__}:"
    key += json.dumps([args, kwargs], sort_keys=True, default=repr)
    with _FIGURES_LOCK:
        fig = _FIGURES.get(key)
        if fig is not None:
            _FIGURES.move_to_end(key)
            return fig
    fig = builder(*args, **kwargs)
    with _FIGURES_LOCK:
        _FIGURES[key] = fig
        while len(_FIGURES) > FIGURE_CACHE_SIZE:
            _FIGURES.popitem(last=False)
    return fig
