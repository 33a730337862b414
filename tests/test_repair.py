"""Schema-aware repair: invented names point at real ones, and nothing else changes."""

from __future__ import annotations

import pytest
from test_pipeline import ScriptedBackend, settings

from sqlchat.corrections.registry import Context, written_forms
from sqlchat.corrections.repair import closest_name, repair_sql
from sqlchat.pipeline import ask
from sqlchat.schema.model import Column, Table
from sqlchat.sources.connection import connect

MUSIC = {
    "artists": ["ArtistId", "Name"],
    "albums": ["AlbumId", "Title", "ArtistId"],
    "tracks": ["TrackId", "Name", "AlbumId", "Milliseconds"],
    "singer": ["singer_id", "name", "country"],
}


@pytest.mark.parametrize(
    ("written", "repaired"),
    [
        ("SELECT artist_name FROM artists", "SELECT Name FROM artists"),
        ("SELECT title FROM album WHERE artist_id = 1", "SELECT title FROM albums WHERE ArtistId = 1"),
        ("SELECT name FROM singers WHERE Country = 'France'", "SELECT name FROM singer WHERE Country = 'France'"),
        ("SELECT Milisecond FROM tracks", "SELECT Milliseconds FROM tracks"),
        (
            "SELECT T1.Title FROM artists AS T1 JOIN albums AS T2 ON T1.ArtistId = T2.ArtistId",
            "SELECT T2.Title FROM artists AS T1 JOIN albums AS T2 ON T1.ArtistId = T2.ArtistId",
        ),
        (
            "SELECT COUNT(*) FROM tracks AS t JOIN albums AS a ON t.album_id = a.AlbumId",
            "SELECT COUNT(*) FROM tracks AS t JOIN albums AS a ON t.AlbumId = a.AlbumId",
        ),
    ],
)
def test_an_invented_name_becomes_the_real_one(written, repaired):
    assert repair_sql(written, MUSIC) == repaired


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT Name FROM artists WHERE Name = 'AC/DC'",
        'SELECT Name FROM artists WHERE Name = "AC/DC"',  # a double-quoted word may be a string
        "SELECT COUNT(*) AS total FROM tracks ORDER BY total",  # an output alias is not a column
        "SELECT nope FROM artists",  # nothing close: no guess
        "SELECT x FROM (SELECT Name AS x FROM artists)",  # columns of a subquery are not the schema's
        "WITH t AS (SELECT Name FROM artists) SELECT Name FROM t",
        "SELEC Name FRM artists",  # unparsable: left for the check to report
        "SELECT population FROM cities",  # no such table, nothing close
        # Moving T1.ArtistId to T2 would make the join "T2.ArtistId = T2.ArtistId": always true, wrong rows.
        "SELECT T1.Name FROM tracks AS T1 JOIN albums AS T2 ON T1.ArtistId = T2.ArtistId",
    ],
)
def test_sql_that_needs_no_repair_or_cannot_be_repaired_is_unchanged(sql):
    assert repair_sql(sql, MUSIC) == sql


def test_an_ambiguous_name_is_not_guessed():
    assert closest_name("name_x", ["name_a", "name_b"]) is None
    # Both joined tables have a column like ``nme``: the repair refuses to choose.
    sql = "SELECT nme FROM artists JOIN tracks ON artists.ArtistId = tracks.TrackId"
    assert repair_sql(sql, MUSIC) == sql


def test_repairs_follow_their_own_candidate_and_never_duplicate():
    tables = tuple(Table(name, [Column(c, "TEXT") for c in columns]) for name, columns in MUSIC.items())
    tries = list(dict.fromkeys(form.sql for sql in ["SELECT artist_name FROM artists", "SELECT Name FROM artists", ""]
                               for form in written_forms(sql, Context(tables))))
    assert tries == ["SELECT artist_name FROM artists", "SELECT Name FROM artists", ""]


