"""Value linking: a string the column lacks is compared as the data spells it, never guessed."""

from __future__ import annotations

import sqlite3

import pytest
from helpers.business_db import CUSTOMERS, build_business_db
from test_pipeline import ScriptedBackend, ask_scripted, settings

from sqlchat.config import ExecutionConfig, ModelConfig, Settings
from sqlchat.corrections.values import link_values, matching_values_sql, stored_values
from sqlchat.pipeline import run_sql
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import connect
from sqlchat.value_reader import DatabaseReader

ROCK_TRACKS = "SELECT COUNT(*) FROM Track AS T JOIN Genre AS G ON T.GenreId = G.GenreId WHERE G.Name = 'Rock'"
UK_NAMES = sorted(name for _, name, _, _, country, _ in CUSTOMERS if country == "UK")


def linked(sql: str, db) -> str:
    return link_values(sql, list(reflect_schema(db)), stored_values(DatabaseReader(db, ExecutionConfig())), db.dialect)


def count(sql: str, db) -> int:
    answer = run_sql(sql, db, settings())
    assert answer.ok, answer.error
    return answer.rows[0][0]


def test_a_lower_case_value_becomes_the_stored_spelling(chinook):
    sql = ROCK_TRACKS.replace("'Rock'", "'rock'")
    assert count(sql, chinook) == 0  # as written: silently nothing
    fixed = linked(sql, chinook)
    assert "'Rock'" in fixed
    assert count(fixed, chinook) == count(ROCK_TRACKS, chinook) > 0


@pytest.mark.parametrize(
    "written, expected",
    [
        ("SELECT Name FROM Genre WHERE Name IN ('rock', 'JAZZ')", ["'Rock'", "'Jazz'"]),
        ("SELECT GenreId FROM Genre WHERE 'blues' = Name", ["'Blues'"]),
        ('SELECT GenreId FROM Genre WHERE Name = "metal"', ["'Metal'"]),  # SQLite-style double quotes
        ("SELECT COUNT(*) FROM Genre WHERE Name <> 'latin'", ["'Latin'"]),
        ("SELECT Name FROM Artist WHERE ArtistId IN (SELECT ArtistId FROM Album WHERE Title = 'let there be rock')",
         ["'Let There Be Rock'"]),  # inside a subquery, against the subquery's own table
    ],
    ids=["in-list", "value-first", "double-quoted", "not-equal", "subquery"],
)
def test_strings_are_linked_wherever_they_are_compared(chinook, written, expected):
    fixed = linked(written, chinook)
    for value in expected:
        assert value in fixed
    assert run_sql(fixed, chinook, settings()).ok


@pytest.mark.parametrize(
    "sql",
    [
        ROCK_TRACKS,  # already the stored value
        "SELECT COUNT(*) FROM Genre WHERE Name = 'polka'",  # nothing like it is stored
        "SELECT COUNT(*) FROM Genre WHERE Name = ' rock'",  # spaces count: maybe another code
        "SELECT COUNT(*) FROM Genre WHERE Name LIKE '%rock%'",  # a pattern is the user's own
        "SELECT COUNT(*) FROM Track WHERE Name = 'rock' AND Composer = 'x'",  # Track.Name holds no such title
        "SELEC nonsense FORM",  # unreadable: returned as written, never an error
        "",
    ],
    ids=["exact", "no-match", "spaces", "like", "other-column", "unparsable", "empty"],
)
def test_nothing_is_guessed(chinook, sql):
    assert linked(sql, chinook) == sql


def test_a_value_stored_in_two_spellings_is_left_alone(tmp_path):
    path = tmp_path / "cities.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE office (city TEXT, staff INTEGER)")
        conn.executemany("INSERT INTO office VALUES (?, ?)", [("Paris", 3), ("PARIS", 4), ("Lyon", 2)])
    db = connect(path)
    try:
        assert linked("SELECT staff FROM office WHERE city = 'paris'", db) == "SELECT staff FROM office WHERE city = 'paris'"
        assert "'Lyon'" in linked("SELECT staff FROM office WHERE city = 'lyon'", db)
    finally:
        db.close()


def test_the_lookup_quotes_the_text_it_is_given(chinook):
    sql = matching_values_sql("Genre", "Name", "x') OR 1=1 --", "sqlite")
    assert "'x'') OR 1=1 --'" in sql
    assert stored_values(DatabaseReader(chinook, ExecutionConfig()))("Genre", "Name", "x') OR 1=1 --") == []


def test_linked_forms_are_computed_only_when_the_choice_gets_that_far(chinook_path):
    from sqlchat.corrections.registry import Context
    from sqlchat.answers.choice import linked_forms

    with connect(chinook_path) as db:
        tables = tuple(reflect_schema(db))
    asked: list[tuple[str, str, str]] = []

    def lookup(table: str, column: str, text: str) -> list[str]:
        asked.append((table, column, text))
        return ["Rock"] if text.lower() == "rock" else []

    forms = linked_forms("SELECT COUNT(*) FROM Genre WHERE Name = 'rock'", Context(tables), lookup, [])
    first = next(forms)
    assert first.sql == "SELECT COUNT(*) FROM Genre WHERE Name = 'rock'" and asked == []
    linked = next(forms)
    assert "'Rock'" in linked.sql and linked.fired == ("stored_spelling",) and asked


