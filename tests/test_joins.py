"""Join keys corrected along the database's declared foreign keys (sqlchat.corrections.joins)."""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest
from helpers.business_db import CUSTOMERS, ORDERS, build_business_db
from test_pipeline import ask_scripted

from sqlchat.corrections.joins import correct_joins, join_missing_tables
from sqlchat.corrections.registry import Context, written_forms
from sqlchat.schema.links import schema_links
from sqlchat.schema.model import Column, ForeignKey, Table

TOP_ARTISTS_BY_TRACKS = (
    "SELECT Artist.ArtistId FROM Artist JOIN Album ON Album.ArtistId = Artist.ArtistId "
    "JOIN Track ON Track.AlbumId = Album.AlbumId GROUP BY Artist.ArtistId ORDER BY COUNT(*) DESC, Artist.ArtistId LIMIT 5"
)


def bag(path, sql: str) -> Counter:
    with sqlite3.connect(path) as con:
        return Counter(map(tuple, con.execute(sql).fetchall()))


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        # Right tables, keys of different tables: the declared link replaces them.
        ("SELECT a.Name, COUNT(*) FROM Artist a JOIN Album b ON a.ArtistId = b.AlbumId GROUP BY a.Name",
         "SELECT a.Name, COUNT(*) FROM Artist a JOIN Album b ON a.ArtistId = b.ArtistId GROUP BY a.Name"),
        ("SELECT c.FirstName FROM Customer c JOIN Invoice i ON c.CustomerId = i.InvoiceId",
         "SELECT c.FirstName FROM Customer c JOIN Invoice i ON c.CustomerId = i.CustomerId"),
        # An invented key column (``customer_id``) on the joined table.
        ("SELECT c.FirstName, i.Total FROM Customer c JOIN Invoice i ON c.CustomerId = i.customer_id",
         "SELECT c.FirstName, i.Total FROM Customer c JOIN Invoice i ON c.CustomerId = i.CustomerId"),
        # A condition that constrains nothing (a key compared with itself): the one link to an earlier table.
        ("SELECT Artist.Name, COUNT(*) FROM Artist JOIN Album ON Artist.ArtistId = Artist.ArtistId GROUP BY Artist.ArtistId",
         "SELECT Artist.Name, COUNT(*) FROM Artist JOIN Album ON Album.ArtistId = Artist.ArtistId GROUP BY Artist.ArtistId"),
        ("SELECT g.Name, COUNT(*) FROM Genre g JOIN Track t ON g.GenreId = g.GenreId GROUP BY g.Name",
         "SELECT g.Name, COUNT(*) FROM Genre g JOIN Track t ON t.GenreId = g.GenreId GROUP BY g.Name"),
        # A link whose key names differ on each side: Customer.SupportRepId -> Employee.EmployeeId.
        ("SELECT e.LastName, COUNT(*) FROM Employee e JOIN Customer c ON e.EmployeeId = c.CustomerId GROUP BY e.LastName",
         "SELECT e.LastName, COUNT(*) FROM Employee e JOIN Customer c ON c.SupportRepId = e.EmployeeId GROUP BY e.LastName"),
    ],
)
def test_a_join_on_unrelated_keys_follows_the_declared_link(chinook_tables, chinook_path, written, meant):
    corrected = correct_joins(written, chinook_tables)
    assert corrected != written
    assert bag(chinook_path, corrected) == bag(chinook_path, meant)


def test_tables_without_a_direct_link_are_joined_through_the_one_that_links_them(chinook_tables, chinook_path):
    # The embedded model's own answer to "Which 5 artists have the most tracks?": Track has no ArtistId.
    written = ("SELECT T1.ArtistId FROM Artist AS T1 JOIN Track AS T2 ON T1.ArtistId = T2.AlbumId "
               "GROUP BY T1.ArtistId ORDER BY COUNT(*) DESC, T1.ArtistId LIMIT 5")
    corrected = correct_joins(written, chinook_tables)
    assert "JOIN Album ON Album.ArtistId = T1.ArtistId JOIN Track AS T2 ON T2.AlbumId = Album.AlbumId" in corrected
    assert list(bag(chinook_path, corrected)) == list(bag(chinook_path, TOP_ARTISTS_BY_TRACKS))
    assert bag(chinook_path, written) != bag(chinook_path, corrected)  # the model's own SQL ran, wrongly


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM Track JOIN Genre ON Track.GenreId = Genre.GenreId",  # already the link
        "SELECT * FROM Album AS a JOIN Track AS t ON t.AlbumId = a.AlbumId",  # the link, written backwards
        "SELECT c.FirstName FROM Customer c JOIN Employee e ON c.City = e.City",  # not keys: the user's business
        "SELECT * FROM Employee e JOIN Employee m ON e.ReportsTo = m.EmployeeId",  # a self join
        "SELECT * FROM Genre g JOIN Track t",  # a bare JOIN: a cross join, perhaps meant
        "SELECT * FROM Track t JOIN Playlist p ON t.TrackId = t.TrackId",  # no link between them: nothing certain
        "SELECT * FROM Invoice i JOIN (SELECT * FROM Customer) c ON i.InvoiceId = c.CustomerId",  # a subquery source
        "SELECT * FROM Customer c JOIN Invoice i ON c.CustomerId = i.InvoiceId AND i.Total > 5",  # compound condition
        "SELECT Name FROM Artist",
        "SELEC nonsense FROM",
        "",
    ],
)
def test_joins_that_follow_a_link_or_cannot_be_read_are_left_as_written(chinook_tables, sql):
    assert correct_joins(sql, chinook_tables) == sql


