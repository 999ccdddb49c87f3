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


def test_edu_core_has_no_network_clients():
    # Photos never leave the machine: no HTTP client library is imported anywhere in the core.
    banned = {"requests", "urllib3", "httpx", "aiohttp", "socket", "http"}
    offenders = {p.name: _imports(p) & banned for p in (ROOT / "edu_core").glob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_usage_statistics_are_off():
    import tomllib

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert cfg["browser"]["gatherUsageStats"] is False
