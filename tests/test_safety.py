"""The parse-tree check: hostile SQL is refused in every dialect, analytics SQL passes."""

from __future__ import annotations

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from hostile_sql import CHECK_ONLY_HOSTILE, HOSTILE, LEGITIMATE
from sqlchat.errors import InvalidSQL, UnsafeSQL
from sqlchat.safety import CheckedSQL, check_sql

DIALECTS = ("sqlite", "postgres", "mysql")
ALL_HOSTILE = [sql for _, sql in HOSTILE] + CHECK_ONLY_HOSTILE

# Independent of safety.py: what a read-only query may never contain.
WRITE_NODE_NAMES = (
    "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command", "Into", "Lock", "Copy",
    "Pragma", "Attach", "Detach", "Set", "Transaction", "Commit", "Rollback", "Grant", "Revoke",
    "TruncateTable", "LoadData", "Use", "Returning",
)
WRITE_NODES = tuple(getattr(exp, n) for n in WRITE_NODE_NAMES if hasattr(exp, n))
SIDE_EFFECT_WORDS = ("sleep", "benchmark", "load_", "set_config", "lo_", "dblink", "pg_terminate", "pg_read", "nextval")


def assert_read_only(checked: CheckedSQL) -> None:
    """Re-read what would be sent, as the target database would, and look for any write."""
    statements = [s for s in sqlglot.parse(checked.sql, read=checked.dialect) if s is not None]
    assert len(statements) == 1, checked.sql
    root = statements[0]
    while isinstance(root, exp.Subquery):
        root = root.this
    assert isinstance(root, (exp.Select, exp.Union, exp.Intersect, exp.Except)), checked.sql
    assert not list(root.find_all(*WRITE_NODES)), checked.sql
    for func in root.find_all(exp.Anonymous):
        assert not func.name.lower().startswith(SIDE_EFFECT_WORDS), checked.sql
    assert "/*" not in checked.sql and "--" not in checked.sql, "comments must not reach the database"


# -- the corpus ------------------------------------------------------------------------


def test_corpus_is_big_enough():
    assert len(ALL_HOSTILE) >= 200
    assert len(LEGITIMATE) >= 60
    assert len({c for c, _ in HOSTILE}) >= 20


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("sql", ALL_HOSTILE)
def test_every_hostile_statement_is_refused(sql, dialect):
    with pytest.raises(UnsafeSQL):
        check_sql(sql, dialect)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("sql", LEGITIMATE)
def test_every_legitimate_query_passes(sql, dialect):
    checked = check_sql(sql, dialect)
    assert checked.dialect == dialect
    assert_read_only(checked)


# -- messages --------------------------------------------------------------------------


def test_delete_is_refused_in_plain_words():
    with pytest.raises(UnsafeSQL) as info:
        check_sql("DELETE FROM customers", "postgres")
    assert info.value.message == "Only read-only SELECT queries can run: this statement would DELETE rows."
    assert not isinstance(info.value, InvalidSQL)


@pytest.mark.parametrize("sql, words", [
    ("DROP TABLE orders", "DROP"),
    ("UPDATE customers SET name = 'x'", "UPDATE"),
    ("WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", "DELETE"),
    ("SELECT * INTO copy FROM customers", "INTO"),
    ("SELECT * FROM customers FOR UPDATE", "lock"),
    ("SELECT pg_sleep(10)", "PG_SLEEP()"),
    ("SELECT my_udf(1)", "MY_UDF()"),
    ("ATTACH DATABASE 'x.db' AS x", "ATTACH"),
    ("CALL proc()", "CALL"),
])
def test_refusal_names_the_problem(sql, words):
    with pytest.raises(UnsafeSQL) as info:
        check_sql(sql, "postgres")
    assert words in info.value.message


def test_several_statements_are_refused_with_the_count():
    with pytest.raises(UnsafeSQL, match="contains 2 statements"):
        check_sql("SELECT 1; DROP TABLE customers", "sqlite")


@pytest.mark.parametrize("sql", ["SELEC name FRM customers", "SELECT (((", "", "   ", "this is not sql at all !!"])
def test_unparsable_sql_is_invalid_not_unsafe(sql):
    with pytest.raises(InvalidSQL) as info:
        check_sql(sql, "postgres")
    assert isinstance(info.value, UnsafeSQL)  # still refused by callers that catch UnsafeSQL
    assert "could not be understood" in info.value.message or "no SQL" in info.value.message


# -- LIMIT -----------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_limit_is_added_when_missing(dialect):
    checked = check_sql("SELECT name FROM customers", dialect, row_limit=1000)
    assert checked.limit_added
    assert checked.sql.endswith("LIMIT 1000")


def test_existing_limit_is_kept():
    checked = check_sql("SELECT name FROM customers LIMIT 5", "postgres")
    assert not checked.limit_added
    assert checked.sql == "SELECT name FROM customers LIMIT 5"


def test_limit_goes_on_the_outermost_query_of_a_union():
    checked = check_sql("SELECT city FROM customers UNION SELECT name FROM products", "postgres", row_limit=7)
    assert checked.sql == "SELECT city FROM customers UNION SELECT name FROM products LIMIT 7"
    assert checked.limit_added


def test_no_limit_when_row_limit_is_none():
    checked = check_sql("SELECT name FROM customers", "sqlite", row_limit=None)
    assert checked.sql == "SELECT name FROM customers" and not checked.limit_added


def test_subquery_limit_does_not_count_as_outer_limit():
    checked = check_sql("SELECT * FROM (SELECT id FROM orders LIMIT 3) AS t", "sqlite", row_limit=10)
    assert checked.limit_added and checked.sql.endswith("LIMIT 10")


