"""Names with spaces written bare by the model (Northwind's ``Order Details``) are quoted, so the query
parses and runs; a ``"table.column"`` quoted as one name is split in two; strings, quoted names and other
names are left exactly as written."""

from __future__ import annotations

import pytest

from sqlchat.corrections.spaces import quote_spaced_names, split_dotted_names
from sqlchat.pipeline import run_sql
from sqlchat.sources.connection import connect
from test_pipeline import ask_scripted, settings

NAMES = ["Order Details", "Order Details Extended", "Sales Totals by Amount", "Orders", "Products"]
COLUMNS = {"Order Details": ["OrderID", "ProductID", "Quantity"],
           "Products": ["ProductID", "ProductName", "Unit.Price"]}  # Unit.Price: a real name with a dot


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


@pytest.fixture()
def chai_sold(northwind_path):
    """The gold answer both Northwind tests compare with: units of Chai sold, from hand-written SQL."""
    db = connect(northwind_path)
    try:
        return run_sql("SELECT SUM(Quantity) FROM [Order Details] JOIN Products USING (ProductID) "
                       "WHERE ProductName = 'Chai'", db, settings())
    finally:
        db.close()


def test_a_question_about_order_details_answers_on_northwind(northwind_path, chai_sold):
    gold = chai_sold
    answer = ask_scripted(northwind_path, "How many units of Chai have we sold in total?",
                          "SELECT SUM(Quantity) FROM Order Details od JOIN Products p ON od.ProductID = p.ProductID "
                          "WHERE p.ProductName = 'Chai'")
    assert answer.ok, answer.error
    assert answer.rows == gold.rows and answer.rows[0][0] > 0


@pytest.mark.parametrize(("written", "split"), [
    ('SELECT SUM("Order Details.Quantity") FROM "Order Details"', 'SELECT SUM("Order Details"."Quantity") FROM "Order Details"'),
    ("SELECT SUM([order details.quantity]) FROM [Order Details]", 'SELECT SUM("Order Details"."Quantity") FROM [Order Details]'),
    ('SELECT SUM(`Order Details.Quantity`) FROM "Order Details"', 'SELECT SUM("Order Details"."Quantity") FROM "Order Details"'),
    # read under an alias, the table can only be named by it
    ('SELECT SUM("Order Details.Quantity") FROM "Order Details" od', 'SELECT SUM(od."Quantity") FROM "Order Details" od'),
    ('SELECT "od.Quantity" FROM "Order Details" AS od', 'SELECT od."Quantity" FROM "Order Details" AS od'),
    ('SELECT "Products.Unit.Price" FROM Products', 'SELECT "Products"."Unit.Price" FROM Products'),
])
def test_a_table_and_column_quoted_as_one_name_are_split(written, split):
    assert split_dotted_names(written, COLUMNS) == split


@pytest.mark.parametrize("sql", [
    'SELECT "Unit.Price" FROM Products',  # a real column with a dot in its name
    "SELECT ProductName FROM Products WHERE ProductName = 'Order Details.Quantity'",  # a string
    'SELECT "Order Lines.Quantity" FROM "Order Details"',  # no such table
    'SELECT "Order Details.Discount" FROM "Order Details"',  # no such column in it
    'SELECT "x.Quantity" FROM "Order Details" od',  # no such alias
])
def test_a_dotted_name_the_schema_does_not_explain_is_left_as_written(sql):
    assert split_dotted_names(sql, COLUMNS) == sql


def test_mysql_splits_into_backticks_and_leaves_double_quoted_strings():
    assert split_dotted_names("SELECT `Order Details.Quantity` FROM `Order Details`", COLUMNS, "mysql") == (
        "SELECT `Order Details`.`Quantity` FROM `Order Details`")
    assert split_dotted_names('SELECT "Order Details.Quantity"', COLUMNS, "mysql") == 'SELECT "Order Details.Quantity"'


@pytest.mark.parametrize("written", [
    'SELECT SUM("Order Details.Quantity") FROM Order Details JOIN Products ON "Order Details.ProductID" = '
    'Products.ProductID WHERE ProductName = \'Chai\'',
    "SELECT SUM([od.Quantity]) FROM Order Details od JOIN Products p ON od.ProductID = p.ProductID "
    "WHERE p.ProductName = 'Chai'",
])
def test_a_column_quoted_with_its_table_answers_on_northwind(northwind_path, chai_sold, written):
    gold = chai_sold
    answer = ask_scripted(northwind_path, "How many units of Chai have we sold in total?", written)
    assert answer.ok, answer.error
    assert answer.rows == gold.rows and answer.rows[0][0] > 0
