"""Mixed-case and reserved-word names on the real PostgreSQL and MariaDB servers.

Tables ``"Customer"``, ``"Order"``, ``"Group"`` and ``"OrderDetail"`` with columns ``"UnitPrice"``,
``"CustomerId"``..., as migration tools leave them. User SQL in any case (``sqlchat sql``,
:func:`run_sql`) and the model's usual unquoted SQL (:func:`ask`, scripted) must reach the right
rows; value linking, readable columns and join corrections must still work; the context must show
the database's spelling. Then the demo copies made by ``scripts/copy_demo_to_postgres.py`` must
answer the verified Chinook pairs exactly as the SQLite original does.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.readonly_harness import MYSQL_ADMIN_URL, PG_ADMIN_URL

from sqlchat.config import DEMO_DIR, Settings
from sqlchat.evaluation.metrics import normalize_rows
from sqlchat.models.backends import Generation
from sqlchat.pipeline import ask, run_sql
from sqlchat.sources.connection import connect

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = Settings.from_env({})

# (CustomerId, FirstName, LastName, Country)
CUSTOMERS = [(1, "Leonie", "Köhler", "Germany"), (2, "François", "Tremblay", "Canada"),
             (3, "Hannah", "Schneider", "Germany"), (4, "Bjørn", "Hansen", "Norway")]
GROUPS = [(1, "Retail"), (2, "Wholesale")]
# (OrderId, CustomerId, GroupId)
ORDERS = [(10, 1, 1), (11, 1, 2), (12, 3, 1), (13, 2, 1), (14, 1, 1)]
# (OrderDetailId, OrderId, UnitPrice, Quantity)
DETAILS = [(100, 10, 2.5, 2), (101, 10, 1.0, 1), (102, 11, 10.0, 3), (103, 12, 4.0, 1), (104, 13, 3.0, 2),
           (105, 14, 1.5, 4)]

GERMANS = sorted(first for _, first, _, country in CUSTOMERS if country == "Germany")


def _build(url: str) -> None:
    """The mixed-case tables, with keys, through SQLAlchemy (which quotes exactly as needed)."""
    metadata = sa.MetaData()
    customer = sa.Table("Customer", metadata, sa.Column("CustomerId", sa.Integer, primary_key=True),
                        sa.Column("FirstName", sa.String(40)), sa.Column("LastName", sa.String(40)),
                        sa.Column("Country", sa.String(40)))
    group = sa.Table("Group", metadata, sa.Column("GroupId", sa.Integer, primary_key=True), sa.Column("Name", sa.String(40)))
    order = sa.Table("Order", metadata, sa.Column("OrderId", sa.Integer, primary_key=True),
                     sa.Column("CustomerId", sa.Integer, sa.ForeignKey("Customer.CustomerId")),
                     sa.Column("GroupId", sa.Integer, sa.ForeignKey("Group.GroupId")))
    detail = sa.Table("OrderDetail", metadata, sa.Column("OrderDetailId", sa.Integer, primary_key=True),
                      sa.Column("OrderId", sa.Integer, sa.ForeignKey("Order.OrderId")),
                      sa.Column("UnitPrice", sa.Numeric(10, 2)), sa.Column("Quantity", sa.Integer))
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            for table, rows in ((customer, CUSTOMERS), (group, GROUPS), (order, ORDERS), (detail, DETAILS)):
                conn.execute(table.insert(), [dict(zip(table.columns.keys(), row)) for row in rows])
    finally:
        engine.dispose()


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def server_url(request) -> str:
    url = request.getfixturevalue("pg_url" if request.param == "postgres" else "mysql_url")
    _build(url)
    return url


@pytest.fixture
def db(server_url):
    with connect(server_url) as database:
        yield database


@dataclass
class ScriptedBackend:
    """The model's SQL, fixed: what a small model writes from the context (unquoted, any case)."""

    candidates: list[str]
    name: str = "scripted"
    prompts: list[str] = field(default_factory=list)

    def generate(self, prompt: str, n: int = 1) -> list[Generation]:
        self.prompts.append(prompt)
        return [Generation(text=sql, sql=sql, tokens=5, seconds=0.01) for sql in self.candidates[:n]]


