"""Names with spaces written bare by the model (Northwind's ``Order Details``) are quoted, so the query
parses and runs; strings, quoted names and other names are left exactly as written."""

from __future__ import annotations

import pytest

from sqlchat.corrections.spaces import quote_spaced_names
from sqlchat.pipeline import run_sql
from sqlchat.sources.connection import connect
from test_pipeline import ask_scripted, settings

NAMES = ["Order Details", "Order Details Extended", "Sales Totals by Amount", "Orders", "Products"]


@pytest.mark.parametrize(("written", "quoted"), [
    ("SELECT SUM(Quantity) FROM Order Details", 'SELECT SUM(Quantity) FROM "Order Details"'),
    ("SELECT * FROM Products p JOIN order   details od ON p.ProductID = od.ProductID",
     'SELECT * FROM Products p JOIN "Order Details" od ON p.ProductID = od.ProductID'),
    ("SELECT * FROM Order Details Extended", 'SELECT * FROM "Order Details Extended"'),  # the longest name wins
    ("SELECT CompanyName FROM Sales Totals by Amount", 'SELECT CompanyName FROM "Sales Totals by Amount"'),
])
def test_a_bare_spaced_name_is_quoted(written, quoted):
    assert quote_spaced_names(written, NAMES) == quoted


@pytest.mark.parametrize("sql", [
    "SELECT 'Order Details' FROM Orders",  # a string
    'SELECT * FROM "Order Details" JOIN [Order Details] AS b JOIN `Order Details` AS c',  # already quoted
    "SELECT x.Order Details FROM t",  # part of a dotted name: not ours to guess
    "SELECT * FROM Orders",
])
def test_anything_else_is_left_as_written(sql):
    assert quote_spaced_names(sql, NAMES) == sql


def test_mysql_gets_backticks():
    assert quote_spaced_names("SELECT * FROM Order Details", NAMES, "mysql") == "SELECT * FROM `Order Details`"


def test_a_question_about_order_details_answers_on_northwind(northwind_path):
    db = connect(northwind_path)
    try:
        gold = run_sql("SELECT SUM(Quantity) FROM [Order Details] JOIN Products USING (ProductID) "
                       "WHERE ProductName = 'Chai'", db, settings())
    finally:
        db.close()
    answer = ask_scripted(northwind_path, "How many units of Chai have we sold in total?",
                          "SELECT SUM(Quantity) FROM Order Details od JOIN Products p ON od.ProductID = p.ProductID "
                          "WHERE p.ProductName = 'Chai'")
    assert answer.ok, answer.error
    assert answer.rows == gold.rows and answer.rows[0][0] > 0