def test_two_links_between_two_tables_are_not_guessed_between():
    team = Table("team", [Column("id", "INTEGER", primary_key=True), Column("name", "VARCHAR")])
    match = Table("match", [Column("id", "INTEGER", primary_key=True), Column("home_id", "INTEGER"),
                            Column("away_id", "INTEGER")],
                  foreign_keys=[ForeignKey(["home_id"], "team", ["id"]), ForeignKey(["away_id"], "team", ["id"])])
    sql = "SELECT t.name FROM team t JOIN match m ON t.id = m.id"
    assert correct_joins(sql, [team, match]) == sql
    assert len(schema_links([team, match])) == 2


def test_a_schema_without_foreign_keys_is_never_touched():
    plain = [Table("a", [Column("id", "INTEGER", primary_key=True)]),
             Table("b", [Column("id", "INTEGER", primary_key=True), Column("a_id", "INTEGER")])]
    sql = "SELECT * FROM a JOIN b ON a.id = b.id"
    assert correct_joins(sql, plain) == sql


def test_the_corrected_join_is_tried_before_the_models_own(chinook_tables):
    written = "SELECT c.FirstName FROM Customer c JOIN Invoice i ON c.CustomerId = i.InvoiceId"
    tries = [form.sql for form in written_forms(written, Context(tuple(chinook_tables)))]
    assert tries[0] != written and "i.CustomerId" in tries[0] and tries[1] == written


def test_the_app_engine_answers_with_the_corrected_join_and_says_so(chinook_path):
    written = ("SELECT T1.ArtistId FROM Artist AS T1 JOIN Track AS T2 ON T1.ArtistId = T2.AlbumId "
               "GROUP BY T1.ArtistId ORDER BY COUNT(*) DESC, T1.ArtistId LIMIT 5")
    answer = ask_scripted(chinook_path, "Which 5 artists have the most tracks?", written)
    assert answer.ok, answer.error
    assert answer.repaired and answer.candidates == (written,)
    assert [row[0] for row in answer.rows] == [row[0] for row in bag(chinook_path, TOP_ARTISTS_BY_TRACKS)]


def test_on_postgresql_the_corrected_join_runs_against_the_real_keys(pg_url):
    build_business_db(pg_url)
    written = "SELECT c.name, COUNT(*) FROM customers c JOIN orders o ON c.id = o.id GROUP BY c.name"
    answer = ask_scripted(pg_url, "How many orders has each customer placed?", written)
    assert answer.ok, answer.error
    assert "o.customer_id" in answer.chosen
    names = {customer[0]: customer[1] for customer in CUSTOMERS}
    expected = Counter(names[order[1]] for order in ORDERS)
    assert {row[0]: row[1] for row in answer.rows} == dict(expected)


