"""Ask the same of a demo SQLite file and of its copy on a server, and compare what comes back.

The copies ``scripts/copy_demo_to_postgres.py`` makes keep the demo's mixed-case names. Two modes:

- ``--sql`` (default, no model): each verified pair's SQL, written as the model writes it (SQLite
  style, unquoted ``Customer``), runs through :func:`sqlchat.pipeline.run_sql` on both; the rows
  must be the same. This is what proves the names are resolved on the copy.
- ``--ask``: the real model answers each question on both (:func:`sqlchat.pipeline.ask`); each answer
  is scored against the pair's SQL run on the SQLite file, and the two accuracies are printed.

    python benchmarks/compare_copies.py --pairs sqlchat/demo/verified/chinook.jsonl \\
        --sqlite sqlchat/demo/chinook.sqlite \\
        --db 'postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dchinook' [--ask] [--json]

Values are compared as the evaluator compares them (:mod:`sqlchat.evaluation.metrics`), after a
timestamp and the text SQLite stored for it are made alike (``1996-07-04 00:00:00.000``, a
``datetime`` and ``1996-07-04`` at midnight are one moment).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlchat.config import Settings
from sqlchat.evaluation.metrics import has_order_by, results_match
from sqlchat.history.seeding import load_pairs_file
from sqlchat.pipeline import Answer, ask, run_sql
from sqlchat.sources.connection import Database, connect

_STORED_MOMENT = re.compile(r"^(\d{4}-\d\d-\d\d)(?:[ T](\d\d:\d\d:\d\d)(?:\.0+)?)?$")


def same_moment(value: Any) -> Any:
    """A date or timestamp, stored as text or as a value, in one spelling (midnight shown as the date)."""
    if isinstance(value, datetime) or (hasattr(value, "to_pydatetime") and not isinstance(value, str)):
        value = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
        return value.strftime("%Y-%m-%d") if value.time() == datetime.min.time() else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and (match := _STORED_MOMENT.match(value)):
        day, time = match.groups()
        return day if time in (None, "00:00:00") else f"{day} {time}"
    return value


def comparable(answer: Answer) -> list[tuple]:
    """The answer's rows with dates and timestamps spelled alike."""
    if answer.frame is None:
        return []
    frame = answer.frame.astype(object).where(answer.frame.notna(), None)
    return [tuple(same_moment(v) for v in row) for row in frame.itertuples(index=False, name=None)]


@dataclass
class Comparison:
    question: str
    gold: str
    same: bool | None = None  # --sql: both gave the same rows
    sqlite_right: bool | None = None  # --ask: the SQLite answer has the gold rows
    copy_right: bool | None = None
    sqlite_sql: str | None = None
    copy_sql: str | None = None
    errors: list[str] = field(default_factory=list)


def compare_sql(pair: dict[str, str], sqlite: Database, copy: Database, settings: Settings) -> Comparison:
    """The pair's SQL on both databases: the same rows?"""
    here, there = run_sql(pair["sql"], sqlite, settings), run_sql(pair["sql"], copy, settings)
    result = Comparison(pair["question"], pair["sql"], sqlite_sql=here.sql, copy_sql=there.sql)
    result.errors = [f"{where}: {a.error} {a.error_detail or ''}".strip() for where, a in (("sqlite", here), ("copy", there)) if not a.ok]
    result.same = here.ok and there.ok and results_match(comparable(here), comparable(there), has_order_by(pair["sql"]))
    return result


def compare_ask(pair: dict[str, str], sqlite: Database, copy: Database, settings: Settings, backend: Any) -> Comparison:
    """The model's answer on both databases, each scored against the pair's SQL run on SQLite."""
    gold = run_sql(pair["sql"], sqlite, settings)
    ordered = has_order_by(pair["sql"])
    result = Comparison(pair["question"], pair["sql"])
    for where, db in (("sqlite", sqlite), ("copy", copy)):
        answer = ask(pair["question"], db, backend, settings)
        right = answer.ok and gold.ok and results_match(comparable(gold), comparable(answer), ordered)
        setattr(result, f"{where}_right", right)
        setattr(result, f"{where}_sql", answer.sql)
        if not answer.ok:
            result.errors.append(f"{where}: {answer.error} {answer.error_detail or ''}".strip())
    return result


def summary(results: Sequence[Comparison], asked: bool) -> dict[str, Any]:
    n = len(results)
    if not asked:
        return {"questions": n, "same_rows": sum(bool(r.same) for r in results)}
    sqlite_right = sum(bool(r.sqlite_right) for r in results)
    copy_right = sum(bool(r.copy_right) for r in results)
    return {"questions": n, "sqlite_accuracy": round(100 * sqlite_right / n, 1) if n else None,
            "copy_accuracy": round(100 * copy_right / n, 1) if n else None,
            "points_apart": round(100 * (sqlite_right - copy_right) / n, 1) if n else None}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, required=True, help="verified pairs JSONL (question, sql)")
    parser.add_argument("--sqlite", type=Path, required=True, help="the SQLite original")
    parser.add_argument("--db", required=True, help="URL of the copy")
    parser.add_argument("--ask", action="store_true", help="ask the real model instead of running the pairs' SQL")
    parser.add_argument("--limit", type=int, help="only the first N pairs")
    parser.add_argument("--json", action="store_true", help="one JSON object with every comparison")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    pairs = load_pairs_file(args.pairs)[: args.limit]
    backend = None
    if args.ask:
        from sqlchat.models.backends import load_backend
        backend = load_backend(settings.model)
    with connect(args.sqlite) as sqlite, connect(args.db) as copy:
        results = [compare_ask(p, sqlite, copy, settings, backend) if args.ask else compare_sql(p, sqlite, copy, settings)
                   for p in pairs]
    report = summary(results, args.ask)
    if args.json:
        print(json.dumps({"summary": report, "comparisons": [asdict(r) for r in results]}, default=str))
    else:
        for r in results:
            flag = r.same if not args.ask else (r.sqlite_right, r.copy_right)
            if flag is not True and flag != (True, True):
                print(f"DIFFERS {flag}: {r.question}\n  sqlite: {r.sqlite_sql}\n  copy:   {r.copy_sql}\n  {r.errors}")
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
