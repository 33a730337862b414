"""Copy the demo databases (Chinook, Northwind) to PostgreSQL, and MariaDB, with their names as spelled.

Migration tools and ORMs leave mixed-case names behind: ``"Customer"``, ``"FirstName"``,
``"Order Details"``. This script makes such copies, so sqlchat can be tried on them as a new user
would: every table and column keeps its exact spelling (quoted where the server needs it), with
its rows, primary keys and foreign keys. Column types are what a migration tool would choose
(``DATETIME`` becomes a timestamp, ``NVARCHAR(40)`` a ``VARCHAR(40)``, ``NUMERIC(10,2)`` a numeric;
``--dates-as-text`` keeps dates as SQLite's text);
the demo's views become tables holding the views' rows, so the model is shown the same tables.

PostgreSQL: each demo goes into its own schema (``chinook``, ``northwind``) of the database the URL
names; point sqlchat at one with the connection's search path::

    sqlchat ask --db 'postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dchinook' "..."

MariaDB (``--mariadb``): each demo becomes its own database (``chinook``, ``northwind``)::

    sqlchat ask --db 'mysql://root@127.0.0.1:3306/chinook' "..."

Idempotent: the script drops and recreates its own schemas / databases, nothing else.

    python scripts/copy_demo_to_postgres.py [--url URL] [--mariadb [URL]] [--prefix P] [--only chinook]
                                            [--dates-as-text] [--no-postgres] [--sqlite NAME=PATH ...]

``--sqlite NAME=PATH`` copies any other SQLite file the same way, under the schema / database NAME
(the held-out databases of ``tests/data/heldout`` are copied so); with it, only the files it names are copied.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

ROOT = Path(__file__).resolve().parents[1]
DEMOS = {"chinook": ROOT / "sqlchat" / "demo" / "chinook.sqlite",
         "northwind": ROOT / "sqlchat" / "demo" / "northwind.sqlite"}
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
BATCH_ROWS = 1000


# --------------------------------------------------------------------------- reading SQLite


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Source:
    """Tables and views of a SQLite file, with their declared types, keys and rows."""

    def __init__(self, path: Path):
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self.tables = [r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
        self.views = [r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY rowid")]

    def columns(self, table: str) -> list[tuple[str, str, bool, int]]:
        """(name, declared type, not null, position in the primary key: 0 when not in it)."""
        return [(name, typ or "", bool(notnull), pk) for _, name, typ, notnull, _, pk
                in self.conn.execute(f"PRAGMA table_info({_quote(table)})")]

    def foreign_keys(self, table: str) -> list[tuple[str, list[str], list[str]]]:
        """(referenced table, columns, referenced columns) per foreign key."""
        keys: dict[int, tuple[str, list[str], list[str]]] = {}
        for key_id, _, ref_table, column, ref_column, *_ in self.conn.execute(f"PRAGMA foreign_key_list({_quote(table)})"):
            entry = keys.setdefault(key_id, (ref_table, [], []))
            entry[1].append(column)
            entry[2].append(ref_column)
        return list(keys.values())

    def rows(self, table: str) -> list[tuple]:
        return self.conn.execute(f"SELECT * FROM {_quote(table)}").fetchall()

    def value_kinds(self, table: str, column: str) -> set[str]:
        return {r[0] for r in self.conn.execute(f"SELECT DISTINCT typeof({_quote(column)}) FROM {_quote(table)}")}


# --------------------------------------------------------------------------- types


def target_type(declared: str, kinds: set[str], key: bool, server: str, dates_as_text: bool = False) -> sa.types.TypeEngine:
    """The type a migration tool would give a SQLite column (declared type, else the stored values' kind).

    ``dates_as_text`` keeps dates and timestamps as the text SQLite stores, so a copy differs from
    the original in its names only (``InvoiceDate LIKE '2021%'`` then runs on both)."""
    word = declared.upper()
    if dates_as_text and word in ("DATE", "DATETIME", "TIMESTAMP"):
        word = "TEXT"
    if not word:  # a view's computed column: judge by what it holds
        word = "REAL" if "real" in kinds else "INTEGER" if kinds <= {"integer", "null"} and kinds != {"null"} else "TEXT"
    if "INT" in word:
        return sa.Integer() if "BIG" not in word else sa.BigInteger()
    if word.startswith(("NUMERIC", "DECIMAL")):
        precision = word[word.index("(") + 1:word.index(")")].split(",") if "(" in word else None
        if precision:
            return sa.Numeric(int(precision[0]), int(precision[1]) if len(precision) > 1 else 0)
        return sa.Numeric(19, 4) if server == "mysql" else sa.Numeric()
    if word in ("REAL", "FLOAT", "DOUBLE"):
        return sa.Double()
    if word == "DATE":
        return sa.Date()
    if word in ("DATETIME", "TIMESTAMP"):
        return sa.DateTime()
    if word == "BLOB":
        return sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql")
    if "(" in word and "CHAR" in word:
        return sa.String(int(word[word.index("(") + 1:word.index(")")]))
    if server == "mysql" and key:
        return sa.String(255)  # MariaDB cannot index TEXT without a length
    return sa.Text()


def _convert(value: Any, kind: sa.types.TypeEngine) -> Any:
    """SQLite's stored text to the target's value (dates and timestamps)."""
    if isinstance(value, str) and isinstance(kind, (sa.DateTime, sa.Date)):
        parsed = datetime.fromisoformat(value)
        return parsed if isinstance(kind, sa.DateTime) else parsed.date()
    return value


# --------------------------------------------------------------------------- copying


def copy_demo(source_path: Path, engine: sa.Engine, schema: str | None, dates_as_text: bool = False) -> dict[str, int]:
    """Copy ``source_path`` into ``engine`` (into ``schema`` on PostgreSQL); {table: rows copied}."""
    source = Source(source_path)
    server = "mysql" if engine.dialect.name in ("mysql", "mariadb") else engine.dialect.name
    metadata = sa.MetaData(schema=schema)
    tables: dict[str, sa.Table] = {}
    key_columns: set[tuple[str, str]] = set()  # both ends of every foreign key
    for name in source.tables:
        for ref_table, cols, ref_cols in source.foreign_keys(name):
            key_columns |= {(name, c) for c in cols} | {(ref_table, c) for c in ref_cols}
    for name in source.tables + source.views:
        columns = []
        for column, declared, not_null, pk in source.columns(name):
            key = bool(pk) or (name, column) in key_columns
            kind = target_type(declared, source.value_kinds(name, column), key, server, dates_as_text)
            columns.append(sa.Column(column, kind, primary_key=bool(pk) and name in source.tables,
                                     nullable=not (not_null or pk), autoincrement=False))
        tables[name] = sa.Table(name, metadata, *columns)
    counts = {}
    with engine.begin() as conn:
        metadata.create_all(conn)
        for name, table in tables.items():
            rows = source.rows(name)
            names = [c.name for c in table.columns]
            kinds = [c.type for c in table.columns]
            records = [{n: _convert(v, k) for n, v, k in zip(names, row, kinds)} for row in rows]
            for start in range(0, len(records), BATCH_ROWS):
                conn.execute(table.insert(), records[start:start + BATCH_ROWS])
            counts[name] = len(rows)
        for name in source.tables:  # keys after the rows: Employee.ReportsTo refers to later rows
            for ref_table, cols, ref_cols in source.foreign_keys(name):
                table, target = tables[name], tables[ref_table]
                constraint = sa.ForeignKeyConstraint([table.c[c] for c in cols], [target.c[c] for c in ref_cols])
                table.append_constraint(constraint)
                conn.execute(sa.schema.AddConstraint(constraint))
    source.conn.close()
    return counts


def _source_file(name: str, files: dict[str, Path] | None) -> Path:
    """The SQLite file copied under ``name``: one of ``files``, else the demo of that name."""
    return (files or {}).get(name) or DEMOS[name]


def copy_to_postgres(url: str, names: Iterable[str], prefix: str = "", dates_as_text: bool = False,
                     files: dict[str, Path] | None = None) -> dict[str, dict[str, int]]:
    """Each demo (or file of ``files``) into its own schema ``prefix + name`` of the database ``url`` names (dropped first)."""
    engine = sa.create_engine(url)
    done = {}
    try:
        for name in names:
            schema = prefix + name
            with engine.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {_quote(schema)} CASCADE")
                conn.exec_driver_sql(f"CREATE SCHEMA {_quote(schema)}")
            done[schema] = copy_demo(_source_file(name, files), engine, schema, dates_as_text)
    finally:
        engine.dispose()
    return done


def copy_to_mariadb(url: str, names: Iterable[str], prefix: str = "", dates_as_text: bool = False,
                    files: dict[str, Path] | None = None) -> dict[str, dict[str, int]]:
    """Each demo (or file of ``files``) into its own database ``prefix + name`` on the server ``url`` names (dropped first)."""
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    done = {}
    try:
        for name in names:
            database = prefix + name
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{database}`")
                conn.exec_driver_sql(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            engine = sa.create_engine(sa.make_url(url).set(database=database))
            try:
                done[database] = copy_demo(_source_file(name, files), engine, None, dates_as_text)
            finally:
                engine.dispose()
    finally:
        admin.dispose()
    return done


def drop_copies(pg_url: str | None, mariadb_url: str | None, names: Iterable[str], prefix: str = "") -> None:
    """Remove what this script made (tests clean up with it)."""
    for url, statement in ((pg_url, "DROP SCHEMA IF EXISTS {} CASCADE"), (mariadb_url, "DROP DATABASE IF EXISTS {}")):
        if url is None:
            continue
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        quote = _quote if url.startswith("postgres") else (lambda n: f"`{n}`")
        try:
            with engine.connect() as conn:
                for name in names:
                    conn.exec_driver_sql(statement.format(quote(prefix + name)))
        finally:
            engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_PG_URL, help=f"PostgreSQL database (default {DEFAULT_PG_URL})")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL copy")
    parser.add_argument("--mariadb", nargs="?", const=DEFAULT_MARIADB_URL, metavar="URL",
                        help=f"also copy to MariaDB, one database per demo (default server {DEFAULT_MARIADB_URL})")
    parser.add_argument("--prefix", default="", help="prefix of the schema / database names (default none)")
    parser.add_argument("--dates-as-text", action="store_true",
                        help="keep dates as the text SQLite stores (the copy then differs in its names only)")
    parser.add_argument("--only", choices=sorted(DEMOS), action="append", help="copy only this demo (repeatable)")
    parser.add_argument("--sqlite", action="append", metavar="NAME=PATH", default=[],
                        help="copy this SQLite file under NAME instead of the demos (repeatable)")
    args = parser.parse_args(argv)
    files = {}
    for item in args.sqlite:
        name, _, path = item.partition("=")
        if not name or not path or not Path(path).is_file():
            parser.error(f"--sqlite wants NAME=PATH of an existing SQLite file, not {item!r}")
        files[name] = Path(path)
    names = list(files) or args.only or sorted(DEMOS)
    results = {}
    if not args.no_postgres:
        results.update({f"postgres {k}": v for k, v in copy_to_postgres(args.url, names, args.prefix, args.dates_as_text, files).items()})
    if args.mariadb:
        results.update({f"mariadb {k}": v for k, v in copy_to_mariadb(args.mariadb, names, args.prefix, args.dates_as_text, files).items()})
    for target, counts in results.items():
        print(f"{target}: {len(counts)} tables, {sum(counts.values())} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
