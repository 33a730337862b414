"""execute(): results as DataFrames, the row cap, timeouts, plain errors (SQLite, no server needed)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from helpers.business_db import CUSTOMERS, build_business_sqlite
from helpers.readonly_harness import NUMBERS_ROWS, HarnessDatabase, fingerprint, prepare, sqlite_engine
from sqlchat.config import ExecutionConfig
from sqlchat.errors import ExecutionFailed, register_secret
from sqlchat.execution import QueryResult, execute
from sqlchat.safety import CheckedSQL, check_sql

FAST = ExecutionConfig(row_limit=1000, max_rows=10_000, statement_timeout_s=1.0)


@pytest.fixture
def sqlite_db(tmp_path: Path):
    path = tmp_path / "business.sqlite"
    prepare(f"sqlite:///{path}")
    db = HarnessDatabase(engine=sqlite_engine(path), dialect="sqlite", display_name=path.name)
    yield db
    db.engine.dispose()


def run(db: HarnessDatabase, sql: str, config: ExecutionConfig = FAST) -> QueryResult:
    return execute(db, check_sql(sql, db.dialect, row_limit=config.row_limit), config)


def test_result_is_a_frame_with_the_query_columns(sqlite_db):
    result = run(sqlite_db, 'SELECT id, name FROM customers WHERE country = "UK" ORDER BY id')
    assert list(result.frame.columns) == ["id", "name"]
    assert result.frame.to_dict("records") == [{"id": c[0], "name": c[1]} for c in CUSTOMERS if c[4] == "UK"]
    assert not result.capped
    assert 0 <= result.seconds < 5


def test_empty_result_keeps_its_columns(sqlite_db):
    result = run(sqlite_db, "SELECT id, name FROM customers WHERE 1 = 0")
    assert list(result.frame.columns) == ["id", "name"] and len(result.frame) == 0


def test_huge_result_is_capped_at_max_rows(sqlite_db):
    config = ExecutionConfig(row_limit=1000, max_rows=100, statement_timeout_s=1.0)
    checked = check_sql("SELECT n FROM numbers", "sqlite", row_limit=None)  # no LIMIT: only the cap stops it
    result = execute(sqlite_db, checked, config)
    assert len(result.frame) == 100 and result.capped


def test_result_below_the_cap_is_not_capped(sqlite_db):
    result = execute(sqlite_db, check_sql("SELECT n FROM numbers", "sqlite", row_limit=None), FAST)
    assert len(result.frame) == NUMBERS_ROWS and not result.capped


def test_runaway_recursive_query_stops_at_the_timeout(sqlite_db):
    sql = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"
    start = time.monotonic()
    with pytest.raises(ExecutionFailed) as info:
        execute(sqlite_db, CheckedSQL(sql, "sqlite", False), FAST)
    assert info.value.message == "The query took longer than 1 s and was stopped."
    assert time.monotonic() - start < 4


def test_cartesian_join_stops_at_the_timeout(sqlite_db):
    sql = "SELECT count(*) FROM numbers a, numbers b, numbers c"
    start = time.monotonic()
    with pytest.raises(ExecutionFailed, match="took longer than 1 s"):
        run(sqlite_db, sql)
    assert time.monotonic() - start < 4


def test_the_connection_works_again_after_a_timeout_and_a_refusal(sqlite_db):
    with pytest.raises(ExecutionFailed):
        execute(sqlite_db, CheckedSQL("DELETE FROM customers", "sqlite", False), FAST)
    with pytest.raises(ExecutionFailed):
        execute(sqlite_db, CheckedSQL("SELECT count(*) FROM numbers a, numbers b, numbers c", "sqlite", False), FAST)
    assert run(sqlite_db, "SELECT count(*) AS n FROM customers").frame["n"].tolist() == [len(CUSTOMERS)]


def test_schema_only_database_explains_it_has_no_data(sqlite_db):
    sqlite_db.executable = False
    with pytest.raises(ExecutionFailed, match="no data"):
        run(sqlite_db, "SELECT * FROM customers")


def test_write_is_refused_by_the_session_with_a_plain_message(sqlite_db):
    before = fingerprint(sqlite_db.engine)
    with pytest.raises(ExecutionFailed) as info:
        execute(sqlite_db, CheckedSQL("DELETE FROM customers", "sqlite", False), FAST)
    assert "read-only" in info.value.message
    assert fingerprint(sqlite_db.engine) == before


def test_database_errors_are_one_plain_sentence_with_secrets_redacted(sqlite_db):
    register_secret("hunter2-secret")
    with pytest.raises(ExecutionFailed) as info:
        execute(sqlite_db, CheckedSQL("SELECT * FROM hunter2-secret_table", "sqlite", False), FAST)
    assert info.value.message.startswith("The database could not run this query")
    assert "hunter2-secret" not in info.value.message + (info.value.detail or "")


def test_percent_signs_and_colons_are_not_taken_for_parameters(sqlite_db):
    result = run(sqlite_db, "SELECT name, ':x' AS c FROM customers WHERE email LIKE '%@example.com' ORDER BY id")
    assert len(result.frame) == len(CUSTOMERS) and set(result.frame["c"]) == {":x"}


def test_demo_style_file_built_by_helpers_runs(tmp_path):
    path = Path(build_business_sqlite(tmp_path / "b.sqlite"))
    db = HarnessDatabase(engine=sqlite_engine(path), dialect="sqlite", display_name=path.name)
    try:
        assert run(db, "SELECT COUNT(*) AS n FROM orders").frame["n"].iloc[0] > 0
    finally:
        db.engine.dispose()


def test_one_gigabyte_value_fails_fast_instead_of_filling_memory(sqlite_db):
    start = time.monotonic()
    with pytest.raises(ExecutionFailed, match="too big"):
        execute(sqlite_db, CheckedSQL("SELECT length(randomblob(1000000000))", "sqlite", False), FAST)
    assert time.monotonic() - start < 2
