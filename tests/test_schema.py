"""Reflection, CREATE TABLE context rendering and table selection, on real databases."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa
import sqlglot
from helpers.business_db import EXPECTED_CONTEXT, build_business_db, build_business_sqlite
from sqlglot import exp

from sqlchat.schema.context import estimate_tokens, render_context, select_tables
from sqlchat.schema.model import Column, ForeignKey, Schema, Table
from sqlchat.schema.reflection import reflect_schema, simple_type
from sqlchat.sources.connection import connect, connect_schema_script, connect_tabular_files

CHINOOK_TABLES = ["Album", "Artist", "Customer", "Employee", "Genre", "Invoice", "InvoiceLine",
                  "MediaType", "Playlist", "PlaylistTrack", "Track"]


@pytest.fixture
def chinook(chinook_path):
    db = connect(chinook_path)
    yield reflect_schema(db)
    db.close()


def fk_tuples(table: Table) -> set[tuple]:
    return {(fk.columns, fk.ref_table, fk.ref_columns) for fk in table.foreign_keys}


# --------------------------------------------------------------------------- reflection


def test_chinook_reflects_eleven_tables_with_keys(chinook):
    assert chinook.names == CHINOOK_TABLES
    assert chinook["Album"].primary_key == ["AlbumId"]
    assert fk_tuples(chinook["Album"]) == {(("ArtistId",), "Artist", ("ArtistId",))}
    assert chinook["PlaylistTrack"].primary_key == ["PlaylistId", "TrackId"]
    assert fk_tuples(chinook["InvoiceLine"]) == {
        (("TrackId",), "Track", ("TrackId",)), (("InvoiceId",), "Invoice", ("InvoiceId",))}
    assert fk_tuples(chinook["Employee"]) == {(("ReportsTo",), "Employee", ("EmployeeId",))}
    assert [(c.name, c.type) for c in chinook["Invoice"].columns][:3] == [
        ("InvoiceId", "INTEGER"), ("CustomerId", "INTEGER"), ("InvoiceDate", "DATETIME")]
    assert chinook["invoice"].column("total").type == "NUMERIC"  # lookups ignore case
    assert chinook["Track"].row_count == 3503 and chinook["Artist"].row_count == 275
    assert "Nope" not in chinook and "Track" in chinook


def test_northwind_includes_views_and_names_with_spaces(northwind_path):
    with connect(northwind_path) as db:
        schema = reflect_schema(db)
    details = schema["Order Details"]
    assert details.primary_key == ["OrderID", "ProductID"]
    assert details.create_statement().startswith('CREATE TABLE "Order Details" (OrderID INTEGER')
    views = [t for t in schema if t.is_view]
    assert views and all(t.row_count is None for t in views) and all(t.columns for t in views)


def test_reflection_is_cached_per_database_and_thread_safe(chinook_path):
    db = connect(chinook_path)
    other = connect(chinook_path)
    try:
        results: list[Schema] = []
        threads = [threading.Thread(target=lambda: results.append(reflect_schema(db))) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 8 and all(r is results[0] for r in results)
        assert reflect_schema(other) is not results[0]
        assert reflect_schema(db, refresh=True) is not results[0]
    finally:
        db.close()
        other.close()


def test_simple_types_match_training_vocabulary():
    from sqlalchemy.dialects import mysql, postgresql

    cases = {
        sa.BigInteger(): "INTEGER", mysql.TINYINT(): "INTEGER", sa.Numeric(10, 2): "NUMERIC",
        postgresql.DOUBLE_PRECISION(): "REAL", sa.Float(): "REAL", sa.NVARCHAR(120): "VARCHAR",
        sa.Text(): "TEXT", sa.Enum("a", "b"): "VARCHAR", postgresql.TIMESTAMP(): "DATETIME",
        sa.Date(): "DATE", sa.Boolean(): "BOOLEAN", sa.LargeBinary(): "BLOB", sa.types.NullType(): "TEXT",
    }
    assert {type(t).__name__: simple_type(t) for t in cases} == {type(t).__name__: v for t, v in cases.items()}


# --------------------------------------------------------------------------- rendering


def test_context_has_training_format(chinook):
    context = render_context([chinook["Artist"], chinook["Album"]])
    assert context == (
        "CREATE TABLE Artist (ArtistId INTEGER, Name VARCHAR, PRIMARY KEY (ArtistId)); "
        "CREATE TABLE Album (AlbumId INTEGER, Title VARCHAR, ArtistId INTEGER, PRIMARY KEY (AlbumId), "
        "FOREIGN KEY (ArtistId) REFERENCES Artist(ArtistId))"
    )
    assert render_context([]) == ""


def test_whole_chinook_context_parses_as_sqlite(chinook):
    statements = sqlglot.parse(render_context(chinook.tables).replace("; ", ";\n"), read="sqlite")
    assert [s.this.this.name for s in statements] == CHINOOK_TABLES


def _odd_names_db(path):
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE "order" ("group" INTEGER PRIMARY KEY, "select" TEXT, "unit price" REAL);
        CREATE TABLE "Clients café" ("prénom" TEXT, "order id" INTEGER REFERENCES "order"("group"));
        CREATE TABLE 客户 (编号 INTEGER PRIMARY KEY, 名字 TEXT);
        CREATE TABLE plain_table (id INTEGER, "weird""quote" TEXT);
    """)
    conn.commit()
    conn.close()


