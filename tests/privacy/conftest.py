"""Fixtures of the privacy tests: the two-student data folder, copied fresh for every test."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import face_variants as fv
import pytest
from privacy_world import TEACHER_PASSWORD, build_world
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage


@pytest.fixture(scope="module")
def base_face():
    from edu_core import faces

    face = faces.extract(fv.to_jpeg(fv.astronaut()))
    assert face.ok
    return face


@pytest.fixture(scope="module")
def template(tmp_path_factory, base_face):
    root = tmp_path_factory.mktemp("privacy") / "lab"
    world = build_world(root, base_face)
    world.db.close()
    return world


@pytest.fixture()
def world(template, tmp_path, monkeypatch):
    """A private copy of the two-student data folder, opened as the app opens it."""
    from edu_core.store import open_store
    from webui import resources

    root = tmp_path / "lab"
    shutil.copytree(template.root, root)
    monkeypatch.setenv("EXPRESSION_LAB_DATA", str(root))
    monkeypatch.setenv("EXPRESSION_LAB_TEACHER_PASSWORD", TEACHER_PASSWORD)
    resources._resume_failures.clear()  # the server-wide guessing brake is per process: start each test clean
    resources._password_failures.clear()
    yield dataclasses.replace(template, root=root, db=open_store(root))
    resources._resume_failures.clear()  # and leave no wrong guesses behind for later tests
    resources._password_failures.clear()


@pytest.fixture()
def media(monkeypatch):
    """Every file (picture, download) any AppTest session hands to its browser, as bytes."""
    sent: list[tuple[bytes, str]] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        data = path_or_data if isinstance(path_or_data, bytes) else Path(path_or_data).read_bytes()
        sent.append((data, mimetype))
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return sent
