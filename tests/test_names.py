"""Names as the database spells them: the resolution on parse trees, without a database.

The real servers (PostgreSQL, MariaDB) run the same shapes in tests/test_mixed_case_servers.py.
"""

from __future__ import annotations

import pytest

from sqlchat.safety import check_sql
from sqlchat.schema.model import Column, Table
from sqlchat.schema.names import Spelling, needs_quotes


def _table(name: str, *columns: str) -> Table:
    return Table(name, [Column(c, "INTEGER", primary_key=i == 0) for i, c in enumerate(columns)])


TABLES = [
    _table("Customer", "CustomerId", "FirstName", "LastName", "Country"),
    _table("Invoice", "InvoiceId", "CustomerId", "Total", "BillingCountry"),
    _table("Order", "OrderId", "CustomerId", "OrderDate"),
    _table("Group", "GroupId", "Name"),
    _table("OrderDetail", "OrderDetailId", "OrderId", "UnitPrice", "Quantity"),
    _table("artist", "artistid", "name"),
]
SALES = {"orders": _table("Orders", "OrderId", "Amount")}


def _other_schema(name: str) -> tuple[str, dict[str, Table]] | None:
    return ("Sales", SALES) if name == "sales" else None


def spell(sql: str, dialect: str = "postgres") -> str:
    names = Spelling.of(TABLES, dialect, schema="public", other_schema=_other_schema)
    return check_sql(sql, dialect, row_limit=None, names=names).sql


POSTGRES_CASES = [
    ("SELECT FirstName FROM Customer WHERE Country = 'Germany'",
     "SELECT \"FirstName\" FROM \"Customer\" WHERE \"Country\" = 'Germany'"),
    # qualified columns, aliases kept as written, any case
    ("SELECT c.firstname, i.TOTAL FROM customer AS c JOIN invoice AS i ON c.customerid = i.CustomerID",
     'SELECT c."FirstName", i."Total" FROM "Customer" AS c JOIN "Invoice" AS i ON c."CustomerId" = i."CustomerId"'),
    # the table's own name as qualifier
    ("SELECT customer.firstname FROM customer", 'SELECT "Customer"."FirstName" FROM "Customer"'),
    # an output alias equal to a column name: the aggregate reads the column, ORDER BY the alias
    ("SELECT BillingCountry, SUM(Total) AS Total FROM Invoice GROUP BY BillingCountry ORDER BY Total DESC",
     'SELECT "BillingCountry", SUM("Total") AS Total FROM "Invoice" GROUP BY "BillingCountry" ORDER BY Total DESC NULLS LAST'),
    # an output alias in another case than the column it shadows
    ("SELECT COUNT(*) AS total FROM Invoice ORDER BY Total",
     'SELECT COUNT(*) AS total FROM "Invoice" ORDER BY Total NULLS FIRST'),
    # output aliases are never respelled
    ("SELECT FirstName AS firstname, LastName AS surname FROM Customer",
     'SELECT "FirstName" AS firstname, "LastName" AS surname FROM "Customer"'),
    # reserved words
    ('SELECT o.orderdate FROM "order" AS o JOIN "group" AS g ON g.groupid = o.customerid',
     'SELECT o."OrderDate" FROM "Order" AS o JOIN "Group" AS g ON g."GroupId" = o."CustomerId"'),
    ("SELECT SUM(UnitPrice * Quantity) FROM OrderDetail WHERE OrderId IN (SELECT OrderId FROM [Order])",
     'SELECT SUM("UnitPrice" * "Quantity") FROM "OrderDetail" WHERE "OrderId" IN (SELECT "OrderId" FROM "Order")'),
    # a correlated subquery reads the outer query's table
    ("SELECT FirstName FROM Customer WHERE EXISTS (SELECT 1 FROM Invoice WHERE Invoice.CustomerId = Customer.CustomerId AND Total > 10)",
     'SELECT "FirstName" FROM "Customer" WHERE EXISTS(SELECT 1 FROM "Invoice" WHERE "Invoice"."CustomerId" = "Customer"."CustomerId" AND "Total" > 10)'),
    # CTE names (even one called like a table) and their own columns stay as written
    ("WITH spend AS (SELECT CustomerId, SUM(Total) AS amount FROM Invoice GROUP BY CustomerId) "
     "SELECT c.LastName, s.amount FROM spend AS s JOIN Customer AS c ON c.CustomerId = s.customerid",
     'WITH spend AS (SELECT "CustomerId", SUM("Total") AS amount FROM "Invoice" GROUP BY "CustomerId") '
     'SELECT c."LastName", s.amount FROM spend AS s JOIN "Customer" AS c ON c."CustomerId" = s."CustomerId"'),
    ("WITH customer AS (SELECT 1 AS x) SELECT x FROM customer",
     "WITH customer AS (SELECT 1 AS x) SELECT x FROM customer"),
    # a derived table's bare column is referenced as the inner query spells it
    ("SELECT t.firstname FROM (SELECT FirstName FROM Customer) AS t ORDER BY t.FIRSTNAME",
     'SELECT t."FirstName" FROM (SELECT "FirstName" FROM "Customer") AS t ORDER BY t."FirstName" NULLS FIRST'),
    # a UNION's ORDER BY names an output column
    ("SELECT FirstName FROM Customer UNION SELECT LastName FROM Customer ORDER BY firstname",
     'SELECT "FirstName" FROM "Customer" UNION SELECT "LastName" FROM "Customer" ORDER BY "FirstName" NULLS FIRST'),
    # GROUP BY / HAVING with aggregates
    ("SELECT country, COUNT(*) FROM customer GROUP BY country HAVING COUNT(*) > 1",
     'SELECT "Country", COUNT(*) FROM "Customer" GROUP BY "Country" HAVING COUNT(*) > 1'),
    # names the schema lacks are left alone; all-lower-case names need no quotes
    ("SELECT nosuch FROM Customer", 'SELECT nosuch FROM "Customer"'),
    ("SELECT Name FROM Artist WHERE ArtistId = 1", "SELECT name FROM artist WHERE artistid = 1"),
    # quoted by the user in the wrong case: still the database's spelling
    ('SELECT "firstname" FROM "customer"', 'SELECT "FirstName" FROM "Customer"'),
    # schemas: the default one, and another one looked up by name
    ("SELECT public.customer.firstname FROM public.customer",
     'SELECT public."Customer"."FirstName" FROM public."Customer"'),
    ("SELECT o.amount FROM sales.orders AS o", 'SELECT o."Amount" FROM "Sales"."Orders" AS o'),
    ("SELECT * FROM nowhere.orders", "SELECT * FROM nowhere.orders"),
]


