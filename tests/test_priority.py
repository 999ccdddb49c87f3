"""Batch work (finding faces, training) runs below the pages' priority; page threads keep theirs."""

from __future__ import annotations

import sys

import pytest

from edu_core import faces
from edu_core.priority import BACKGROUND_NICE, thread_nice

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="thread priorities are Linux-only"
)


def test_face_finding_threads_are_lowered_and_the_caller_is_not(monkeypatch):
    seen: list[int | None] = []
    real = faces.extract

    def spy(*args, **kwargs):
        seen.append(thread_nice())
        return real(*args, **kwargs)

    monkeypatch.setattr(faces, "extract", spy)
    before = thread_nice()
    faces.extract_many([b"not a photo"] * 3, workers=2)
    assert seen and all(n is not None and n >= BACKGROUND_NICE for n in seen)
    assert thread_nice() == before  # the page thread that asked is untouched