def test_unicode_and_reserved_names_are_quoted_and_valid_sql(tmp_path):
    _odd_names_db(tmp_path / "odd.sqlite")
    with connect(tmp_path / "odd.sqlite") as db:
        schema = reflect_schema(db)
    assert schema.names == ["Clients café", "order", "plain_table", "客户"]
    assert schema["order"].create_statement() == \
        'CREATE TABLE "order" ("group" INTEGER, "select" TEXT, "unit price" REAL, PRIMARY KEY ("group"))'
    assert schema["Clients café"].create_statement() == (
        'CREATE TABLE "Clients café" ("prénom" TEXT, "order id" INTEGER, '
        'FOREIGN KEY ("order id") REFERENCES "order"("group"))')
    assert schema["plain_table"].create_statement() == 'CREATE TABLE plain_table (id INTEGER, "weird""quote" TEXT)'
    # The rendered context is executable DDL that recreates the same names.
    check = sqlite3.connect(":memory:")
    check.executescript(render_context(schema.tables).replace("; ", ";\n") + ";")
    names = sorted(r[0] for r in check.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    assert names == sorted(schema.names)
    assert [r[1] for r in check.execute('PRAGMA table_info("客户")')] == ["编号", "名字"]


def test_upload_and_script_databases_render_their_inferred_types():
    with connect_tabular_files([("sales.csv", b"Region,Units,Price,Sold On\nN,3,2.5,2024-01-02\n")]) as db:
        assert render_context(reflect_schema(db).tables) == \
            "CREATE TABLE sales (region TEXT, units INTEGER, price REAL, sold_on DATE)"
    script = ("CREATE TABLE artist (artist_id SERIAL PRIMARY KEY, name VARCHAR(100)); "
              "CREATE TABLE album (album_id INT PRIMARY KEY, artist_id INT REFERENCES artist(artist_id), "
              "released TIMESTAMP)")
    with connect_schema_script(script, "postgres") as db:
        schema = reflect_schema(db)
    assert render_context(schema.tables) == (
        "CREATE TABLE album (album_id INTEGER, artist_id INTEGER, released DATETIME, PRIMARY KEY (album_id), "
        "FOREIGN KEY (artist_id) REFERENCES artist(artist_id)); "
        "CREATE TABLE artist (artist_id INTEGER, name VARCHAR, PRIMARY KEY (artist_id))")


# --------------------------------------------------------------------------- table selection


def test_everything_is_sent_when_it_fits(chinook):
    assert select_tables(chinook, "how many albums?", 5000) == chinook.tables


def test_artists_and_albums_question_picks_artist_and_album(chinook):
    picked = select_tables(chinook, "Which artists have released the most albums?", 150)
    assert [t.name for t in picked] == ["Album", "Artist"]
    assert estimate_tokens(render_context(picked)) <= 150


def test_selection_adds_foreign_key_neighbours(chinook):
    picked = [t.name for t in select_tables(chinook, "How many tracks are on each playlist?", 250)]
    assert {"Playlist", "PlaylistTrack", "Track"} <= set(picked)
    assert estimate_tokens(render_context([chinook[n] for n in picked])) <= 250


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which 5 artists have the most tracks?", ["Album", "Artist", "Track"]),  # Album joins the two
        ("How many tracks are on each playlist?", ["Playlist", "PlaylistTrack", "Track"]),
        ("Which customers have the largest invoices?", ["Customer", "Invoice"]),
    ],
)
def test_focus_sends_the_tables_the_question_names_and_those_joining_them(chinook, question, expected):
    assert [t.name for t in select_tables(chinook, question, 5000, focus=True)] == expected


@pytest.mark.parametrize(("question", "expected"), [
    # "1997" and "sales" name Northwind views ("Category Sales for 1997", "Sales by Category"...): the tables come alone
    ("How many orders placed in 1997 were shipped late?", ["Customers", "Employees", "Order Details", "Orders", "Shippers"]),
    # ... and the year brings the orders, the table with the date
    ("Which product category had the highest sales after discounts in 1997?", ["Categories", "Order Details", "Orders", "Products"]),
])
def test_focus_sends_tables_not_views_that_repeat_them(northwind_path, question, expected):
    with connect(northwind_path) as db:
        assert [t.name for t in select_tables(reflect_schema(db), question, 5000, focus=True)] == expected


