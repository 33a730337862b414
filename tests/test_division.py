"""A ratio, a percentage or a unit divides with decimals on every server (``sqlchat.corrections.division``):
SQLite and PostgreSQL cut ``7 / 2`` to 3, MariaDB does not; a division the query wants whole stays whole."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa
import sqlglot
from helpers.tables import fill_table
from test_pipeline import ScriptedBackend

from sqlchat.config import ModelConfig, Settings
from sqlchat.corrections.division import exact_division
from sqlchat.evaluation.metrics import normalize_rows
from sqlchat.pipeline import ask
from sqlchat.sources.connection import connect

SETTINGS = Settings(model=ModelConfig(num_candidates=1))
SETTINGS = replace(SETTINGS, trust=replace(SETTINGS.trust, decline=False))
ORDERS = [(1, 1, 20170315), (2, 2, 20170402), (3, 4, 20180110)]  # OrderId, Qty, Day (a date stored as a number)

WRITTEN = [  # (what the model wrote, the rows it means)
    ("SELECT SUM(CASE WHEN Qty > 1 THEN 1 ELSE 0 END) * 100 / COUNT(*) FROM Orders", [[66.667]]),  # a percentage
    ("SELECT SUM(Qty) / 1000 FROM Orders", [[0.007]]),  # in thousands
    ("SELECT AVG(Qty / 2) FROM Orders", [[1.167]]),  # a unit inside an aggregate
    ("SELECT ROUND(SUM(Qty) / 4, 1) FROM Orders", [[1.8]]),
    ("SELECT COUNT(*) * 1.0 / 2 FROM Orders", [[1.5]]),  # exact already
]


@pytest.fixture
def orders_url(server_url) -> str:
    return fill_table(server_url, "Orders", [sa.Column("OrderId", sa.Integer, primary_key=True),
                                             sa.Column("Qty", sa.Integer), sa.Column("Day", sa.Integer)], ORDERS)


def _rounded(answer) -> list[list]:
    assert answer.ok, (answer.error, answer.error_detail, answer.sql)
    return [[round(float(v), 3) for v in row] for row in normalize_rows(answer.rows)]


def test_ratios_and_units_divide_with_decimals_on_every_server(orders_url):
    failures = []
    with connect(orders_url) as db:
        for written, expected in WRITTEN:
            answer = ask("What share of orders?", db, ScriptedBackend([written]), SETTINGS)
            if _rounded(answer) != expected:
                failures.append(f"{written} -> {answer.sql}: {_rounded(answer)}")
    assert not failures, "\n".join(failures)


def test_a_year_picked_out_of_a_number_stays_whole(tmp_path):
    url = f"sqlite:///{tmp_path / 'days.sqlite'}"
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE Orders (OrderId INTEGER, Qty INTEGER, Day INTEGER)"))
        conn.execute(sa.text("INSERT INTO Orders VALUES " + ", ".join(str(row) for row in ORDERS)))
    written = "SELECT Day / 10000 AS y, COUNT(*) FROM Orders GROUP BY Day / 10000 ORDER BY y"
    with connect(url) as db:
        answer = ask("How many orders each year?", db, ScriptedBackend([written]), SETTINGS)
    assert _rounded(answer) == [[2017, 2], [2018, 1]]


def test_the_answer_says_it_divided_with_decimals(tmp_path):
    url = f"sqlite:///{tmp_path / 'one.sqlite'}"
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (n INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1), (2)"))
    with connect(url) as db:
        answer = ask("Half the total?", db, ScriptedBackend(["SELECT SUM(n) / 2 FROM t"]), SETTINGS)
    assert _rounded(answer) == [[1.5]]
    assert "exact_division" in answer.rules


@pytest.mark.parametrize("sql", [
    "SELECT AVG(salary / 1000) FROM t", "SELECT SUM(a) / COUNT(*) FROM t", "SELECT COUNT(*) * 100 / (SELECT COUNT(*) FROM t) FROM t",
])
def test_an_aggregate_figure_is_divided_with_decimals(sql):
    for dialect in ("sqlite", "postgres"):
        changed = exact_division(sqlglot.parse_one(sql, read=dialect), dialect)
        assert changed is not None and changed.find(sqlglot.exp.Cast) is not None, (sql, dialect)
    assert exact_division(sqlglot.parse_one(sql, read="mysql"), "mysql") is None  # MySQL divides exactly already


@pytest.mark.parametrize("sql", [
    "SELECT a / b FROM t",  # no aggregate: a row's value, maybe a key or a date stored as a number
    "SELECT d / 10000, COUNT(*) FROM t GROUP BY d / 10000",  # a year picked out of 20170315
    "SELECT (d / 100) % 100, COUNT(*) FROM t GROUP BY 1",  # a month picked out of it
    "SELECT FLOOR(SUM(a) / 7) FROM t", "SELECT CAST(SUM(a) / 7 AS INTEGER) FROM t",  # asked for whole
    "SELECT SUM(a) / 7.0 FROM t", "SELECT 100.0 * SUM(a) / COUNT(*) FROM t", "SELECT AVG(a) / 60 FROM t",  # exact already
])
def test_a_division_the_query_wants_whole_or_exact_already_is_left_alone(sql):
    assert exact_division(sqlglot.parse_one(sql, read="sqlite"), "sqlite") is None
