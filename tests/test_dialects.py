"""Functions of another dialect run on SQLite, PostgreSQL and MariaDB: translated by sqlglot into the connection's
own (``sqlchat.corrections.dialects``); an invented column fails on the servers and is repaired as on SQLite."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
import sqlalchemy as sa
from helpers.tables import fill_table
from test_pipeline import ScriptedBackend

from sqlchat.config import ModelConfig, Settings
from sqlchat.corrections.dialects import in_dialect
from sqlchat.evaluation.metrics import normalize_rows
from sqlchat.pipeline import ask
from sqlchat.sources.connection import connect

SALES = [(1, "Ann", "Lee", dt.date(2021, 3, 5), 10.5), (2, "Bob", "Ray", dt.date(2021, 7, 20), 4.0),
         (3, "Cy", "Fox", dt.date(2022, 1, 10), 2.5)]
SETTINGS = Settings(model=ModelConfig(num_candidates=1))
SETTINGS = replace(SETTINGS, trust=replace(SETTINGS.trust, decline=False))

WRITTEN = [  # (what the model wrote, the rows it means)
    ("SELECT COUNT(*) FROM Sale WHERE YEAR(SoldAt) = 2021", [[2]]),  # MySQL
    ("SELECT DATE_FORMAT(SoldAt, '%Y-%m') FROM Sale ORDER BY SaleId", [["2021-03"], ["2021-07"], ["2022-01"]]),
    ("SELECT COUNT(*) FROM Sale WHERE SoldAt < CURDATE()", [[3]]),
    ("SELECT COUNT(*) FROM Sale WHERE SoldAt > DATE_SUB(CURDATE(), INTERVAL 100 YEAR)", [[3]]),
    ("SELECT COUNT(*) FROM Sale WHERE SoldAt > NOW() - INTERVAL 100 YEAR", [[3]]),
    ("SELECT DATEDIFF('2021-03-15', SoldAt) FROM Sale WHERE SaleId = 1", [[10]]),
    ("SELECT AVG(DATEDIFF(SoldAt, '2021-03-01')) FROM Sale WHERE SaleId = 1", [[4]]),  # inside an aggregate
    ("SELECT COUNT(*) FROM Sale WHERE EXTRACT(YEAR FROM SoldAt) = 2022", [[1]]),  # PostgreSQL
    ("SELECT COUNT(*) FROM Sale WHERE SoldAt::date >= '2021-07-01'", [[2]]),
    ("SELECT COUNT(*) FROM Sale WHERE SoldAt > CURRENT_DATE - INTERVAL '100 years'", [[3]]),
    ("SELECT COUNT(DISTINCT date_trunc('year', SoldAt)) FROM Sale", [[2]]),
    ("SELECT COUNT(*) FROM Sale WHERE strftime('%Y', SoldAt) = '2021'", [[2]]),  # SQLite
    ("SELECT CAST(julianday('2021-03-15') - julianday(SoldAt) AS INTEGER) FROM Sale WHERE SaleId = 1", [[10]]),
    ("SELECT FirstName || ' ' || LastName FROM Sale ORDER BY SaleId", [["Ann Lee"], ["Bob Ray"], ["Cy Fox"]]),
    ("SELECT CONCAT(FirstName, ' ', LastName) FROM Sale ORDER BY SaleId", [["Ann Lee"], ["Bob Ray"], ["Cy Fox"]]),
]
INVENTED = [  # an invented column: fails as written, answered by the name repair
    ("SELECT SUM(sale_amount) FROM Sale", [[17]]),
    ("SELECT COUNT(*) FROM Sale WHERE first_name = 'Ann' AND YEAR(SoldAt) = 2021", [[1]]),
]


@pytest.fixture
def sales_url(server_url) -> str:
    columns = [sa.Column("SaleId", sa.Integer, primary_key=True), sa.Column("FirstName", sa.String(40)),
               sa.Column("LastName", sa.String(40)), sa.Column("SoldAt", sa.Date), sa.Column("Amount", sa.Numeric(10, 2))]
    return fill_table(server_url, "Sale", columns, SALES)


def _rows(answer) -> list[list]:
    assert answer.ok, (answer.error, answer.error_detail, answer.sql)
    return [[round(float(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in row]
            for row in normalize_rows(answer.rows)]


def test_another_dialects_functions_run_on_every_server(sales_url):
    failures = []
    with connect(sales_url) as db:
        for written, expected in WRITTEN:
            answer = ask("How many sales?", db, ScriptedBackend([written]), SETTINGS)
            try:
                assert _rows(answer) == expected
            except AssertionError as error:
                failures.append(f"{written} -> {answer.sql}: {error}")
    assert not failures, "\n".join(failures)


def test_an_invented_column_is_repaired_and_retried_on_every_server(sales_url):
    with connect(sales_url) as db:
        for written, expected in INVENTED:
            answer = ask("How many sales?", db, ScriptedBackend([written]), SETTINGS)
            assert _rows(answer) == expected, written
            assert answer.repaired and "invented_names" in answer.rules


@pytest.mark.parametrize(("written", "dialect", "translated"), [
    ("SELECT CURDATE()", "postgres", "SELECT CURRENT_DATE"),
    ("SELECT DATE_FORMAT(d, '%Y-%m') FROM t", "postgres", "SELECT TO_CHAR(CAST(d AS TIMESTAMP), 'YYYY-MM') FROM t"),
    ("SELECT strftime('%Y', d) FROM t", "mysql", "SELECT DATE_FORMAT(d, '%Y') FROM t"),
    ("SELECT a || ' ' || b FROM t WHERE x = 1 OR y = 2", "mysql", "SELECT CONCAT(a, ' ', b) FROM t WHERE x = 1 OR y = 2"),
    ("SELECT d FROM t WHERE d > CURRENT_DATE - INTERVAL '30 days'", "sqlite",
     "SELECT d FROM t WHERE d > DATE(CURRENT_DATE, '-30 day')"),
    ("SELECT date_trunc('month', d) FROM t", "sqlite", "SELECT DATE(d, 'start of month') FROM t"),
    ('SELECT "Name" FROM "Customer" WHERE DATE_FORMAT("InvoiceDate", \'%Y\') = \'2021\'', "postgres",
     'SELECT "Name" FROM "Customer" WHERE TO_CHAR(CAST("InvoiceDate" AS TIMESTAMP), \'YYYY\') = \'2021\''),
])
def test_only_the_foreign_calls_change(written, dialect, translated):
    assert in_dialect(written, dialect) == translated


@pytest.mark.parametrize(("sql", "dialect"), [
    ("SELECT EXTRACT(YEAR FROM d) FROM t", "postgres"), ("SELECT strftime('%Y', d) FROM t", "sqlite"),
    ("SELECT DATE_FORMAT(d, '%Y') FROM t", "mysql"), ("SELECT * FROM (", "postgres"),
])
def test_the_connections_own_functions_stay(sql, dialect):
    assert in_dialect(sql, dialect) == sql
