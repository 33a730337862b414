"""Every template row is executed before it is kept: a gold answer that does not run, or finds nothing,
teaches the wrong thing.

Each schema is built with its rows on SQLite (in memory), on the PostgreSQL server (a private schema in
database ``test``, dropped afterwards) and on the MariaDB server (a private database, dropped afterwards);
the gold runs there and must return at least one row with a value that is neither NULL nor 0.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from .rows import Row
from .schemas import SCHEMAS, Schema, inserts

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


class Runner:
    """Runs SQL on one database and returns the rows."""

    def run(self, sql: str) -> list[tuple]:  # pragma: no cover - interface
        raise NotImplementedError


class SqliteRunner(Runner):
    def __init__(self) -> None:
        self.connection = sqlite3.connect(":memory:")

    def run(self, sql: str) -> list[tuple]:
        return self.connection.execute(sql).fetchall()


class ServerRunner(Runner):
    """A SQLAlchemy connection in autocommit mode; a failed statement does not poison the next one."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def run(self, sql: str) -> list[tuple]:
        result = self.connection.exec_driver_sql(sql.replace("%", "%%"))
        return [tuple(row) for row in result] if result.returns_rows else []


@contextmanager
def runner(dialect: str, pg_url: str = PG_URL, mariadb_url: str = MARIADB_URL) -> Iterator[Runner]:
    """A runner on an empty, private namespace of ``dialect``'s database, removed on exit."""
    if dialect == "sqlite":
        sqlite_runner = SqliteRunner()
        try:
            yield sqlite_runner
        finally:
            sqlite_runner.connection.close()
        return
    import sqlalchemy as sa

    name = f"sqlchat_recipe_{uuid.uuid4().hex[:10]}"
    url = pg_url if dialect == "postgresql" else mariadb_url
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            server = ServerRunner(connection)
            if dialect == "postgresql":
                server.run(f"CREATE SCHEMA {name}")
                server.run(f"SET search_path TO {name}")
                drop = f"DROP SCHEMA IF EXISTS {name} CASCADE"
            else:
                server.run(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                server.run(f"USE {name}")
                drop = f"DROP DATABASE IF EXISTS {name}"
            try:
                yield server
            finally:
                server.run(drop)
    finally:
        engine.dispose()


def build(run: Runner, schema: Schema, dialect: str, today: dt.date) -> None:
    """Create ``schema``'s tables in ``dialect`` and fill them."""
    for statement in [*schema.ddl(dialect), *inserts(schema, today)]:
        run.run(statement)


def finds_something(rows: Sequence[tuple]) -> bool:
    """At least one row, with a value that is neither NULL nor 0 (a COUNT of nothing proves nothing)."""
    return any(value not in (None, 0) for row in rows for value in row)


@dataclass
class CheckReport:
    """What the check kept and dropped, per dialect: dropped rows with the reason."""

    kept: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def checked_rows(rows: Sequence[Row], dialect: str, today: dt.date | None = None, report: CheckReport | None = None,
                 **urls: str) -> list[Row]:
    """The rows of ``dialect`` whose gold runs on a freshly built copy of its schema and finds something.

    One namespace per schema: a row is run on the schema its context shows. A server that cannot be
    reached raises (the caller decides whether a recipe without that dialect is acceptable).
    """
    today = today or dt.date.today()
    report = report if report is not None else CheckReport()
    kept, dropped = [], report.dropped.setdefault(dialect, [])
    by_schema = {schema.context(): schema for schema in SCHEMAS.values()}
    for context, schema in by_schema.items():
        mine = [row for row in rows if row.context == context and row.dialect == dialect]
        if not mine:
            continue
        with runner(dialect, **urls) as run:
            build(run, schema, dialect, today)
            for row in mine:
                try:
                    found = run.run(row.answer)
                except Exception as error:  # any driver's error: the row is dropped with the reason
                    dropped.append((row.question, " ".join(str(error).split())[:200]))
                    continue
                if finds_something(found):
                    kept.append(row)
                else:
                    dropped.append((row.question, "no rows"))
    order = {id(row): i for i, row in enumerate(rows)}
    kept.sort(key=lambda row: order[id(row)])
    report.kept[dialect] = len(kept)
    return kept
