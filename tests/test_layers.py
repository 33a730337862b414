"""The page only calls the engine: nothing outside ``sqlchat/ui/`` and ``streamlit_app.py`` imports streamlit,
the engine never imports the page, and the entry point stays a thin start of ``sqlchat.ui.page``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UI = ROOT / "sqlchat" / "ui"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports (absolute names; relative ones resolved against its package)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def python_files() -> list[Path]:
    return [path for folder in ("sqlchat", "train", "scripts", "benchmarks") for path in (ROOT / folder).rglob("*.py")]


def test_only_the_page_imports_streamlit():
    outside = [path.relative_to(ROOT) for path in python_files()
               if UI not in path.parents and any(name.split(".")[0] == "streamlit" for name in imported_modules(path))]
    assert outside == []


def test_the_engine_never_imports_the_page():
    importing = [path.relative_to(ROOT) for path in python_files()
                 if UI not in path.parents and any(name.startswith("sqlchat.ui") for name in imported_modules(path))]
    assert importing == []


def test_the_entry_point_only_starts_the_page():
    assert imported_modules(ROOT / "streamlit_app.py") == {"sqlchat.ui.page", "sqlchat.ui.page.main"}
    assert len((ROOT / "streamlit_app.py").read_text(encoding="utf-8").splitlines()) < 20
