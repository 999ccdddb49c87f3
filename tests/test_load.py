"""A small class on a real ``streamlit run`` server: nothing fails and nothing is lost.

The full-size run (30 students x 60 photos) is ``bench/load.py``; this is the same lesson,
same client and same checks at a size CI can afford on two cores.
"""

from __future__ import annotations

import pytest
from classroom import run_class, running_server, verify_store

from edu_core.store import Store

pytestmark = pytest.mark.slow


def test_three_students_whole_lesson_at_once(tmp_path):
    data = tmp_path / "data"
    db = Store(data)
    klass, _ = db.create_class("부하 시험", "4321")
    db.close()
    with running_server(data, tmp_path / "server.log") as server:
        report = run_class(server, klass.join_code, students=3, per_class=3, stagger=0.1)
        assert report.all_errors() == []
        assert all(r.finished for r in report.students)
        # Every photo the page acknowledged is stored exactly once, with the label it was given.
        assert [len(r.acknowledged) for r in report.students] == [15, 15, 15]
        assert verify_store(data, report) == []
    # Three students, three different resume codes, three workspaces.
    assert len({r.code for r in report.students}) == 3
    assert report.page_loads, "the probe tab never loaded a page"


def test_client_sees_a_page_error_as_an_error(tmp_path):
    """The load client must not be blind: a wrong join code shows the store's error box."""
    from classroom import _t
    from stclient import StreamlitClient

    data = tmp_path / "data"
    Store(data).close()
    with running_server(data, tmp_path / "server.log") as server, StreamlitClient(server.url) as c:
        c.open("")
        c.set_value(c.widget("text_input", label=_t("home.join_code")), string_value="NOPE-NOPE")
        c.set_value(c.widget("text_input", label=_t("home.nickname")), string_value="x")
        run = c.click(c.widget("button", label=_t("home.join_button")))
        assert run.errors(), run.text()
        assert "s" not in c.query


def test_first_request_after_start_can_be_a_deep_link(tmp_path):
    """A tab reconnecting to a restarted server asks for /collect first: app.py must still run.

    With a folder called ``pages/`` next to app.py, Streamlit would pick its old folder-based
    navigation for such a first request (no sidebar, no language, file names as menu); the
    pages live in ``views/`` so that can never happen.
    """
    from classroom import _t
    from stclient import StreamlitClient

    data = tmp_path / "data"
    Store(data).close()
    with running_server(data, tmp_path / "server.log") as server, StreamlitClient(server.url) as c:
        run = c.open("collect")
        want = {"", "collect", "label", "split", "train", "evaluate", "lab", "korean7", "teacher"}
        assert set(c.pages) == want
        assert any(_t("sidebar.mode") in r.label for r in run.kinds("radio")), "app.py did not run"
        assert _t("common.need_join") in run.text()
