"""Training-side rows: loading, the questions that must never be trained on, and one-table proportion.

The 0.5B adapter that lost its gate (business 58.2 % -> 53.2 %) was trained on rows chosen for joins;
it learned to join tables one-table questions do not need. Here the share of one-table answers is
measured on the source files and the recipe keeps at least that share.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "sql-create-context"
TRAIN_FILES = (DATA / "train.jsonl", DATA / "train-spider-extra.jsonl")
# Read only to exclude their questions from the recipe, never as rows.
HELD_OUT_FILES = (
    DATA / "dev.jsonl",
    SHARED / "benchmarks" / "spider-dev" / "dev.json",
    *sorted((ROOT / "tests" / "data" / "business").glob("*.jsonl")),
    *sorted((ROOT / "tests" / "data" / "heldout").glob("*/*.jsonl")),
)


@dataclass(frozen=True)
class Row:
    """One know_sql row and where it came from (``source``: the file's stem, kept for the report only)."""

    question: str
    context: str
    answer: str
    source: str
    dialect: str = "sqlite"

    def record(self) -> dict[str, str]:
        """The row as the recipe file holds it: know_sql's fields plus the dialect its answer is written in."""
        return {"question": self.question, "context": self.context, "answer": self.answer, "dialect": self.dialect}


def normalized(text: str) -> str:
    """A question as a person compares it: case, spacing and a final question mark do not make it another one."""
    return " ".join(text.lower().replace("?", " ").split())


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a ``.jsonl`` file, or of a ``.json`` list (Spider's ``dev.json``)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def held_out_questions(paths: Iterable[Path] = HELD_OUT_FILES) -> set[str]:
    """The normalized questions of every evaluation set present on this machine (absent files are skipped)."""
    return {normalized(row["question"]) for path in paths if Path(path).exists()
            for row in read_jsonl(Path(path)) if row.get("question")}


def load_training_rows(paths: Sequence[Path] = TRAIN_FILES, excluded: set[str] | None = None) -> list[Row]:
    """The training files' rows, in file order, without duplicates (same question and answer) and without
    any row whose question an evaluation set asks (``excluded``, normalized)."""
    excluded = held_out_questions() if excluded is None else excluded
    seen: set[tuple[str, str]] = set()
    rows = []
    for path in paths:
        for raw in read_jsonl(Path(path)):
            key = (normalized(raw["question"]), " ".join(raw["answer"].split()).lower())
            if key[0] in excluded or key in seen:
                continue
            seen.add(key)
            rows.append(Row(raw["question"], raw["context"], raw["answer"], Path(path).stem))
    return rows


_FROM_OR_JOIN = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


def answer_tables(sql: str, dialect: str = "sqlite") -> frozenset[str]:
    """The tables ``sql`` reads, lowercased (sqlglot's parse; a FROM/JOIN scan when it cannot parse)."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
        names = {table.name.lower() for table in tree.find_all(exp.Table) if table.name}
        if names:
            return frozenset(names)
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError):
        pass
    return frozenset(name.lower() for name in _FROM_OR_JOIN.findall(_LITERAL.sub("''", sql)))


def is_one_table(row: Row) -> bool:
    """The answer reads exactly one table (nested queries on the same table count as one)."""
    return len(answer_tables(row.answer, _SQLGLOT.get(row.dialect, row.dialect))) == 1


_SQLGLOT = {"postgresql": "postgres", "mariadb": "mysql"}


def one_table_share(rows: Sequence[Row]) -> float:
    """The fraction of rows whose answer reads one table."""
    return sum(map(is_one_table, rows)) / len(rows) if rows else 0.0


def keep_one_table_share(rows: Sequence[Row], minimum: float, seed: int) -> list[Row]:
    """``rows`` with at least ``minimum`` of them one-table rows: when the share is lower, a seeded sample of
    the multi-table rows is left out (never a one-table row), order otherwise kept.

    Why: a recipe that adds joined rows (the dialect templates join orders to customers) must not shift
    the balance toward joins, the failure of the refused 0.5B adapter.
    """
    one = [is_one_table(row) for row in rows]
    singles = sum(one)
    if not rows or singles / len(rows) >= minimum:
        return list(rows)
    allowed_multi = int(singles * (1 - minimum) / minimum) if minimum > 0 else len(rows) - singles
    multi = [i for i, flag in enumerate(one) if not flag]
    kept = set(random.Random(seed).sample(multi, allowed_multi))
    return [row for i, row in enumerate(rows) if one[i] or i in kept]
