"""The house's arrows (shared/DESIGN.md), read from the source with ``ast``, never by importing it.

Every import counts, at module level and inside functions (a function-level import is still an
arrow, only a hidden one); imports under ``if TYPE_CHECKING:`` do not, since they never run.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = "edu_core"
#: the folders whose source files are held to the size limit (locales/, lessons/ and
#: sample_images/ are data, not source)
SIZED = ("edu_core", "webui", "views", "bench", "tests")
MAX_LINES = 600
#: what a page (views/ and app.py) may import besides the standard library
PAGE_ROOTS = {"streamlit", "webui", LIBRARY}
#: what the library may never import
NOT_FROM_LIBRARY = {"streamlit", "webui", "views"}


@dataclass(frozen=True)
class Import:
    """One imported thing: ``module`` (absolute) and, for ``from m import name``, the ``name``."""

    source: str
    line: int
    module: str
    name: str | None = None


def module_name(path: Path, root: Path = ROOT) -> str:
    """``edu_core/store/db.py`` → ``edu_core.store.db``; a package's ``__init__.py`` is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imports_of(path: Path, known: set[str], root: Path = ROOT) -> list[Import]:
    """Every import in ``path``, relative ones made absolute; ``from m import sub`` names the
    submodule ``m.sub`` when that is one of ``known``."""
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: list[Import] = []
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [Import(me, node.lineno, a.name) for a in node.names]
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if package else []
            module = ".".join([*base, node.module] if node.module else base)
        else:
            module = node.module or ""
        for alias in node.names:
            sub = f"{module}.{alias.name}"
            if sub in known:
                out.append(Import(me, node.lineno, sub))
            else:
                out.append(Import(me, node.lineno, module, alias.name))
    return out


def _sources(folder: str) -> list[Path]:
    base = ROOT / folder
    return sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts) if base.is_dir() else []


def _scanned() -> dict[str, list[Import]]:
    files = [*_sources(LIBRARY), *_sources("webui"), *_sources("views"), ROOT / "app.py"]
    files = [f for f in files if f.exists()]
    known = {module_name(f) for f in files}
    return {module_name(f): imports_of(f, known) for f in files}


SCANNED = _scanned()


def _top(module: str) -> str:
    return module.split(".")[0]


def _library_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for mod, imps in SCANNED.items():
        if _top(mod) == LIBRARY:
            graph[mod] = {i.module for i in imps if i.module in SCANNED and _top(i.module) == LIBRARY}
    return graph


def tangles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components (Tarjan) that hold a cycle, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return sorted(components)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per tangle, each as ``[a, b, ..., a]``."""
    return [_shortest_cycle(graph, comp) for comp in tangles(graph)]


def _shortest_cycle(graph: dict[str, set[str]], comp: list[str]) -> list[str]:
    """The shortest cycle through the component's first module (breadth-first, inside it)."""
    start, members = comp[0], set(comp)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, ())):
                if w == start:
                    return [*paths[v], start]
                if w in members and w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle through {start} in {comp}")


def _where(i: Import) -> str:
    what = f"{i.module}.{i.name}" if i.name else i.module
    return f"{i.source}:{i.line} imports {what}"


# ---------------------------------------------------------------------------------- checks


def test_the_scanner_sees_hidden_relative_and_guarded_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import b\n"
        "from .sub import c as _c, thing\n"
        "if TYPE_CHECKING:\n    import never\n"
        "def f():\n    import streamlit as st\n    from ..outside import x\n"
    )
    for name in ("b.py", "sub/c.py"):
        (pkg / name).write_text("")
    known = {"pkg", "pkg.a", "pkg.b", "pkg.sub", "pkg.sub.c"}
    got = {(i.module, i.name) for i in imports_of(pkg / "a.py", known, tmp_path)}
    assert got == {
        ("typing", "TYPE_CHECKING"),
        ("pkg.b", None),
        ("pkg.sub.c", None),
        ("pkg.sub", "thing"),
        ("streamlit", None),
        ("outside", "x"),  # one level above the top package: reported as it is written
    }
    page = tmp_path / "page.py"
    page.write_text(
        "from edu_core import ui\nimport edu_core.store as s\n\nui._helper()\ns.Store\nui.__doc__\n"
    )
    assert private_library_uses(page, tmp_path) == ["page:4 uses edu_core.ui._helper"]
    graph = {"a": {"b"}, "b": {"c", "a"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert tangles(graph) == [["a", "b", "c"], ["d"]]
    assert cycles(graph) == [["a", "b", "a"], ["d", "d"]]


def test_no_import_cycles_in_the_library():
    graph = _library_graph()
    assert len(graph) > 10, f"only {sorted(graph)} found under {LIBRARY}/"
    found = [
        f"{' → '.join(cycle)} (tangle: {', '.join(comp)})"
        for cycle, comp in zip(cycles(graph), tangles(graph), strict=True)
    ]
    assert found == [], "import cycles: " + "; ".join(found)


def test_the_library_never_imports_streamlit_webui_or_views():
    offenders = [
        _where(i)
        for mod, imps in SCANNED.items()
        if _top(mod) == LIBRARY
        for i in imps
        if _top(i.module) in NOT_FROM_LIBRARY
    ]
    assert offenders == [], "\n".join(offenders)


def _page_may_import(i: Import) -> bool:
    top = _top(i.module)
    if top in sys.stdlib_module_names or top == "__future__":
        return True
    if top not in PAGE_ROOTS:
        return False
    if top != LIBRARY:
        return True
    private = [p for p in i.module.split(".")[1:] if p.startswith("_")]
    return not private and not (i.name or "").startswith("_")


def private_library_uses(path: Path, root: Path = ROOT) -> list[str]:
    """``module._name`` where ``module`` is a library module bound by an import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    bound: dict[str, str] = {}
    for node in _import_nodes(tree):
        for alias in node.names:
            if isinstance(node, ast.Import) and alias.asname and _top(alias.name) == LIBRARY:
                bound[alias.asname] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module and _top(node.module) == LIBRARY:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return [
        f"{module_name(path, root)}:{n.lineno} uses {bound[n.value.id]}.{n.attr}"
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute)
        and isinstance(n.value, ast.Name)
        and n.value.id in bound
        and n.attr.startswith("_")
        and not n.attr.startswith("__")
    ]


def test_pages_import_only_webui_public_library_names_streamlit_and_stdlib():
    pages = [m for m in SCANNED if m == "app" or _top(m) == "views"]
    assert "app" in pages and len(pages) > 1, pages
    offenders = [_where(i) for m in pages for i in SCANNED[m] if not _page_may_import(i)]
    offenders += [u for p in [ROOT / "app.py", *_sources("views")] for u in private_library_uses(p)]
    assert offenders == [], "\n".join(offenders)


def test_no_source_file_over_600_lines():
    files = [p for folder in SIZED for p in _sources(folder)] + [ROOT / "app.py"]
    sizes = {p.relative_to(ROOT).as_posix(): len(p.read_text(encoding="utf-8").splitlines()) for p in files}
    assert len(sizes) > 50, sorted(sizes)
    over = {name: n for name, n in sorted(sizes.items()) if n > MAX_LINES}
    assert over == {}, "\n".join(f"{name}: {n} lines" for name, n in over.items())
