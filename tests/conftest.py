"""Shared fixtures: one MediaPipe landmarker per test session (loading it costs ~0.1 s)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Never touch a real class database from tests.
os.environ.setdefault("EXPRESSION_LAB_DATA", str(ROOT / ".pytest_cache" / "lab-data"))


@pytest.fixture(scope="session")
def landmarker():
    from edu_core.faces import Landmarker

    with Landmarker() as lm:
        yield lm
