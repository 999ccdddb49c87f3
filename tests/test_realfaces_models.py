"""The real-photo model bench: without the dev set it says so and exits 0; splits never share a person."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("realfaces_models", ROOT / "bench" / "realfaces_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_without_the_dev_set_it_says_so_and_exits_0(monkeypatch, capsys):
    bench = _bench()
    monkeypatch.delenv(bench.ENV, raising=False)
    assert bench.main([]) == 0
    assert bench.ENV in capsys.readouterr().out


def test_a_folder_without_labels_is_named(monkeypatch, capsys, tmp_path):
    bench = _bench()
    monkeypatch.setenv(bench.ENV, str(tmp_path))
    assert bench.main([]) == 0
    assert "labels.csv" in capsys.readouterr().out


def test_person_split_keeps_every_person_on_one_side_and_each_source_in_test():
    bench = _bench()
    rng = np.random.default_rng(0)
    people = [f"p{int(i)}" for i in rng.integers(0, 40, 300)]
    sources = ["a" if int(p[1:]) < 25 else "b" for p in people]
    train, test = bench.person_split(people, sources, 1 / 3, seed=0)
    assert sorted(train + test) == list(range(len(people)))
    assert not {people[i] for i in train} & {people[i] for i in test}
    assert {sources[i] for i in test} == {"a", "b"}
    # the same seed gives the same test people; another seed other ones
    assert bench.person_split(people, sources, 1 / 3, seed=0)[1] == test
    assert bench.person_split(people, sources, 1 / 3, seed=1)[1] != test


@pytest.mark.skipif(
    not os.environ.get("EXPRESSION_LAB_REALFACES"), reason="no real-photo dev set (DEVSET.md)"
)
def test_every_task_class_is_in_the_dev_set():
    bench = _bench()
    rows = bench.read_rows(Path(os.environ["EXPRESSION_LAB_REALFACES"]).expanduser())
    for sources, classes in bench.TASKS.values():
        present = {r["class"] for r in rows if r["source"] in sources}
        assert set(classes) <= present
