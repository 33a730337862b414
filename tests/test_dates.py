"""Other dialects' date functions written as SQLite's: the query a small model writes in MySQL's words
runs on SQLite and returns what the MySQL query means; everything else is left as written."""

from __future__ import annotations

import pytest

from sqlchat.sources.connection import connect
from sqlchat.corrections.dates import sqlite_dates
from sqlchat.pipeline import run_sql
from test_pipeline import ask_scripted, settings


@pytest.mark.parametrize(("written", "rewritten"), [
    ("SELECT COUNT(*) FROM Invoice WHERE YEAR(InvoiceDate) = 2024",
     "SELECT COUNT(*) FROM Invoice WHERE CAST(STRFTIME('%Y', InvoiceDate) AS INTEGER) = 2024"),
    ("SELECT MONTH(d), DAY(d) FROM t", "SELECT CAST(STRFTIME('%m', d) AS INTEGER), CAST(STRFTIME('%d', d) AS INTEGER) FROM t"),
    ("SELECT EXTRACT(YEAR FROM d) FROM t", "SELECT CAST(STRFTIME('%Y', d) AS INTEGER) FROM t"),
    ("SELECT DATE_FORMAT(d, '%Y-%m') AS month FROM t", "SELECT STRFTIME('%Y-%m', d) AS month FROM t"),
    ("SELECT * FROM t WHERE d < NOW() AND e < CURDATE()", "SELECT * FROM t WHERE d < DATETIME('now') AND e < DATE('now')"),
])
def test_mysql_date_functions_become_strftime(written, rewritten):
    assert sqlite_dates(written) == rewritten


@pytest.mark.parametrize("sql", [
    "SELECT strftime('%Y', InvoiceDate) FROM Invoice",  # already SQLite's: kept byte for byte
    "SELECT Name FROM \"Order Details\" WHERE x = 'YEAR(d)'",
    "SELECT DATE_FORMAT(d, '%M') FROM t",  # a month name: SQLite has no equal, so no rewrite
    "SELEC broken (",
    "",
])
def test_anything_else_is_left_as_written(sql):
    assert sqlite_dates(sql) == sql


def test_other_dialects_are_left_alone():
    assert sqlite_dates("SELECT YEAR(d) FROM t", "mysql") == "SELECT YEAR(d) FROM t"


def test_a_year_question_written_in_mysql_words_answers_on_sqlite(chinook_path):
    db = connect(chinook_path)
    try:
        gold = run_sql("SELECT COUNT(*) FROM Invoice WHERE strftime('%Y', InvoiceDate) = '2024'", db, settings())
    finally:
        db.close()
    answer = ask_scripted(chinook_path, "How many invoices did we issue in 2024?",
                          "SELECT COUNT(*) FROM Invoice WHERE YEAR(InvoiceDate) = 2024")
    assert answer.ok, answer.error
    assert answer.rows == gold.rows and answer.rows[0][0] > 0