# -- transpiling -----------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_double_quoted_training_strings_become_string_literals(dialect):
    checked = check_sql('SELECT name FROM customers WHERE city = "Paris"', dialect, row_limit=None)
    assert checked.sql == "SELECT name FROM customers WHERE city = 'Paris'"


def test_double_quoted_strings_in_in_like_between():
    checked = check_sql(
        'SELECT id FROM t WHERE a IN ("x", "y") AND b LIKE "%z" AND c BETWEEN "a" AND "b"', "postgres", row_limit=None
    )
    assert checked.sql == "SELECT id FROM t WHERE a IN ('x', 'y') AND b LIKE '%z' AND c BETWEEN 'a' AND 'b'"


def test_a_known_column_stays_a_column():
    checked = check_sql('SELECT id FROM t WHERE price > "cost"', "postgres", row_limit=None, known_columns={"cost"})
    assert checked.sql == 'SELECT id FROM t WHERE price > "cost"'
    mysql = check_sql('SELECT id FROM t WHERE price > "cost"', "mysql", row_limit=None, known_columns={"COST"})
    assert mysql.sql == "SELECT id FROM t WHERE price > `cost`"


def test_quoted_identifiers_elsewhere_stay_identifiers():
    checked = check_sql('SELECT "first name" AS "Name" FROM "customers"', "postgres", row_limit=None)
    assert checked.sql == 'SELECT "first name" AS "Name" FROM "customers"'


def test_sqlite_functions_are_translated():
    sql = "SELECT STRFTIME('%Y', order_date) AS y, COUNT(*) FROM orders GROUP BY y"
    assert "TO_CHAR" in check_sql(sql, "postgres").sql
    assert "DATE_FORMAT" in check_sql(sql, "mysql").sql


def test_target_dialect_is_tried_when_sqlite_cannot_parse():
    checked = check_sql("SELECT name FROM customers WHERE name ILIKE 'a%'", "postgres", row_limit=None)
    assert "ILIKE" in checked.sql


def test_comments_and_hints_never_reach_the_database():
    checked = check_sql("/* top */ SELECT name -- why\nFROM customers", "mysql", row_limit=None)
    assert checked.sql == "SELECT name FROM customers"


# -- fuzzing ---------------------------------------------------------------------------

SQL_WORDS = [
    "SELECT", "FROM", "WHERE", "DELETE", "DROP", "TABLE", "INSERT", "INTO", "UPDATE", "SET", "WITH", "AS",
    "UNION", "(", ")", ";", ",", "*", "customers", "orders", "1", "'x'", '"y"', "--", "/*", "*/", "/*!",
    "pg_sleep(1)", "SLEEP(1)", "COPY", "PRAGMA", "ATTACH", "RETURNING", "FOR UPDATE", "LIMIT", "=", "@a",
    ":=", "$1", "?", "\n", "GRANT", "CALL", "EXECUTE", "LOCK", "OUTFILE", "VALUES", "CREATE",
]


def _outcome(sql: str, dialect: str) -> CheckedSQL | None:
    """None when refused; any exception other than UnsafeSQL fails the test."""
    try:
        return check_sql(sql, dialect)
    except UnsafeSQL:
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=200), st.lists(st.sampled_from(SQL_WORDS), max_size=25).map(" ".join)),
       dialect=st.sampled_from(DIALECTS))
def test_random_text_never_crashes_and_never_writes(text, dialect):
    checked = _outcome(text, dialect)
    if checked is not None:
        assert_read_only(checked)


def _insert_comment(sql: str, position: int, comment: str) -> str:
    spaces = [i for i, ch in enumerate(sql) if ch == " "]
    if not spaces:
        return comment + sql
    at = spaces[position % len(spaces)]
    return sql[:at] + " " + comment + " " + sql[at:]


def _flip_case(sql: str, mask: int) -> str:
    return "".join(ch.swapcase() if (mask >> (i % 31)) & 1 else ch for i, ch in enumerate(sql))


MUTATIONS = st.sampled_from(["comment", "line_comment", "case", "prefix", "suffix", "both", "paren", "spaces"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sql=st.sampled_from(ALL_HOSTILE), mutation=MUTATIONS, n=st.integers(0, 2**31 - 1),
       dialect=st.sampled_from(DIALECTS))
def test_mutated_hostile_statements_are_still_refused(sql, mutation, n, dialect):
    mutated = {
        "comment": lambda: _insert_comment(sql, n, "/* x */"),
        "line_comment": lambda: _insert_comment(sql, n, "-- x\n"),
        "case": lambda: _flip_case(sql, n),
        "prefix": lambda: "SELECT 1; " + sql,
        "suffix": lambda: sql + "; SELECT 1",
        "both": lambda: f"SELECT * FROM customers;\n{sql};\nSELECT 2",
        "paren": lambda: f"({sql})",
        "spaces": lambda: sql.replace(" ", "\t\n " if n % 2 else "  "),
    }[mutation]()
    outcome = _outcome(mutated, dialect)
    if outcome is not None:
        # Only a mutation landing inside a comment changes what the statement means: a newline ends a
        # line comment early, and "/* x */" inside "/* ... */" closes it early (comments do not nest),
        # so commented-out words become code. What it turned into must be a harmless read.
        assert "--" in sql or "#" in sql or "/*" in sql, mutated
        assert_read_only(outcome)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.sampled_from(LEGITIMATE), second=st.sampled_from(ALL_HOSTILE), dialect=st.sampled_from(DIALECTS))
def test_legitimate_then_hostile_is_refused(first, second, dialect):
    assert _outcome(first.rstrip(";") + ";\n" + second, dialect) is None
