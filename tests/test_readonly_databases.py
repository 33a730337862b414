"""The database session itself refuses writes, with the safety check bypassed.

Every hostile statement of the corpus is sent straight to ``execute()`` (a hand-made
CheckedSQL) on SQLite, PostgreSQL and MariaDB: afterwards every table's checksum, the
table list, sequences, roles/users and the file system must be exactly as before.
Then the read-only session alone (no server-side cursor, no executor guard) must refuse
plain DML and DDL. Timeouts and the row cap are checked on each engine too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers.readonly_harness import (
    MYSQL_ADMIN_URL,
    NUMBERS_ROWS,
    PG_ADMIN_URL,
    NOT_TRANSLATABLE,
    PLAIN_WRITES,
    RUNAWAY,
    HarnessDatabase,
    classify,
    fingerprint,
    prepare,
    remove_leftovers,
    run_corpus,
    sqlite_engine,
)
from hostile_sql import LEGITIMATE
from sqlchat.config import ExecutionConfig
from sqlchat.errors import ExecutionFailed
from sqlchat.execution import execute, read_only_session
from sqlchat.safety import CheckedSQL, check_sql

FAST = ExecutionConfig(row_limit=1000, max_rows=10_000, statement_timeout_s=1.0)
@dataclass
class Target:
    db: HarnessDatabase
    admin_url: str | None
    url: str


def _server_target(url: str, dialect: str, admin_url: str) -> Iterator[Target]:
    prepare(url)
    db = HarnessDatabase(engine=sa.create_engine(url), dialect=dialect, display_name=dialect)
    remove_leftovers(admin_url)
    try:
        yield Target(db, admin_url, url)
    finally:
        db.engine.dispose()
        remove_leftovers(admin_url)


@pytest.fixture
def sqlite_target(tmp_path: Path) -> Iterator[Target]:
    path = tmp_path / "business.sqlite"
    prepare(f"sqlite:///{path}")
    db = HarnessDatabase(engine=sqlite_engine(path), dialect="sqlite", display_name=path.name)
    remove_leftovers(None)
    yield Target(db, None, f"sqlite:///{path}")
    db.engine.dispose()
    remove_leftovers(None)


@pytest.fixture
def pg_target(pg_url) -> Iterator[Target]:
    yield from _server_target(pg_url, "postgres", PG_ADMIN_URL)


@pytest.fixture
def mysql_target(mysql_url) -> Iterator[Target]:
    yield from _server_target(mysql_url, "mysql", MYSQL_ADMIN_URL)


ENGINES = [
    pytest.param("sqlite_target", id="sqlite"),
    pytest.param("pg_target", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mysql_target", id="mariadb", marks=pytest.mark.mariadb),
]


@pytest.fixture(params=ENGINES)
def target(request) -> Target:
    return request.getfixturevalue(request.param)


def test_whole_corpus_changes_nothing(target):
    run = run_corpus(target.db, FAST, target.admin_url)
    assert run.changed_tables == []
    assert run.leftovers == []
    assert run.writes_not_refused() == []
    assert run.counts()["refused-read-only"] > 0


def test_read_only_session_alone_refuses_plain_writes(target):
    before = fingerprint(target.db.engine)
    for sql in PLAIN_WRITES:
        with target.db.engine.connect() as conn, read_only_session(conn, FAST):
            with pytest.raises(sa.exc.DBAPIError) as info:
                conn.exec_driver_sql(sql)
        message = str(info.value.orig).lower()
        assert any(w in message for w in ("read-only", "read only", "readonly", "not authorized")), (sql, message)
    assert fingerprint(target.db.engine) == before


@pytest.mark.parametrize("engine", [
    pytest.param("pg_target", marks=pytest.mark.postgres),
    pytest.param("mysql_target", marks=pytest.mark.mariadb),
])
def test_select_calling_a_writing_function_is_refused(engine, request):
    target = request.getfixturevalue(engine)
    before = fingerprint(target.db.engine)
    with pytest.raises(ExecutionFailed) as info:
        execute(target.db, CheckedSQL("SELECT sqlchat_hostile_udf(id) FROM orders", target.db.dialect, False), FAST)
    assert classify(info.value) == "refused-read-only"
    assert fingerprint(target.db.engine) == before


def test_runaway_queries_stop_at_the_timeout(target):
    for sql in RUNAWAY[target.db.dialect]:
        start = time.monotonic()
        with pytest.raises(ExecutionFailed) as info:
            execute(target.db, CheckedSQL(sql, target.db.dialect, False), FAST)
        elapsed = time.monotonic() - start
        assert info.value.message == "The query took longer than 1 s and was stopped.", sql
        assert elapsed < 5, (sql, elapsed)


def test_huge_result_is_capped(target):
    config = ExecutionConfig(row_limit=1000, max_rows=1000, statement_timeout_s=5.0)
    checked = check_sql("SELECT n FROM numbers", target.db.dialect, row_limit=None)
    result = execute(target.db, checked, config)
    assert len(result.frame) == 1000 and result.capped
    whole = execute(target.db, checked, ExecutionConfig(max_rows=NUMBERS_ROWS, statement_timeout_s=5.0))
    assert len(whole.frame) == NUMBERS_ROWS and not whole.capped


def test_session_settings_do_not_leak_into_the_pool(target):
    with pytest.raises(ExecutionFailed):
        execute(target.db, CheckedSQL("DELETE FROM customers", target.db.dialect, False), FAST)
    slow = ExecutionConfig(statement_timeout_s=30.0)
    result = execute(target.db, check_sql("SELECT count(*) AS n FROM numbers", target.db.dialect), slow)
    assert int(result.frame.iloc[0, 0]) == NUMBERS_ROWS
    with target.db.engine.connect() as conn:  # the pooled connection is back to normal
        if target.db.dialect == "sqlite":  # the file itself is mode=ro: check the pragma came back
            assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 0
            return
        conn.exec_driver_sql("CREATE TABLE sqlchat_pool_probe (a INT)")
        conn.exec_driver_sql("DROP TABLE sqlchat_pool_probe")
        conn.commit()


def test_legitimate_queries_run_after_the_check(target):
    failures = []
    for sql in LEGITIMATE:
        if sql in NOT_TRANSLATABLE.get(target.db.dialect, ()):
            continue
        try:
            execute(target.db, check_sql(sql, target.db.dialect), FAST)
        except ExecutionFailed as exc:
            failures.append((sql, exc.message))
    assert failures == []