VISITS = """
CREATE TABLE Region (RegionId INTEGER PRIMARY KEY, Name TEXT);
CREATE TABLE Customer (CustomerId INTEGER PRIMARY KEY, Name TEXT, RegionId INTEGER REFERENCES Region (RegionId));
CREATE TABLE Visit (VisitId INTEGER PRIMARY KEY, CustomerId INTEGER REFERENCES Customer (CustomerId), VisitedOn DATE);
"""


@pytest.mark.parametrize(("question", "expected"), [
    ("Which customers in each region came in May?", ["Customer", "Region", "Visit"]),  # the month: the dated table
    ("Which customers in each region came on May 3?", ["Customer", "Region", "Visit"]),
    ("Which customers in each region may come back?", ["Customer", "Region"]),  # the verb: no date asked for
])
def test_may_asks_for_a_period_only_where_it_is_the_month(question, expected):
    with connect_schema_script(VISITS, "sqlite") as db:
        assert [t.name for t in select_tables(reflect_schema(db), question, 5000, focus=True)] == expected


def test_focus_sends_a_view_when_no_table_is_named(northwind_path):
    with connect(northwind_path) as db:
        picked = select_tables(reflect_schema(db), "Show the summary of sales by quarter", 5000, focus=True)
    assert "Summary of Sales by Quarter" in [t.name for t in picked] and all(t.is_view for t in picked)


@pytest.mark.parametrize(("question", "expected"), [
    # the tables on the foreign-key path between two named ones: a customer buys a track through an invoice line
    ("Which customers have bought tracks from at least 10 different genres?",
     ["Customer", "Genre", "Invoice", "InvoiceLine", "Track"]),
    # money words bring the table where sales are recorded (a quantity beside a price)
    ("Which 3 artists earned the most from track sales?", ["Album", "Artist", "InvoiceLine", "Track"]),
    # ... and a year brings the nearest table with a date
    ("Which genre brought in the most revenue in 2024?", ["Genre", "Invoice", "InvoiceLine", "Track"]),
    # a job title that starts with "sales" keeps the named table's neighbours; one of them holds a total
    # (Invoice.Total), so the line items stay out
    ("Which sales support agents look after customers in Germany?", ["Customer", "Employee", "Invoice"]),
    ("How much have customers in each US state spent in total?", ["Customer", "Employee", "Invoice"]),
])
def test_focus_sends_the_tables_a_business_question_needs(chinook, question, expected):
    assert [t.name for t in select_tables(chinook, question, 5000, focus=True)] == expected


def test_a_question_naming_no_table_gets_every_base_table_not_the_views(northwind_path):
    with connect(northwind_path) as db:
        schema = reflect_schema(db)
        picked = select_tables(schema, "Who are our sales representatives?", 5000, focus=True)
    assert "Employees" in [t.name for t in picked] and not any(t.is_view for t in picked)
    assert len(picked) == sum(not t.is_view for t in schema.tables)


def test_focus_sends_everything_when_the_question_names_nothing(chinook):
    assert select_tables(chinook, "what is the meaning of life", 5000, focus=True) == chinook.tables


def test_selection_is_never_empty_and_deterministic(chinook):
    tiny = select_tables(chinook, "what is the meaning of life", 1)
    assert len(tiny) == 1
    first = select_tables(chinook, "invoice lines per customer country", 300)
    assert first and all(select_tables(chinook, "invoice lines per customer country", 300) == first for _ in range(3))
    assert select_tables(Schema([]), "anything", 100) == []


def test_selection_stems_plurals_and_splits_camel_case():
    tables = [
        Table("categories", [Column("category_id", "INTEGER", True), Column("label", "VARCHAR")]),
        Table("InvoiceLine", [Column("InvoiceLineId", "INTEGER", True), Column("Quantity", "INTEGER")]),
        Table("addresses", [Column("id", "INTEGER", True), Column("street", "VARCHAR")]),
        Table("unrelated", [Column(f"c{i}", "TEXT") for i in range(40)]),
    ]
    schema = Schema(tables)
    budget = 60
    assert [t.name for t in select_tables(schema, "list every category", budget)] == ["categories"]
    assert [t.name for t in select_tables(schema, "the invoice line quantities", budget)] == ["InvoiceLine"]
    assert [t.name for t in select_tables(schema, "which address", budget)] == ["addresses"]


