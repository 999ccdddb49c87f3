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


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_edu_core_never_imports_streamlit_webui_or_views():
    banned = {"streamlit", "webui", "views"}
    offenders = {str(p.relative_to(ROOT)): _imports(p) & banned for p in _sources("edu_core")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_views_and_app_reach_only_webui_edu_core_and_streamlit():
    # Pages are thin: lesson text, webui widgets, a few edu_core calls; never another page's code.
    first_party = {"edu_core", "webui", "views", "tests", "bench"}
    for p in [ROOT / "app.py", *_sources("views")]:
        assert _imports(p) & first_party <= {"edu_core", "webui"}, p.name
    offenders = {p.name: _imports(p) & {"views"} for p in _sources("webui")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_webui_has_no_import_cycle():
    graph: dict[str, set[str]] = {}
    for p in _sources("webui"):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        deps = set()
        for node in tree.body:  # module-level imports: the ones that run when the module loads
            if isinstance(node, ast.ImportFrom) and node.module == "webui":
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("webui."):
                deps.add(node.module.split(".")[1])
        graph[p.stem] = deps - {p.stem}
    done: set[str] = set()

    def visit(mod: str, path: tuple[str, ...]) -> None:
        assert mod not in path, " -> ".join((*path, mod))
        if mod in done:
            return
        for dep in graph.get(mod, ()):
            visit(dep, (*path, mod))
        done.add(mod)

    for mod in graph:
        visit(mod, ())


def test_no_deprecated_streamlit_width_argument():
    # Streamlit 1.67 logs a deprecation warning for every use_container_width call, thousands per
    # lesson in the server terminal; width="stretch" / "content" is the current spelling.
    sources = [ROOT / "app.py", *_sources("views"), *_sources("webui"), *_sources("edu_core")]
    offenders = [p.name for p in sources if "use_container_width" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_edu_core_has_no_network_clients():
    # Photos never leave the machine: no network client library is imported anywhere in the core.
    # (netinfo reads this computer's own interface address for the join link; see the next test.)
    banned = {"requests", "urllib3", "httpx", "aiohttp", "http", "ftplib", "smtplib", "socket"}
    netinfo = ROOT / "edu_core" / "netinfo.py"
    offenders = {p.name: _imports(p) & banned for p in _sources("edu_core") if p != netinfo}
    assert {k: v for k, v in offenders.items() if v} == {}
    assert _imports(netinfo) & (banned - {"socket"}) == set()


def test_join_link_address_is_found_without_connecting(monkeypatch):
    import socket

    from edu_core import netinfo

    def refuse(*args, **kwargs):
        raise AssertionError("lan_address must not open a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "sendto", refuse)
    address = netinfo.lan_address()
    assert socket.inet_aton(address)


def test_usage_statistics_are_off():
    import tomllib

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert cfg["browser"]["gatherUsageStats"] is False