@pytest.mark.parametrize(("sql", "expected"), POSTGRES_CASES)
def test_postgres_gets_the_database_spelling(sql, expected):
    assert spell(sql) == expected


MYSQL_CASES = [
    ("SELECT firstname FROM customer WHERE country = 'Germany'",
     "SELECT FirstName FROM Customer WHERE Country = 'Germany'"),
    ('SELECT o.orderdate, SUM(d.unitprice) FROM "order" AS o JOIN orderdetail AS d ON d.orderid = o.orderid GROUP BY o.orderdate',
     "SELECT o.OrderDate, SUM(d.UnitPrice) FROM `Order` AS o JOIN OrderDetail AS d ON d.OrderId = o.OrderId GROUP BY o.OrderDate"),
    ("SELECT name FROM `group`", "SELECT Name FROM `Group`"),
    ("SELECT BillingCountry, SUM(Total) AS Total FROM Invoice GROUP BY BillingCountry ORDER BY Total DESC",
     "SELECT BillingCountry, SUM(Total) AS Total FROM Invoice GROUP BY BillingCountry ORDER BY Total DESC"),
]


@pytest.mark.parametrize(("sql", "expected"), MYSQL_CASES)
def test_mysql_gets_the_database_spelling_and_backticks(sql, expected):
    assert spell(sql, "mysql") == expected


def test_sqlite_sql_is_left_as_written():
    sql = "SELECT firstname FROM customer"
    assert spell(sql, "sqlite") == sql


def test_check_without_names_is_unchanged():
    assert check_sql("SELECT FirstName FROM Customer", "postgres", row_limit=None).sql == "SELECT FirstName FROM Customer"


@pytest.mark.parametrize(("name", "dialect", "quoted"), [
    ("Customer", "postgres", True), ("customer", "postgres", False), ("order", "postgres", True),
    ("Customer", "mysql", False), ("Order", "mysql", True), ("Order Details", "mysql", True),
    ("UnitPrice", "sqlite", False),
])
def test_quotes_only_where_the_dialect_needs_them(name, dialect, quoted):
    assert needs_quotes(name, dialect) is quoted


def test_the_safety_check_still_judges_the_respelled_query():
    from sqlchat.errors import UnsafeSQL
    with pytest.raises(UnsafeSQL):
        spell("DELETE FROM customer")


def test_sqlite_databases_need_no_spelling(chinook_path):
    from sqlchat.schema.names import database_spelling
    from sqlchat.sources.connection import connect

    with connect(chinook_path) as db:
        assert database_spelling(db) is None