def test_the_pipeline_answers_with_the_repaired_sql_when_the_model_invents_a_column(chinook_path):
    db = connect(chinook_path)
    try:
        backend = ScriptedBackend(["SELECT COUNT(*) FROM Track WHERE genre_id = 1"])
        answer = ask("How many rock tracks are there?", db, backend, settings())
        assert answer.ok, answer.error
        assert answer.repaired and answer.chosen == "SELECT COUNT(*) FROM Track WHERE GenreId = 1"
        assert answer.rows == [[1297]]
        assert answer.candidates == ("SELECT COUNT(*) FROM Track WHERE genre_id = 1",)  # what the model wrote

        faithful = ask("How many tracks?", db, ScriptedBackend(["SELECT COUNT(*) FROM Track"]), settings())
        assert faithful.ok and not faithful.repaired
    finally:
        db.close()


def test_repair_never_raises_and_never_turns_a_refused_statement_into_an_accepted_one():
    from hostile_sql import CHECK_ONLY_HOSTILE, HOSTILE

    from sqlchat.errors import UnsafeSQL
    from sqlchat.safety import check_sql

    names = MUSIC | {"customers": ["id", "name", "email"], "orders": ["id", "customer_id", "total"]}
    for sql in [s for _, s in HOSTILE] + CHECK_ONLY_HOSTILE:
        repaired = repair_sql(sql, names)
        with pytest.raises(UnsafeSQL):
            check_sql(repaired, "sqlite")


PEOPLE = {"Customer": ["CustomerId", "FirstName", "City", "SupportRepId"], "Employee": ["EmployeeId", "FirstName", "City"]}


@pytest.mark.parametrize(("written", "repaired"), [
    ("SELECT c.FirstName FROM Customer c JOIN Address a ON c.AddressId = a.AddressId WHERE a.City = 'Paris'",
     "SELECT c.FirstName FROM Customer AS c WHERE c.City = 'Paris'"),
    # City is the employee's too: the table the invented one was joined to is meant
    ("SELECT c.FirstName FROM Customer c JOIN Employee e ON c.SupportRepId = e.EmployeeId "
     "JOIN Address a ON a.Id = c.AddressId WHERE a.City = 'Paris'",
     "SELECT c.FirstName FROM Customer AS c JOIN Employee AS e ON c.SupportRepId = e.EmployeeId WHERE c.City = 'Paris'"),
])
def test_a_joined_table_the_schema_lacks_is_dropped_when_its_columns_are_a_real_tables(written, repaired):
    assert repair_sql(written, PEOPLE) == repaired


@pytest.mark.parametrize("sql", [
    "SELECT c.FirstName FROM Customer c JOIN Address a ON c.AddressId = a.AddressId WHERE a.Street = 'x'",  # no Street
    "SELECT c.FirstName FROM Customer c JOIN Employee e ON 1 = 1 JOIN Address a ON a.Id = 5 WHERE a.City = 'Paris'",
    "SELECT c.FirstName FROM Customer c JOIN Address a ON c.AddressId = a.AddressId "
    "WHERE c.CustomerId IN (SELECT CustomerId FROM Customer WHERE City = a.City)",  # read in a subquery too
])
def test_an_invented_table_stays_when_its_columns_cannot_be_placed(sql):
    assert repair_sql(sql, PEOPLE) == sql


def test_the_pipeline_answers_a_question_whose_sql_joined_an_invented_table(chinook_path):
    invented = ("SELECT c.FirstName, c.LastName FROM Customer c JOIN Address a ON c.AddressId = a.AddressId "
                "WHERE a.City = 'Paris'")
    db = connect(chinook_path)
    try:
        answer = ask("Which customers live in Paris?", db, ScriptedBackend([invented]), settings())
    finally:
        db.close()
    assert answer.ok and answer.repaired, answer.error
    assert sorted(row[:2] for row in answer.rows) == [["Camille", "Bernard"], ["Dominique", "Lefebvre"]]
