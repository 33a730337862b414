"""sqlchat's own modules import each other without a circle, and the engine never imports the UI.

The graph is read from the source with ``ast``: every import that runs (at module level or inside a
function), but not those under ``if TYPE_CHECKING:``, which only type checkers follow. Importing
``a.b.c`` also runs the ``__init__`` of ``a.b``, so a package that re-exports its modules would show
up as an edge too. A circle here is one a refactoring can turn into an ImportError, depending on
which module a caller happens to import first.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sqlchat"
UI_MODULES = ("streamlit", "streamlit_app")  # the web app; sqlchat/ui/ (if it exists) is the UI's own package


def module_files(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of the package (data folders have none)."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: the body of ``if TYPE_CHECKING:`` is skipped (its ``else`` is not)."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        children = node.orelse if isinstance(node, ast.If) and _is_type_checking(node) else ast.iter_child_nodes(node)
        pending.extend(children)
    return found


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ``modules`` that importing ``name`` (at ``path``) runs, itself and its own packages aside."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(anchor + ([node.module] if node.module else []))
        targets.add(base)
        targets.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    found = set()
    for target in targets:
        parts = target.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ first
            module = ".".join(parts[:i])
            if module in modules and module != name and module not in own_packages:
                found.add(module)
    return found


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    modules = module_files(package_dir)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as ``[a, b, ..., a]``, or None when the graph has none (depth-first, in name order)."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        path.append(module)
        for following in sorted(graph.get(module, ())):
            cycle = visit(following)
            if cycle:
                return cycle
        done.add(path.pop())
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_sqlchat_has_no_import_circle() -> None:
    graph = import_graph(PACKAGE)
    assert "sqlchat.safety" in graph["sqlchat.pipeline"]  # the graph is read, not empty
    assert "sqlchat.governance.access" in graph["sqlchat.schema.reflection"]
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_every_module_imports_in_a_fresh_interpreter_without_the_ui() -> None:
    names = [name for name in module_files(PACKAGE)
             if name != "sqlchat.__main__" and not name.startswith("sqlchat.ui")]  # __main__ runs the CLI
    script = textwrap.dedent("""
        import importlib, json, sys, traceback
        failed = {}
        for name in json.loads(sys.argv[1]):
            try:
                importlib.import_module(name)
            except Exception:
                failed[name] = traceback.format_exc(limit=-3)
        ui = sorted(m for m in sys.modules if m.split(".")[0] in json.loads(sys.argv[2]))
        print(json.dumps({"failed": failed, "ui": ui}))
    """)
    done = subprocess.run([sys.executable, "-c", script, json.dumps(names), json.dumps(UI_MODULES)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(names) > 40
    assert report["failed"] == {}
    assert report["ui"] == []  # importing the whole engine loads no streamlit


def test_nothing_under_sqlchat_imports_the_ui() -> None:
    offenders = []
    for name, path in module_files(PACKAGE).items():
        if name.startswith("sqlchat.ui"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # TYPE_CHECKING ones too
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            offenders += [f"{name}: {n}" for n in names if n.split(".")[0] in UI_MODULES]
    assert offenders == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "pkg"
    for relative, text in files.items():
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text(textwrap.dedent(text))
    return package


def test_a_circle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    package = _package(tmp_path, {
        "__init__.py": "",
        "a.py": "from pkg.b import helper\n",
        "b.py": "def helper():\n    from pkg import c\n    return c\n",
        "c.py": "from .a import helper\n",
        "d.py": ("from typing import TYPE_CHECKING\nfrom pkg.sub import e\n"
                 "if TYPE_CHECKING:\n    from pkg.a import helper\n"),
        "sub/__init__.py": "",
        "sub/e.py": "from pkg import d\n",
    })
    graph = import_graph(package)
    assert graph["pkg.d"] == {"pkg.sub", "pkg.sub.e"}  # the TYPE_CHECKING import is no edge
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    (package / "b.py").write_text("def helper():\n    return None\n")
    graph = import_graph(package)
    assert find_cycle(graph) == ["pkg.d", "pkg.sub.e", "pkg.d"]
    (package / "sub" / "e.py").write_text("")
    assert find_cycle(import_graph(package)) is None


def test_a_package_that_re_exports_is_an_edge(tmp_path: Path) -> None:
    """``from pkg.low import x`` runs ``pkg/__init__``: a re-export there that reaches back is a circle."""
    package = _package(tmp_path, {
        "__init__.py": "",
        "low/__init__.py": "from pkg.low.base import thing\n",
        "low/base.py": "from pkg.high import other\nthing = 1\n",
        "high.py": "from pkg.low.util import x\nother = 2\n",
        "low/util.py": "x = 3\n",
    })
    assert find_cycle(import_graph(package)) == ["pkg.high", "pkg.low", "pkg.low.base", "pkg.high"]
