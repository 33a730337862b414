"""Readable answers: names beside bare ids, and the measure a ranking is ordered by (sqlchat.corrections.readable)."""

from __future__ import annotations

import sqlite3

import pytest
from helpers.business_db import CUSTOMERS, build_business_db
from test_pipeline import ask_scripted

from sqlchat.charts import choose_chart
from sqlchat.config import DEMO_DIR, Settings
from sqlchat.corrections.readable import make_readable
from sqlchat.evaluation.runner import as_scored, engine_only
from sqlchat.schema.labels import label_columns

CHINOOK = DEMO_DIR / "chinook.sqlite"
TOP_ARTIST_IDS = ("SELECT T1.ArtistId FROM Artist AS T1 JOIN Album ON Album.ArtistId = T1.ArtistId "
                  "JOIN Track AS T2 ON T2.AlbumId = Album.AlbumId GROUP BY T1.ArtistId ORDER BY COUNT(*) DESC, T1.ArtistId LIMIT 5")


def rows(sql: str) -> list[tuple]:
    with sqlite3.connect(CHINOOK) as con:
        return con.execute(sql).fetchall()


@pytest.mark.parametrize(
    ("written", "columns"),
    [
        (TOP_ARTIST_IDS, ["ArtistId", "Name", "count"]),
        ("SELECT c.CustomerId FROM Customer c JOIN Invoice i ON i.CustomerId = c.CustomerId "
         "GROUP BY c.CustomerId ORDER BY SUM(i.Total) DESC, c.CustomerId LIMIT 5", ["CustomerId", "FirstName", "LastName", "sum_total"]),
        ("SELECT BillingCountry FROM Invoice GROUP BY BillingCountry ORDER BY COUNT(*) DESC, BillingCountry LIMIT 3",
         ["BillingCountry", "count"]),
        ("SELECT TrackId FROM Track WHERE Milliseconds > 1000000 ORDER BY TrackId", ["TrackId", "Name"]),
    ],
)
def test_ids_get_their_names_and_rankings_their_measure_without_changing_the_rows(chinook_tables, written, columns):
    readable = make_readable(written, chinook_tables)
    with sqlite3.connect(CHINOOK) as con:
        cursor = con.execute(readable)
        assert [d[0] for d in cursor.description] == columns
        added = cursor.fetchall()
    assert [row[0] for row in added] == [row[0] for row in rows(written)]  # the same rows, in the same order


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT T1.Name FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId GROUP BY T1.Name ORDER BY Name",
        "SELECT Name, COUNT(*) AS n FROM Genre JOIN Track USING (GenreId) GROUP BY Name ORDER BY COUNT(*) DESC",  # shown
        "SELECT GenreId, COUNT(*) FROM Track GROUP BY GenreId",  # a foreign key, not the table's own id
        "SELECT ArtistId, Name FROM Artist",  # already named
        "SELECT * FROM Artist",
        "SELECT COUNT(*) FROM Track",
        "SELECT ArtistId FROM Artist UNION SELECT ArtistId FROM Album",
        "SELECT a.ArtistId FROM Artist a JOIN Album b ON a.ArtistId = b.ArtistId GROUP BY b.AlbumId",  # not grouped by the id
        "not sql at all",
        "",
    ],
)
def test_answers_that_read_already_or_cannot_be_read_are_left_alone(chinook_tables, sql):
    assert make_readable(sql, chinook_tables) == sql


def test_people_are_named_by_first_and_last_name(chinook_tables):
    by_name = {table.name: table for table in chinook_tables}
    assert label_columns(by_name["Employee"]) == ["FirstName", "LastName"]
    assert label_columns(by_name["Album"]) == ["Title"]
    assert label_columns(by_name["InvoiceLine"]) == []


def test_the_top_artists_question_gets_names_counts_and_a_bar_chart(chinook_path):
    answer = ask_scripted(chinook_path, "Which 5 artists have the most tracks?", TOP_ARTIST_IDS)
    assert answer.ok and answer.columns_added
    assert answer.columns == ["ArtistId", "Name", "count"]
    assert answer.rows[0][1:] == ["Iron Maiden", 213]
    assert answer.chosen == answer.sql  # what the user sees is what they approve or edit
    chart = choose_chart(answer.frame)
    assert chart is not None and (chart.kind, chart.x, chart.y) == ("bar", "Name", "count")

    scored = ask_scripted(chinook_path, "Which 5 artists have the most tracks?", TOP_ARTIST_IDS, engine_only(as_scored(Settings())))
    assert scored.columns == ["ArtistId"] and not scored.columns_added  # the evaluator scores the model's columns


def test_readable_results_can_be_turned_off():
    assert Settings.from_env({"SQLCHAT_READABLE_RESULTS": "0"}).execution.readable_results is False
    assert Settings.from_env({}).execution.readable_results is True


def test_on_postgresql_the_label_joins_the_group_by(pg_url):
    build_business_db(pg_url)
    written = "SELECT c.id FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id ORDER BY COUNT(*) DESC, c.id"
    answer = ask_scripted(pg_url, "Which customers order most?", written)
    assert answer.ok, answer.error
    assert answer.columns == ["id", "name", "count"]
    names = {customer[0]: customer[1] for customer in CUSTOMERS}
    assert all(names[row[0]] == row[1] for row in answer.rows)
