"""Run the hostile corpus straight at real databases, the safety check bypassed.

Shared by ``tests/test_readonly_databases.py`` and ``scripts/security_report.py`` so the
figures in ``docs/security.md`` come from the very code the tests run. Engines here are
plain SQLAlchemy engines (not ``connection.connect``), so the read-only guarantees being
measured are those of :mod:`sqlchat.execution` alone.
"""

from __future__ import annotations

import glob
import hashlib
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from helpers.business_db import TABLE_NAMES, build_business_db
from hostile_sql import HOSTILE, PROBE, PROBE_USER, WRITE_CATEGORIES
from sqlchat.config import ExecutionConfig
from sqlchat.errors import ExecutionFailed
from sqlchat.execution import execute, read_only_session
from sqlchat.safety import CheckedSQL

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MYSQL_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
NUMBERS_ROWS = 5_000  # a table big enough for the row-cap test
EXTRA_TABLES = ("numbers",)

# Plain DML/DDL the read-only session must refuse on its own (no cursor, no executor guard).
PLAIN_WRITES = [
    "DELETE FROM customers",
    "UPDATE orders SET total = 0",
    "INSERT INTO products (id, name, category, price) VALUES (999, 'x', 'y', 1)",
    "DROP TABLE order_items",
    "CREATE TABLE sqlchat_hostile_t (a INT)",
    "ALTER TABLE customers ADD COLUMN pwned INT",
]
# Pathological queries per engine: each must stop at the 1 s statement timeout.
RUNAWAY = {
    "sqlite": ["WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
               "SELECT count(*) FROM numbers a, numbers b, numbers c"],
    "postgres": ["SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b",
                 "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
                 "SELECT pg_sleep(5)"],
    "mysql": ["SELECT count(*) FROM numbers a, numbers b, numbers c",
              "SELECT count(*) FROM seq_1_to_100000 a, seq_1_to_100000 b"],
}
# Legitimate queries sqlglot cannot translate for that server; they pass the check but the
# database rejects them with a plain error (JULIANDAY has no equivalent; MariaDB lacks FILTER).
_JULIANDAY = "SELECT JULIANDAY('2024-12-31') - JULIANDAY(order_date) FROM orders"
NOT_TRANSLATABLE: dict[str, set[str]] = {
    "postgres": {_JULIANDAY},
    "mysql": {_JULIANDAY, "SELECT customer_id, COUNT(*) FILTER (WHERE status = 'shipped') FROM orders GROUP BY customer_id"},
}


@dataclass(eq=False)
class HarnessDatabase:
    """Stand-in for ``connection.Database``: only what ``execute`` reads."""

    engine: sa.Engine
    dialect: str
    display_name: str
    executable: bool = True


@dataclass
class CorpusRun:
    """What happened to each hostile statement on one engine."""

    engine: str
    outcomes: list[tuple[str, str, str, str]] = field(default_factory=list)  # (category, sql, outcome, message)
    changed_tables: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)  # files, roles, objects that appeared

    def counts(self) -> Counter:
        return Counter(outcome for _, _, outcome, _ in self.outcomes)

    def writes_not_refused(self) -> list[str]:
        return [sql for cat, sql, outcome, _ in self.outcomes if cat in WRITE_CATEGORIES and outcome == "ran"]


# -- databases -------------------------------------------------------------------------


def sqlite_engine(path: Path) -> sa.Engine:
    """The file opened read-only at the driver (``mode=ro``), as connection.py does."""
    uri = f"file:{quote(str(path))}?mode=ro"
    import sqlite3

    return sa.create_engine(
        "sqlite+pysqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
        poolclass=sa.pool.QueuePool,  # queries run in worker threads; a per-thread pool would close theirs
    )


@contextmanager
def fresh_server_database(admin_url: str) -> Iterator[str]:
    """A uniquely named, empty database on a local server, dropped afterwards."""
    name = f"sqlchat_sec_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    is_pg = admin.dialect.name == "postgresql"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if is_pg else ""))
        admin.dispose()


def prepare(url: str) -> None:
    """Business tables, a numbers table, a view and, on servers, a sequence and a writing function."""
    build_business_db(url)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE numbers (n INTEGER)")
            conn.execute(sa.text("INSERT INTO numbers (n) VALUES (:n)"), [{"n": i} for i in range(NUMBERS_ROWS)])
            conn.exec_driver_sql("CREATE VIEW sqlchat_hostile_view AS SELECT id, name FROM customers")
            _server_extras(conn)
    finally:
        engine.dispose()


def _server_extras(conn: sa.Connection) -> None:
    """A SELECT-shaped write: only the read-only session can stop ``SELECT sqlchat_hostile_udf(id)``."""
    name = conn.dialect.name
    if name == "postgresql":
        conn.exec_driver_sql("CREATE SEQUENCE sqlchat_hostile_seq")
        conn.exec_driver_sql(
            "CREATE FUNCTION sqlchat_hostile_udf(x int) RETURNS int LANGUAGE plpgsql AS "
            "$$ BEGIN DELETE FROM order_items WHERE order_id = x; RETURN x; END $$"
        )
    elif name in ("mysql", "mariadb"):
        conn.exec_driver_sql(
            "CREATE FUNCTION sqlchat_hostile_udf(x INT) RETURNS INT MODIFIES SQL DATA "
            "BEGIN DELETE FROM order_items WHERE order_id = x; RETURN x; END"
        )