def _wide_schema_db(path, n_tables: int = 1000) -> None:
    topics = ["customer", "invoice", "shipment", "warehouse", "supplier", "payment", "product", "employee"]
    statements = []
    for i in range(n_tables):
        topic = topics[i % len(topics)]
        ref = f", parent_id INTEGER REFERENCES {topics[(i - 1) % len(topics)]}_{i - 1:04d}(id)" if i else ""
        statements.append(f"CREATE TABLE {topic}_{i:04d} (id INTEGER PRIMARY KEY, {topic}_name TEXT, "
                          f"amount NUMERIC, created_at DATETIME{ref})")
    conn = sqlite3.connect(path)
    conn.executescript("BEGIN;\n" + ";\n".join(statements) + ";\nCOMMIT;")  # one transaction: one fsync
    conn.close()


def test_thousand_tables_reflect_and_selection_stays_within_budget(tmp_path):
    _wide_schema_db(tmp_path / "wide.sqlite")
    with connect(tmp_path / "wide.sqlite") as db:
        started = time.perf_counter()
        schema = reflect_schema(db)
        elapsed = time.perf_counter() - started
    assert len(schema) == 1000 and elapsed < 60
    assert all(t.row_count is None for t in schema)  # too many tables to count
    assert fk_tuples(schema["invoice_0001"]) == {(("parent_id",), "customer_0000", ("id",))}
    for budget in (1200, 300):
        picked = select_tables(schema, "total amount per warehouse 0003", budget)
        assert picked and estimate_tokens(render_context(picked)) <= budget
        assert "warehouse_0003" in [t.name for t in picked]


# --------------------------------------------------------------------------- servers


def _business_context(url: str) -> dict[str, str]:
    with connect(url) as db:
        schema = reflect_schema(db)
        return {t.name: t.create_statement() for t in schema}, {t.name: t.row_count for t in schema}


def test_business_schema_on_sqlite(tmp_path):
    path = build_business_sqlite(tmp_path / "biz.sqlite")
    contexts, counts = _business_context(path)
    assert contexts == EXPECTED_CONTEXT
    assert counts == {"customers": 6, "order_items": 16, "orders": 9, "products": 6}


@pytest.mark.postgres
def test_business_schema_on_postgres(pg_url):
    build_business_db(pg_url)
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql('CREATE TABLE "MixedCase" ("ArtistId" INTEGER PRIMARY KEY, "order" TEXT)')
    engine.dispose()
    contexts, counts = _business_context(pg_url)
    assert contexts.pop("MixedCase") == 'CREATE TABLE MixedCase (ArtistId INTEGER, "order" TEXT, PRIMARY KEY (ArtistId))'
    assert contexts == EXPECTED_CONTEXT
    assert counts == {"customers": 6, "order_items": 16, "orders": 9, "products": 6, "MixedCase": 0}


@pytest.mark.mariadb
def test_business_schema_on_mariadb(mysql_url):
    build_business_db(mysql_url)
    contexts, counts = _business_context(mysql_url)
    assert contexts == EXPECTED_CONTEXT
    assert counts == {"customers": 6, "order_items": 16, "orders": 9, "products": 6}


@pytest.mark.postgres
def test_postgres_mixed_case_context_survives_transpile(pg_url):
    """The context shows PostgreSQL's spelling unquoted; SQL written from it still runs
    (sqlchat.schema.names quotes it)."""
    from sqlchat.config import Settings
    from sqlchat.pipeline import run_sql

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql('CREATE TABLE "Artist" ("ArtistId" INTEGER PRIMARY KEY, "Name" TEXT)')
        conn.exec_driver_sql('''INSERT INTO "Artist" VALUES (1, 'AC/DC')''')
    engine.dispose()
    with connect(pg_url) as db:
        statement = reflect_schema(db)["Artist"].create_statement()
        assert statement == 'CREATE TABLE Artist (ArtistId INTEGER, Name TEXT, PRIMARY KEY (ArtistId))'
        assert isinstance(sqlglot.parse_one(statement, read="sqlite"), exp.Create)
        answer = run_sql("SELECT Name FROM Artist WHERE ArtistId = 1", db, Settings())
        assert answer.ok and answer.rows == [["AC/DC"]], (answer.error, answer.sql)
        assert 'FROM "Artist"' in answer.sql


def test_foreign_key_accepts_lists():
    fk = ForeignKey(["a"], "t", ["b"])
    assert fk.columns == ("a",) and fk.ref_columns == ("b",) and hash(fk)


def test_the_prompt_context_can_leave_out_keys_as_the_training_data_does(chinook):
    context = render_context([chinook["Album"]], keys=False)
    assert context == "CREATE TABLE Album (AlbumId INTEGER, Title VARCHAR, ArtistId INTEGER)"