def test_correction_never_turns_a_refused_statement_into_an_accepted_one(chinook_tables):
    from hostile_sql import CHECK_ONLY_HOSTILE, HOSTILE

    from sqlchat.errors import UnsafeSQL
    from sqlchat.safety import check_sql

    for sql in [s for _, s in HOSTILE] + CHECK_ONLY_HOSTILE:
        for corrected in (correct_joins(sql, chinook_tables), join_missing_tables(sql, chinook_tables)):
            with pytest.raises(UnsafeSQL):
                check_sql(corrected, "sqlite")


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        # Composer is a column of Track only, and Track references Album by one key.
        ("SELECT COUNT(*) FROM Album WHERE Composer = 'AC/DC'",
         "SELECT COUNT(*) FROM Album JOIN Track ON Track.AlbumId = Album.AlbumId WHERE Track.Composer = 'AC/DC'"),
        # Qualified with the wrong table's alias; the query's own columns stay readable once qualified.
        ("SELECT T1.Total, T1.SupportRepId FROM Invoice AS T1 WHERE Total > 20",
         "SELECT T1.Total, C.SupportRepId FROM Invoice AS T1 JOIN Customer AS C ON C.CustomerId = T1.CustomerId WHERE T1.Total > 20"),
        # Employee has Email too, but no key links it to Invoice: the customer's is meant.
        ("SELECT COUNT(*) FROM Invoice WHERE Email LIKE '%@gmail.com'",
         "SELECT COUNT(*) FROM Invoice JOIN Customer ON Customer.CustomerId = Invoice.CustomerId WHERE Customer.Email LIKE '%@gmail.com'"),
        # The same missing column twice: one join.
        ("SELECT Composer, COUNT(*) FROM Album GROUP BY Composer",
         "SELECT Track.Composer, COUNT(*) FROM Album JOIN Track ON Track.AlbumId = Album.AlbumId GROUP BY Track.Composer"),
    ],
    ids=["unqualified", "qualified", "nearest-owner", "twice"],
)
def test_a_column_only_a_linked_table_has_brings_that_table_in(chinook_tables, chinook_path, written, meant):
    extended = join_missing_tables(written, chinook_tables)
    assert extended != written and extended.count("JOIN") == 1
    assert bag(chinook_path, extended) == bag(chinook_path, meant)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT Name FROM Artist WHERE Milliseconds > 100",  # Track has it, but no single key reaches Artist
        "SELECT Total, Nonsense FROM Invoice",  # no table has it
        "SELECT Name, COUNT(*) AS n FROM Genre GROUP BY Name ORDER BY n DESC",  # an alias, not a column
        "SELECT Name FROM Track WHERE AlbumId IN (SELECT AlbumId FROM Album WHERE Title = 'x')",  # nothing missing
    ],
    ids=["no-single-link", "unknown", "alias", "complete"],
)
def test_a_missing_column_is_joined_only_when_certain(chinook_tables, sql):
    assert join_missing_tables(sql, chinook_tables) == sql


def test_two_linked_tables_with_the_column_are_not_guessed_between():
    tables = [
        Table("a", [Column("id", "INTEGER", primary_key=True)]),
        Table("b", [Column("id", "INTEGER", primary_key=True), Column("a_id", "INTEGER"), Column("label", "TEXT")],
              [ForeignKey(["a_id"], "a", ["id"])]),
        Table("c", [Column("id", "INTEGER", primary_key=True), Column("a_id", "INTEGER"), Column("label", "TEXT")],
              [ForeignKey(["a_id"], "a", ["id"])]),
    ]
    assert join_missing_tables("SELECT label FROM a", tables) == "SELECT label FROM a"
    assert "JOIN b ON" in join_missing_tables("SELECT label FROM a", tables[:2])


def test_the_engine_answers_with_the_joined_table(chinook_path):
    written = "SELECT COUNT(*) FROM Album WHERE Composer = 'AC/DC'"
    answer = ask_scripted(chinook_path, "How many AC/DC tracks are on albums?", written)
    assert answer.ok and answer.repaired
    meant = "SELECT COUNT(*) FROM Track WHERE Composer = 'AC/DC'"
    assert answer.rows == [[count] for (count,) in bag(chinook_path, meant)]


JANE = "How many customers does Jane Peacock look after?"
RUNS_FOR_EVERY_ROW = ("SELECT COUNT(CustomerId) FROM Customer WHERE CustomerId IN "
                      "(SELECT CustomerId FROM Employee WHERE FirstName = 'Jane' AND LastName = 'Peacock')")


@pytest.mark.parametrize("written", [
    RUNS_FOR_EVERY_ROW,
    RUNS_FOR_EVERY_ROW.replace(" IN (", " = ("),
    "SELECT COUNT(*) FROM Customer AS c WHERE c.CustomerId IN (SELECT CustomerId FROM Employee AS e "
    "WHERE e.FirstName = 'Jane' AND e.LastName = 'Peacock')",
])
def test_a_subquery_selecting_a_column_its_table_lacks_compares_along_the_link(chinook_tables, chinook_path, written):
    # as written, CustomerId is the outer row's own: every customer matches (59, not Jane Peacock's 21)
    with sqlite3.connect(chinook_path) as conn:
        assert conn.execute(written).fetchone()[0] == 59
    corrected = correct_joins(written, chinook_tables)
    assert "SupportRepId" in corrected and "EmployeeId" in corrected
    answer = ask_scripted(chinook_path, JANE, written)
    assert answer.ok and answer.rows == [[21]]


@pytest.mark.parametrize("sql", [
    "SELECT COUNT(*) FROM Customer WHERE CustomerId IN (SELECT CustomerId FROM Invoice WHERE Total > 10)",  # its own column
    "SELECT COUNT(*) FROM Customer AS c WHERE c.City IN (SELECT c.City FROM Employee)",  # names the outer row on purpose
    "SELECT COUNT(*) FROM Customer WHERE CustomerId IN (SELECT CustomerId FROM Track WHERE Name = 'Jazz')",  # no link
])
def test_subqueries_that_read_their_own_table_or_have_no_one_link_are_left_alone(chinook_tables, sql):
    assert correct_joins(sql, chinook_tables) == sql