# -- fingerprints ----------------------------------------------------------------------


def fingerprint(engine: sa.Engine) -> dict[str, str]:
    """Row count + md5 of the sorted rows of every table, the table list and server extras."""
    inspector = sa.inspect(engine)
    prints = {
        "__tables__": ",".join(sorted(inspector.get_table_names())),
        "__views__": ",".join(sorted(inspector.get_view_names())),
    }
    with engine.connect() as conn:
        for table in (*TABLE_NAMES, *EXTRA_TABLES):
            rows = sorted(repr(tuple(r)) for r in conn.exec_driver_sql(f"SELECT * FROM {table}"))
            prints[table] = f"{len(rows)}:{hashlib.md5(chr(10).join(rows).encode()).hexdigest()}"
        if conn.dialect.name == "postgresql":
            prints["__sequence__"] = str(tuple(conn.exec_driver_sql("SELECT last_value, is_called FROM sqlchat_hostile_seq").one()))
    return prints


def leftovers(admin_url: str | None) -> list[str]:
    """Probe files, roles or users the corpus may have created."""
    found = sorted(glob.glob(PROBE + "*"))
    if admin_url:
        engine = sa.create_engine(admin_url)
        try:
            with engine.connect() as conn:
                query = (
                    "SELECT rolname FROM pg_roles WHERE rolname = :u" if conn.dialect.name == "postgresql"
                    else "SELECT user FROM mysql.user WHERE user = :u"
                )
                found += [f"user {r[0]}" for r in conn.execute(sa.text(query), {"u": PROBE_USER})]
        finally:
            engine.dispose()
    return found


def remove_leftovers(admin_url: str | None) -> None:
    """Clean up after a failed run, so one failure does not poison the next."""
    for path in glob.glob(PROBE + "*"):
        try:
            os.remove(path)
        except OSError:
            pass
    if admin_url:
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                drop = "DROP ROLE IF EXISTS " if conn.dialect.name == "postgresql" else "DROP USER IF EXISTS "
                conn.exec_driver_sql(drop + PROBE_USER)
        finally:
            engine.dispose()


# -- the run ---------------------------------------------------------------------------


def classify(exc: ExecutionFailed) -> str:
    """Which layer stopped a statement, from the message execute() gave the user."""
    message = exc.message.lower()
    if "read-only" in message:
        return "refused-read-only"
    if "took longer" in message:
        return "stopped-timeout"
    if "was not run" in message:
        return "refused-executor-guard"
    return "refused-error"


def run_corpus(db: HarnessDatabase, config: ExecutionConfig, admin_url: str | None = None) -> CorpusRun:
    """Send every hostile statement through execute() unchecked; fingerprint before and after."""
    run = CorpusRun(engine=db.engine.dialect.name)
    before = fingerprint(db.engine)
    for category, sql in HOSTILE:
        try:
            execute(db, CheckedSQL(sql=sql, dialect=db.dialect, limit_added=False), config)
            run.outcomes.append((category, sql, "ran", ""))
        except ExecutionFailed as exc:
            run.outcomes.append((category, sql, classify(exc), exc.message))
    after = fingerprint(db.engine)
    run.changed_tables = sorted(k for k in before if before[k] != after.get(k))
    run.leftovers = leftovers(admin_url)
    return run


def timed(fn, *args) -> tuple[float, object]:
    """Seconds a call took, and what it returned or raised."""
    start = time.perf_counter()
    try:
        outcome: object = fn(*args)
    except Exception as exc:  # the caller inspects it
        outcome = exc
    return time.perf_counter() - start, outcome


def session_refusals(db: HarnessDatabase, config: ExecutionConfig) -> list[tuple[str, bool, str]]:
    """Send PLAIN_WRITES through the read-only session alone, with a plain (client) cursor."""
    results = []
    for sql in PLAIN_WRITES:
        with db.engine.connect() as conn, read_only_session(conn, config):
            try:
                conn.exec_driver_sql(sql)
                results.append((sql, False, "ran"))
            except sa.exc.DBAPIError as exc:
                message = str(exc.orig).splitlines()[0]
                refused = any(w in message.lower() for w in ("read-only", "read only", "readonly", "not authorized"))
                results.append((sql, refused, message))
    return results


def measure_timeouts(db: HarnessDatabase, config: ExecutionConfig) -> list[tuple[str, float, str]]:
    """Seconds each runaway query ran before execute() stopped it, and the user's message."""
    results = []
    for sql in RUNAWAY[db.dialect]:
        seconds, outcome = timed(execute, db, CheckedSQL(sql, db.dialect, False), config)
        results.append((sql, seconds, getattr(outcome, "message", "finished")))
    return results


def measure_cap(db: HarnessDatabase, max_rows: int = 1000) -> tuple[int, bool]:
    """Rows returned and the capped flag for ``SELECT n FROM numbers`` (no LIMIT) under a cap."""
    checked = CheckedSQL("SELECT n FROM numbers", db.dialect, False)
    result = execute(db, checked, ExecutionConfig(max_rows=max_rows, statement_timeout_s=5.0))
    return len(result.frame), result.capped
