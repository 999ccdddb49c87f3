"""The house rules of shared/DESIGN.md that code review alone would let slip."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_edu_core_never_imports_streamlit_except_the_ui_adapter():
    offenders = [
        p.name
        for p in sorted((ROOT / "edu_core").glob("*.py"))
        if p.name != "ui.py" and "streamlit" in _imports(p)
    ]
    assert offenders == []


def test_no_deprecated_streamlit_width_argument():
    # Streamlit 1.67 logs a deprecation warning for every use_container_width call, thousands per
    # lesson in the server terminal; width="stretch" / "content" is the current spelling.
    sources = [
        ROOT / "app.py",
        *sorted((ROOT / "views").glob("*.py")),
        *sorted((ROOT / "edu_core").glob("*.py")),
    ]
    offenders = [p.name for p in sources if "use_container_width" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_edu_core_has_no_network_clients():
    # Photos never leave the machine: no network client library is imported anywhere in the core.
    # (ui.py reads this computer's own interface address for the join link; see the next test.)
    banned = {"requests", "urllib3", "httpx", "aiohttp", "http", "ftplib", "smtplib", "socket"}
    offenders = {p.name: _imports(p) & banned for p in (ROOT / "edu_core").glob("*.py") if p.name != "ui.py"}
    assert {k: v for k, v in offenders.items() if v} == {}
    assert _imports(ROOT / "edu_core" / "ui.py") & (banned - {"socket"}) == set()


def test_join_link_address_is_found_without_connecting(monkeypatch):
    import socket

    from edu_core import ui

    def refuse(*args, **kwargs):
        raise AssertionError("lan_address must not open a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "sendto", refuse)
    address = ui.lan_address()
    assert socket.inet_aton(address)


def test_usage_statistics_are_off():
    import tomllib

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert cfg["browser"]["gatherUsageStats"] is False
