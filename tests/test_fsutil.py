"""fsutil.atomic_write: whole old or whole new content, never a stray part file."""

from __future__ import annotations

import os
import stat

import pytest

from edu_core import fsutil


def test_replaces_whole_file_and_leaves_no_part(tmp_path):
    target = tmp_path / "model.json"
    target.write_text("old")
    assert fsutil.atomic_write(target, "새 내용") is True
    assert target.read_text(encoding="utf-8") == "새 내용"
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_exclusive_keeps_the_first_file(tmp_path):
    target = tmp_path / "teacher.json"
    assert fsutil.atomic_write(target, b"first", exclusive=True) is True
    assert fsutil.atomic_write(target, b"second", exclusive=True) is False
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["teacher.json"]


def test_mode_and_tmp_dir(tmp_path):
    tmp_dir = tmp_path / "tmp"
    tmp_dir.mkdir()
    target = tmp_path / "secret"
    fsutil.atomic_write(target, b"x", mode=0o600, tmp_dir=tmp_dir, durable=False)
    assert stat.S_IMODE(target.stat().st_mode) & 0o077 == 0
    assert list(tmp_dir.iterdir()) == []


def test_failed_write_keeps_old_content(tmp_path, monkeypatch):
    target = tmp_path / "labels.csv"
    target.write_text("old")

    def boom(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        fsutil.atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.csv"]
