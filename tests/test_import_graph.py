"""sqlchat's modules import only earlier stages, without a circle, and the engine never imports the UI.

The graph is read from the source with ``ast``: every import that runs (at module level or inside a
function) and, where a test says so, those under ``if TYPE_CHECKING:`` too, which only type checkers
follow. Importing ``a.b.c`` also runs the ``__init__`` of ``a.b``, so a package that re-exports its
modules would show up as an edge too. A circle of running imports is one a refactoring can turn into
an ImportError, depending on which module a caller happens to import first; a circle through a
``TYPE_CHECKING`` import is the same knot, tied where the interpreter does not look.

Data flows one way: :data:`STAGES` is the order a question travels through the engine, and a module
may import its own stage and earlier ones, never a later one, not even for a type. A stage that needs
something from a later one is handed it (the pipeline builds the value reader schema linking uses).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sqlchat"
UI_MODULES = ("streamlit", "streamlit_app")  # the web app; sqlchat/ui/ (if it exists) is the UI's own package

# The order a question travels in, earliest first: (stage, its modules or packages). A module belongs to the
# stage of its longest listed prefix; a package's __init__ to the earliest stage of its modules, so an
# __init__ that re-exported a later module would be caught too.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("settings and words", ("sqlchat.errors", "sqlchat.config", "sqlchat.language", "sqlchat.governance.deployment")),
    ("data types", ("sqlchat.schema.model", "sqlchat.governance.rules")),
    ("sources", ("sqlchat.sources",)),
    ("access", ("sqlchat.governance.access",)),
    ("schema", ("sqlchat.schema",)),
    ("prompt", ("sqlchat.prompt", "sqlchat.conversation")),
    ("models", ("sqlchat.models",)),
    ("corrections", ("sqlchat.corrections",)),
    ("safety", ("sqlchat.safety", "sqlchat.governance.policy")),
    ("execution", ("sqlchat.execution", "sqlchat.value_reader")),
    ("answers", ("sqlchat.answers", "sqlchat.charts", "sqlchat.export")),
    ("history", ("sqlchat.history",)),
    ("pipeline", ("sqlchat.pipeline",)),
    ("front ends", ("sqlchat.governance.audit", "sqlchat.evaluation", "sqlchat.cli", "sqlchat.mcp_server",
                    "sqlchat.__main__")),
    ("ui", ("sqlchat.ui",)),
)


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


def _imports(tree: ast.AST, type_checking: bool = False) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: the body of ``if TYPE_CHECKING:`` is skipped (its ``else`` is not),
    unless ``type_checking`` asks for the imports type checkers follow as well."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        skip = not type_checking and isinstance(node, ast.If) and _is_type_checking(node)
        pending.extend(node.orelse if skip else ast.iter_child_nodes(node))
    return found


def imported_modules(name: str, path: Path, modules: dict[str, Path], type_checking: bool = False) -> set[str]:
    """The modules of ``modules`` that importing ``name`` (at ``path``) runs, itself and its own packages aside
    (with ``type_checking``, also those its ``if TYPE_CHECKING:`` blocks import)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), type_checking):
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


def import_graph(package_dir: Path, type_checking: bool = False) -> dict[str, set[str]]:
    modules = module_files(package_dir)
    return {name: imported_modules(name, path, modules, type_checking) for name, path in modules.items()}


def stage_of(module: str, modules: Iterable[str], stages: Sequence[tuple[str, Sequence[str]]] = STAGES) -> int | None:
    """The index in ``stages`` of ``module``'s stage: that of its longest listed prefix; for a package, the earliest
    of its own and its modules' (importing any of them runs its ``__init__``). None when no stage lists it."""
    def listed(name: str) -> int | None:
        matches = [(len(prefix), index) for index, (_, prefixes) in enumerate(stages) for prefix in prefixes
                   if name == prefix or name.startswith(prefix + ".")]
        return max(matches)[1] if matches else None

    inside = [listed(name) for name in modules if name.startswith(module + ".")]
    found = [index for index in [listed(module), *inside] if index is not None]
    if not found:
        return None
    return min(found) if inside else found[0]


def later_stage_imports(graph: dict[str, set[str]],
                        stages: Sequence[tuple[str, Sequence[str]]] = STAGES) -> list[str]:
    """``"importer (its stage) -> imported (a later stage)"`` for every edge that points downstream-to-upstream."""
    stage = {name: stage_of(name, graph, stages) for name in graph}
    found = []
    for name, imported in sorted(graph.items()):
        for target in sorted(imported):
            if stage[name] is not None and stage[target] is not None and stage[target] > stage[name]:
                found.append(f"{name} ({stages[stage[name]][0]}) -> {target} ({stages[stage[target]][0]})")
    return found


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


def test_no_circle_even_through_type_checking_imports() -> None:
    graph = import_graph(PACKAGE, type_checking=True)
    assert "sqlchat.sources.connection" in graph["sqlchat.schema.reflection"]  # a TYPE_CHECKING-only edge is read
    cycle = find_cycle(graph)
    assert cycle is None, "import circle (counting TYPE_CHECKING imports): " + " -> ".join(cycle or [])


def test_every_module_has_a_stage() -> None:
    modules = module_files(PACKAGE)
    assert [name for name in modules if stage_of(name, modules) is None] == []


def test_no_module_imports_a_later_stage() -> None:
    """Not at run time, and not for a type either: data flows one way, and a stage is handed what it needs."""
    assert later_stage_imports(import_graph(PACKAGE, type_checking=True)) == []


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


def test_an_import_of_a_later_stage_is_found(tmp_path: Path) -> None:
    """Stages ``low`` then ``high``: ``low`` naming ``high`` (even for a type) is caught, and so is a package
    ``__init__`` that re-exports a later module, since the package sits in its earliest module's stage."""
    stages = (("low", ("pkg.low", "pkg.parts.base")), ("high", ("pkg.high", "pkg.parts")))
    package = _package(tmp_path, {
        "__init__.py": "",
        "low.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.high import Thing\n",
        "high.py": "from pkg.low import helper\nfrom pkg.parts.base import x\n",
        "parts/__init__.py": "",
        "parts/base.py": "x = 1\n",
        "parts/top.py": "from pkg.high import other\n",
    })
    modules = module_files(package)
    assert stage_of("pkg.parts", modules, stages) == 0 and stage_of("pkg.parts.top", modules, stages) == 1
    assert later_stage_imports(import_graph(package), stages) == []  # the TYPE_CHECKING import does not run
    assert later_stage_imports(import_graph(package, type_checking=True), stages) == ["pkg.low (low) -> pkg.high (high)"]
    (package / "low.py").write_text("")
    (package / "parts" / "__init__.py").write_text("from pkg.parts.top import other\n")
    assert later_stage_imports(import_graph(package, type_checking=True), stages) == [
        "pkg.parts (low) -> pkg.parts.top (high)"]
    assert stage_of("pkg.elsewhere", [*modules, "pkg.elsewhere"], stages) is None  # unplaced: the test says so


def test_a_circle_through_type_checking_imports_is_found(tmp_path: Path) -> None:
    """Each side names the other only for its types: no ImportError today, but still a knot."""
    package = _package(tmp_path, {
        "__init__.py": "",
        "conn.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.rules import Rules\n",
        "rules.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg.conn import Conn\n",
    })
    assert find_cycle(import_graph(package)) is None
    assert find_cycle(import_graph(package, type_checking=True)) == ["pkg.conn", "pkg.rules", "pkg.conn"]