def _values(answer) -> list[list]:
    """The answer's rows as the evaluator compares them (a NUMERIC 30.00 is 30)."""
    assert answer.ok, (answer.error, answer.error_detail, answer.sql)
    return [list(row) for row in normalize_rows(answer.rows)]


USER_SQL = [
    ("SELECT FirstName FROM Customer WHERE Country = 'Germany' ORDER BY FirstName", [[n] for n in GERMANS]),
    ("select firstname from CUSTOMER where country = 'Germany' order by 1", [[n] for n in GERMANS]),
    ('SELECT "firstname" FROM "customer" WHERE "Country" = \'Germany\' ORDER BY 1', [[n] for n in GERMANS]),
    ('SELECT COUNT(*) FROM "order" o JOIN "group" g ON g.groupid = o.groupid WHERE g.name = \'Retail\'', [[4]]),
    ("SELECT o.OrderId, SUM(d.unitprice * d.quantity) AS total FROM `Order` o JOIN orderdetail d "
     "ON d.orderid = o.orderid GROUP BY o.orderid ORDER BY total DESC LIMIT 1", [[11, 30.0]]),
    ("SELECT c.LastName, SUM(UnitPrice * Quantity) AS UnitPrice FROM customer c JOIN [order] o ON o.customerid = c.customerid "
     "JOIN orderdetail d ON d.orderid = o.orderid GROUP BY c.lastname ORDER BY UnitPrice DESC LIMIT 2",
     [["Köhler", 42.0], ["Tremblay", 6.0]]),
    ("WITH spend AS (SELECT o.CustomerId, COUNT(*) AS orders FROM [Order] o GROUP BY o.customerid) "
     "SELECT c.firstname FROM spend s JOIN Customer c ON c.customerid = s.customerid WHERE s.orders > 2", [["Leonie"]]),
    ("SELECT FirstName FROM customer WHERE customerid IN (SELECT customerid FROM [order] WHERE groupid = 2)", [["Leonie"]]),
]


@pytest.mark.parametrize(("sql", "expected"), USER_SQL)
def test_user_sql_in_any_case_returns_the_right_rows(db, sql, expected):
    answer = run_sql(sql, db, SETTINGS)
    assert _values(answer) == [list(row) for row in normalize_rows(expected)]