def test_an_empty_answer_is_retried_with_the_stored_spelling(chinook_path):
    answer = ask_scripted(chinook_path, "How many rock tracks are there?", ROCK_TRACKS.replace("'Rock'", "'rock'"))
    assert answer.ok, answer.error
    db = connect(chinook_path)
    try:
        assert answer.rows == [[count(ROCK_TRACKS, db)]]
    finally:
        db.close()
    assert answer.repaired and "'Rock'" in answer.chosen


def test_linking_can_be_turned_off(chinook_path):
    off = Settings(model=ModelConfig(), execution=ExecutionConfig(link_values=False))
    answer = ask_scripted(chinook_path, "How many rock tracks are there?", ROCK_TRACKS.replace("'Rock'", "'rock'"), off)
    assert answer.ok and answer.rows == [[0]] and not answer.repaired


def test_a_candidate_with_rows_is_preferred_to_an_empty_one(chinook):
    from sqlchat.pipeline import ask

    empty, full = "SELECT Name FROM Genre WHERE Name = 'Polka'", "SELECT Name FROM Genre WHERE GenreId = 1"
    answer = ask("Which genre is number one?", chinook, ScriptedBackend([empty, full]), settings(candidates=2))
    assert answer.rows == [["Rock"]] and answer.chosen == full
    first_that_runs = Settings(model=ModelConfig(num_candidates=2), execution=ExecutionConfig(prefer_informative=False))
    answer = ask("Which genre is number one?", chinook, ScriptedBackend([empty, full]), first_that_runs)
    assert answer.ok and answer.rows == [] and answer.chosen == empty
    # when no candidate returns rows, the empty answer is still the answer, not an error
    answer = ask("Which genre is polka?", chinook, ScriptedBackend([empty]), settings())
    assert answer.ok and answer.rows == []


@pytest.mark.postgres
def test_postgres_compares_case_sensitively_so_the_stored_spelling_is_used(pg_url):
    build_business_db(pg_url)
    answer = ask_scripted(pg_url, "Which customers are in the uk?", "SELECT name FROM customers WHERE country = 'uk' ORDER BY name")
    assert answer.ok, answer.error
    assert [row[0] for row in answer.rows] == UK_NAMES and answer.repaired
    db = connect(pg_url)
    try:  # a number column cannot be LOWER()ed on PostgreSQL: no match, no error
        assert stored_values(DatabaseReader(db, ExecutionConfig()))("customers", "id", "1") == []
    finally:
        db.close()


@pytest.mark.mariadb
def test_mariadb_already_compares_without_case_so_nothing_is_changed(mysql_url):
    build_business_db(mysql_url)
    sql = "SELECT name FROM customers WHERE country = 'uk' ORDER BY name"
    answer = ask_scripted(mysql_url, "Which customers are in the uk?", sql)
    assert [row[0] for row in answer.rows] == UK_NAMES and not answer.repaired


@pytest.mark.parametrize("written", [
    "SELECT COUNT(*) FROM Products WHERE Discontinued = 'Yes'",  # the flag is stored as '1'
    "SELECT COUNT(*) FROM Customers WHERE Country = 'United States'",  # stored as 'USA'
])
def test_no_list_of_one_databases_spellings_is_guessed_from(northwind, written):
    """Synonyms of stored values ('Yes' for '1', 'United States' for 'USA') hold one database's conventions: the query
    stays as written (its empty answer then says so, and the model is asked again)."""
    assert linked(written, northwind) == written


def test_an_other_spelling_is_not_guessed_where_the_column_has_no_such_value(chinook):
    sql = "SELECT COUNT(*) FROM Genre WHERE Name = 'Yes'"  # a genre, not a flag: nothing to link to
    assert linked(sql, chinook) == sql


@pytest.mark.parametrize(
    "written, moved",
    [
        # "customers in each US state": the model compared the state with the country's code
        ("SELECT State, COUNT(*) FROM Customer WHERE State = 'USA' GROUP BY State", "Country = 'USA'"),
        ("SELECT FirstName FROM Customer AS c WHERE c.City = 'germany'", "c.Country = 'Germany'"),
    ],
    ids=["state-for-country", "city-for-country"],
)
def test_a_value_its_column_lacks_moves_to_the_one_column_that_holds_it(chinook, written, moved):
    assert run_sql(written, chinook, settings()).rows in ([], [[0]])  # as written: silently nothing
    fixed = linked(written, chinook)
    assert moved in fixed
    assert len(run_sql(fixed, chinook, settings()).rows) > 0


def test_a_value_two_other_columns_hold_is_not_moved(tmp_path):
    path = tmp_path / "places.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE trip (origin TEXT, destination TEXT, note TEXT)")
        conn.executemany("INSERT INTO trip VALUES (?, ?, ?)", [("Paris", "Lyon", "-"), ("Lyon", "Paris", "-")])
    db = connect(path)
    try:
        sql = "SELECT COUNT(*) FROM trip WHERE note = 'Paris'"
        assert linked(sql, db) == sql
    finally:
        db.close()
