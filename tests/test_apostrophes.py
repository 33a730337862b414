"""A value with an apostrophe, written as the model writes it (``'Girl\\'s Dress'``, ``'O'Brien'``), is found on
every server (``sqlchat.corrections.apostrophes``), and a query that reads as written keeps its meaning."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa
from helpers.tables import fill_table
from test_pipeline import ScriptedBackend

from sqlchat.config import ModelConfig, Settings
from sqlchat.corrections.apostrophes import escape_apostrophes
from sqlchat.corrections.registry import Context, written_forms
from sqlchat.pipeline import ask
from sqlchat.sources.connection import connect

SETTINGS = Settings(model=ModelConfig(num_candidates=1))
SETTINGS = replace(SETTINGS, trust=replace(SETTINGS.trust, decline=False))
PRODUCTS = [(1, "Girl's Dress", 7), (2, "O'Brien Boots", 11), (3, "Plain Shirt", 13)]
WRITTEN = [
    ("SELECT Stock FROM Product WHERE Name = 'Girl\\'s Dress'", 7),  # MySQL's escape
    ("SELECT Stock FROM Product WHERE Name = 'Girl's Dress'", 7),  # not escaped
    ("SELECT Stock FROM Product WHERE Name = 'Girl''s Dress'", 7),  # SQL's own: as before
    ("SELECT SUM(Stock) FROM Product WHERE Name IN ('Girl's Dress', 'O'Brien Boots')", 18),
    ("SELECT Stock FROM Product WHERE Name LIKE '%O\\'Brien%' AND Name <> 'Plain Shirt'", 11),
]


@pytest.fixture
def products_url(server_url) -> str:
    columns = [sa.Column("ProductId", sa.Integer, primary_key=True), sa.Column("Name", sa.String(40)),
               sa.Column("Stock", sa.Integer)]
    return fill_table(server_url, "Product", columns, PRODUCTS)


def test_a_value_with_an_apostrophe_is_found_on_every_server(products_url):
    failures = []
    with connect(products_url) as db:
        for written, expected in WRITTEN:
            answer = ask("How many do we hold?", db, ScriptedBackend([written]), SETTINGS)
            found = int(answer.rows[0][0]) if answer.ok and answer.rows else answer.error
            if found != expected:
                failures.append(f"{written} -> {answer.sql}: {found}")
    assert not failures, "\n".join(failures)


def test_the_answer_says_what_was_mended():
    forms = written_forms("SELECT Stock FROM Product WHERE Name = 'Girl\\'s Dress'", Context(dialect="postgres"))
    assert forms[0].sql == "SELECT Stock FROM Product WHERE Name = 'Girl''s Dress'"
    assert forms[0].fired == ("apostrophes",)


@pytest.mark.parametrize("dialect", ["sqlite", "postgres", "mysql"])
@pytest.mark.parametrize("sql", [
    "SELECT 1 FROM t WHERE path = 'C:\\' AND name = 'x'",  # reads as written: a string ending in a backslash
    "SELECT 1 FROM t WHERE name = 'Girl''s Dress'",
    "SELECT \"it's\" FROM t",  # an apostrophe in a quoted name
    "SELECT 1 FROM t WHERE name = 'unfinished",  # nothing to mend into a readable query
])
def test_a_query_that_reads_or_cannot_be_mended_is_left_alone(sql, dialect):
    assert escape_apostrophes(sql, dialect) == sql


def test_an_apostrophe_in_a_comment_is_not_a_string():
    sql = "SELECT n -- the customer's name\nFROM t /* it's */ WHERE n = 'O'Brien'"
    assert escape_apostrophes(sql, "sqlite") == sql.replace("'O'Brien'", "'O''Brien'")


def test_mysql_keeps_its_own_backslash_escapes():
    sql = "SELECT 1 FROM t WHERE a = 'Girl\\'s' AND b = 'O'Brien'"
    assert escape_apostrophes(sql, "mysql") == "SELECT 1 FROM t WHERE a = 'Girl\\'s' AND b = 'O''Brien'"
    assert escape_apostrophes(sql, "postgres") == "SELECT 1 FROM t WHERE a = 'Girl''s' AND b = 'O''Brien'"
