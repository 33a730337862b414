"""How often join-key correction (sqlchat.corrections.joins) is right, measured on Spider dev's gold SQL.

    .venv/bin/python benchmarks/bench_joins.py --spider ../shared/benchmarks/spider-dev

No model is involved. Two figures, quoted in docs/benchmarks.md:
- false corrections: gold queries the correction rewrites at all (a right join must stay as is);
- recoveries: each gold query whose first join has a non-key column on the joined table gets that
  column swapped for the table's primary key (the mistake the embedded model makes), and the
  correction is scored on whether the rewritten query returns the gold result again.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

import sqlglot
from sqlglot import exp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlchat.corrections.joins import correct_joins  # noqa: E402
from sqlchat.evaluation.metrics import has_order_by, results_match  # noqa: E402
from sqlchat.evaluation.runner import load_spider  # noqa: E402
from sqlchat.schema.model import Table
from sqlchat.schema.reflection import reflect_schema  # noqa: E402
from sqlchat.sources.connection import connect  # noqa: E402


def wrong_key_version(sql: str, tables: dict[str, Table]) -> str | None:
    """``sql`` with its first join's column on the joined table replaced by that table's primary key."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return None
    joins = tree.args.get("joins") if isinstance(tree, exp.Select) else None
    if not joins or not isinstance(joins[0].this, exp.Table) or not isinstance(joins[0].args.get("on"), exp.EQ):
        return None
    join, condition = joins[0], joins[0].args["on"]
    table = tables.get(join.this.name.lower())
    alias = (join.this.alias or join.this.name).lower()
    sides = [side for side in (condition.this, condition.expression)
             if isinstance(side, exp.Column) and side.table.lower() == alias]
    if table is None or not table.primary_key or len(sides) != 1 or sides[0].name.lower() == table.primary_key[0].lower():
        return None
    sides[0].set("this", exp.to_identifier(table.primary_key[0]))
    return tree.sql(dialect="sqlite")


def rows_of(path: Path, sql: str) -> list[tuple] | None:
    with sqlite3.connect(path) as con:
        try:
            return con.execute(sql).fetchall()
        except sqlite3.Error:
            return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spider", required=True, help="a Spider-layout folder: dev.json + database/<db_id>/")
    args = parser.parse_args()
    root = Path(args.spider)
    schemas: dict[str, list[Table]] = {}
    gold_rewritten = broken = corrected = restored = 0
    rows = load_spider(root)
    for row in rows:
        path = root / "database" / row.db_id / f"{row.db_id}.sqlite"
        if row.db_id not in schemas:
            db = connect(path)
            schemas[row.db_id] = list(reflect_schema(db))
            db.close()
        tables = schemas[row.db_id]
        if correct_joins(row.query, tables) != row.query:
            gold_rewritten += 1
            print("rewrote a gold query:", row.query)
        wrong = wrong_key_version(row.query, {table.name.lower(): table for table in tables})
        if wrong is None:
            continue
        broken += 1
        fixed = correct_joins(wrong, tables)
        if fixed == wrong:
            continue
        corrected += 1
        gold, got = rows_of(path, row.query), rows_of(path, fixed)
        restored += gold is not None and got is not None and results_match(gold, got, has_order_by(row.query))
    print(f"gold queries: {len(rows)}; rewritten by the correction: {gold_rewritten}")
    print(f"gold queries given a wrong join key: {broken}; corrected: {corrected}; gold result restored: {restored}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