def test_sqlchat_sql_on_the_command_line(server_url):
    result = subprocess.run([sys.executable, "-m", "sqlchat", "sql", "--db", server_url,
                             "select firstname from customer where country = 'Germany' order by 1", "--json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert [row[0] for row in json.loads(result.stdout)["rows"]] == GERMANS


def test_the_models_usual_sql_answers(db):
    backend = ScriptedBackend(["SELECT FirstName FROM Customer WHERE Country = 'Germany'"])
    answer = ask("Which customers are from Germany?", db, backend, SETTINGS)
    assert sorted(row[0] for row in _values(answer)) == GERMANS
    assert not answer.repaired  # resolution is not a repair: the model's own SQL ran


def test_the_context_shows_the_databases_spelling(db):
    backend = ScriptedBackend(["SELECT 1"])
    answer = ask("Unit price of each customer's order details, per group", db, backend, SETTINGS)
    # the database's spelling, quoted only where any SQL needs it: the same context as the SQLite original
    assert "CREATE TABLE Customer (CustomerId INTEGER" in answer.context
    assert 'CREATE TABLE "Order" (' in answer.context and 'CREATE TABLE "Group" (' in answer.context
    assert "UnitPrice NUMERIC" in answer.context


def test_value_linking_on_mixed_case_names(db):
    backend = ScriptedBackend(["SELECT FirstName FROM Customer WHERE Country = 'germany'"])
    answer = ask("Customers from germany", db, backend, SETTINGS)
    assert sorted(row[0] for row in _values(answer)) == GERMANS
    if db.dialect == "postgres":  # MariaDB's collation already compares ignoring case
        assert answer.repaired and "'Germany'" in answer.chosen


def test_readable_columns_on_mixed_case_names(db):
    sql = ('SELECT c.CustomerId FROM Customer c JOIN "Order" o ON o.CustomerId = c.CustomerId '
           'GROUP BY c.CustomerId ORDER BY COUNT(*) DESC LIMIT 1')
    answer = ask("Which customer placed the most orders?", db, ScriptedBackend([sql]), SETTINGS)
    assert answer.columns_added, answer.chosen
    assert _values(answer) == [[1, "Leonie", "Köhler", 3]]


def test_join_correction_on_mixed_case_names(db):
    wrong_key = ('SELECT SUM(d.UnitPrice * d.Quantity) FROM "Order" o JOIN OrderDetail d ON o.OrderId = d.OrderDetailId '
                 "WHERE o.CustomerId = 3")
    answer = ask("How much did customer 3 spend?", db, ScriptedBackend([wrong_key]), SETTINGS)
    assert answer.repaired and _values(answer) == [[4]]


def test_repaired_names_are_spelled_too(db):
    invented = "SELECT first_name FROM customers WHERE country = 'Germany'"
    answer = ask("Which customers are from Germany?", db, ScriptedBackend([invented]), SETTINGS)
    assert answer.repaired and sorted(row[0] for row in _values(answer)) == GERMANS


# --------------------------------------------------------------------------- schemas


@pytest.mark.postgres
def test_other_schemas_and_the_search_path(pg_url):
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        for schema, amounts in (("sales", "(1, 5), (2, 7)"), ('"Archive"', "(1, 100)")):
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            conn.exec_driver_sql(f'CREATE TABLE {schema}."Orders" ("OrderId" INTEGER PRIMARY KEY, "Amount" NUMERIC)')
            conn.exec_driver_sql(f'INSERT INTO {schema}."Orders" VALUES {amounts}')
    engine.dispose()
    with connect(pg_url) as db:  # the default schema is public: the query names the other ones
        assert _values(run_sql("SELECT SUM(o.amount) FROM sales.orders o", db, SETTINGS)) == [[12]]
        answer = run_sql("SELECT archive.orders.amount FROM archive.orders", db, SETTINGS)
        assert _values(answer) == [[100]] and 'FROM "Archive"."Orders"' in answer.sql
    with connect(pg_url + "?options=-csearch_path%3Dsales") as db:
        answer = ask("Total amount?", db, ScriptedBackend(["SELECT SUM(Amount) FROM Orders"]), SETTINGS)
        assert _values(answer) == [[12]]
        assert answer.context.startswith('CREATE TABLE Orders (OrderId INTEGER')


@pytest.mark.mariadb
def test_another_mariadb_database_named_in_the_query(mysql_url):
    _build(mysql_url)
    other = sa.make_url(mysql_url).database
    with connect(MYSQL_ADMIN_URL) as db:  # connected to `test`; the query names the other database
        answer = run_sql(f"SELECT c.firstname FROM {other}.customer c JOIN {other}.`order` o "
                         "ON o.customerid = c.customerid WHERE o.groupid = 2", db, SETTINGS)
        assert _values(answer) == [["Leonie"]] and f"FROM {other}.Customer AS c JOIN {other}.`Order`" in answer.sql


# --------------------------------------------------------------------------- the demo copies


def _script(name: str, folder: str = "scripts"):
    """A module of scripts/ or benchmarks/ (not a package), loaded by path."""
    spec = importlib.util.spec_from_file_location(f"{folder}_{name}", ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


SERVERS = [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("mariadb", marks=pytest.mark.mariadb)]


@contextmanager
def _demo_copy(request, name: str) -> Iterator[str]:
    """``name`` copied with its names as spelled (twice: the script must be idempotent); its URL."""
    request.getfixturevalue("pg_url" if request.param == "postgres" else "mysql_url")  # skips when the server is down
    copy, prefix = _script("copy_demo_to_postgres"), f"sqlchat_case_{uuid.uuid4().hex[:8]}_"
    pg, maria = (PG_ADMIN_URL, None) if request.param == "postgres" else (None, MYSQL_ADMIN_URL)
    try:
        for _ in range(2):
            counts = copy.copy_to_postgres(pg, [name], prefix) if pg else copy.copy_to_mariadb(maria, [name], prefix)
        with closing(sqlite3.connect(DEMO_DIR / f"{name}.sqlite")) as original:
            tables = [row[0] for row in original.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                                                         "AND name NOT LIKE 'sqlite_%'")]
            assert counts[prefix + name] == {t: original.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
        yield (f"{pg}?options=-csearch_path%3D{prefix}{name}" if pg
               else sa.make_url(maria).set(database=prefix + name).render_as_string(hide_password=False))
    finally:
        copy.drop_copies(pg, maria, [name], prefix)


@pytest.fixture(params=SERVERS)
def chinook_copy(request) -> Iterator[str]:
    with _demo_copy(request, "chinook") as url:
        yield url


@pytest.fixture(params=SERVERS)
def northwind_copy(request) -> Iterator[str]:
    with _demo_copy(request, "northwind") as url:
        yield url


def _differences(pairs: list[dict[str, str]], original: str, copy_url: str) -> list[str]:
    compare = _script("compare_copies", "benchmarks")
    with connect(DEMO_DIR / original) as sqlite, connect(copy_url) as copy:
        results = [compare.compare_sql(pair, sqlite, copy, SETTINGS) for pair in pairs]
    return [f"{r.question}: {r.copy_sql} {r.errors}" for r in results if not r.same]


def test_the_chinook_copy_answers_like_the_original(chinook_copy):
    from sqlchat.history.seeding import load_pairs_file
    assert _differences(load_pairs_file(DEMO_DIR / "verified" / "chinook.jsonl"), "chinook.sqlite", chinook_copy) == []
    with connect(chinook_copy) as copy:
        keys = sa.inspect(copy.engine).get_foreign_keys("InvoiceLine")
        assert {key["referred_table"] for key in keys} == {"Invoice", "Track"}
        assert sa.inspect(copy.engine).get_pk_constraint("PlaylistTrack")["constrained_columns"] == ["PlaylistId", "TrackId"]


# SQL as the model writes it for Northwind: a table with a space, views (copied as tables), dates, text keys.
NORTHWIND_SQL = [
    "SELECT ProductName, UnitPrice FROM Products ORDER BY UnitPrice DESC LIMIT 5",
    'SELECT CategoryName, SUM(od.UnitPrice * od.Quantity) AS sales FROM "Order Details" od '
    "JOIN Products p ON p.ProductID = od.ProductID JOIN Categories c ON c.CategoryID = p.CategoryID GROUP BY CategoryName",
    "select count(*) from orders where shipcountry = 'Germany'",
    "SELECT e.FirstName, e.LastName, COUNT(*) AS orders FROM Employees e JOIN Orders o ON o.EmployeeID = e.EmployeeID "
    "GROUP BY e.EmployeeID, e.FirstName, e.LastName",
    "SELECT strftime('%Y', OrderDate) AS year, COUNT(*) FROM Orders GROUP BY year",
    "SELECT ProductName FROM \"Alphabetical list of products\" WHERE CategoryName = 'Beverages'",
    "SELECT AVG(Freight) FROM Orders",
    "SELECT OrderDate, ShippedDate FROM Orders WHERE OrderID = 10248",
    "SELECT c.CompanyName, SUM(od.UnitPrice * od.Quantity * (1 - od.Discount)) AS revenue FROM Customers c "
    "JOIN Orders o ON o.CustomerID = c.CustomerID JOIN [Order Details] od ON od.OrderID = o.OrderID "
    "GROUP BY c.CustomerID, c.CompanyName ORDER BY revenue DESC LIMIT 3",
    "SELECT FirstName, BirthDate FROM Employees WHERE BirthDate < '1955-01-01'",
    "SELECT r.regiondescription, COUNT(*) FROM territories t JOIN regions r ON r.regionid = t.regionid GROUP BY r.regiondescription",
]


def test_the_northwind_copy_answers_like_the_original(northwind_copy):
    pairs = [{"question": sql, "sql": sql} for sql in NORTHWIND_SQL]
    assert _differences(pairs, "northwind.sqlite", northwind_copy) == []


@pytest.mark.slow
def test_sqlchat_ask_with_the_real_model_answers_alike_on_the_copy(chinook_copy):
    """The real model, through the command line, on the copy and on the original."""
    question = "How many customers are from Germany?"
    answers = []
    for target in (str(DEMO_DIR / "chinook.sqlite"), chinook_copy):
        result = subprocess.run([sys.executable, "-m", "sqlchat", "ask", "--db", target, question, "--json"],
                                cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        answers.append(json.loads(result.stdout)["rows"])
    assert answers[1] and answers[0] == answers[1]
