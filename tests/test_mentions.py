"""Schema linking by stored values: the model is told where the names a question mentions are kept."""

from __future__ import annotations

import sqlite3

from helpers.business_db import build_business_db
from test_pipeline import ScriptedBackend, settings

from sqlchat.language import QUESTION_WORDS
from sqlchat.schema.context import schema_terms
from sqlchat.config import ExecutionConfig, SchemaConfig, Settings
from sqlchat.pipeline import ask
from sqlchat.prompt import MENTIONS_LABEL
from sqlchat.schema.mentions import DatabaseValues, equal_values_sql, find_mentions, mentioned_phrases
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import connect, connect_schema_script
from sqlchat.value_reader import DatabaseReader

JANE = "How many customers does Jane Peacock look after?"


def mentions(question: str, db, budget_s: float = 5.0) -> list[str]:
    tables = list(reflect_schema(db))
    values = DatabaseValues(DatabaseReader(db, ExecutionConfig()), budget_s)
    found = find_mentions(question, tables, values, schema_terms(tables), QUESTION_WORDS, budget_s)
    return [m.text() for m in found]


def phrases(question: str, db) -> list[str]:
    return mentioned_phrases(question, schema_terms(list(reflect_schema(db))), QUESTION_WORDS)


def test_the_phrases_are_names_quoted_text_and_words_the_schema_lacks(chinook):
    assert phrases(JANE, chinook) == ["Jane Peacock"]
    assert phrases("Which tracks are in the 'Heavy Metal' genre?", chinook) == ["Heavy Metal"]
    # one lower-case word is too often a title by chance (a playlist is called "Music"); two may be a name
    assert phrases("What music genres are in the catalogue?", chinook) == []
    assert phrases("How many heavy metal tracks are there?", chinook) == ["heavy metal"]
    assert phrases("Which albums did Led Zeppelin and U2 release?", chinook) == ["Led Zeppelin and U2"]
    # the first word asks, table and column names are no values, a possessive is the name
    assert phrases("List the Customers of Jane Peacock's team", chinook) == ["Jane Peacock"]
    assert phrases("How many invoices are there?", chinook) == []


def test_a_name_split_over_first_and_last_name_is_found_in_the_right_table(chinook):
    # Customer has FirstName and LastName too, but no customer is called Jane Peacock: the employee is meant
    assert mentions(JANE, chinook) == ["Employee.FirstName = 'Jane' AND Employee.LastName = 'Peacock'"]


def test_a_value_stored_whole_is_found_in_its_column_with_the_stored_spelling(chinook, northwind):
    assert mentions("How many Jazz tracks are there?", chinook) == ["Genre.Name = 'Jazz'"]
    assert mentions("How many heavy metal tracks are there?", chinook) == ["Genre.Name = 'Heavy Metal'"]
    assert mentions("Which albums did led zeppelin release?", chinook) == ["Artist.Name = 'Led Zeppelin'"]
    # not stored whole: cut at "and" into the two names; U2 is an artist and a track's composer: not said
    assert mentions("Which albums did Led Zeppelin and U2 release?", chinook) == ["Artist.Name = 'Led Zeppelin'"]
    assert mentions("How many orders did Nancy Davolio take in 1997?", northwind) == [
        "Employees.FirstName = 'Nancy' AND Employees.LastName = 'Davolio'"]


def test_a_value_found_in_several_places_or_nowhere_says_nothing(chinook):
    assert mentions("How many tracks did Zanzibar Quux write?", chinook) == []
    # shown Customer.City and Invoice.BillingCity, the model wrote both conditions: one place or none
    assert mentions("Which customers live in Paris?", chinook) == []
    assert mentions("What albums by Queen do we have?", chinook) == []  # Artist.Name and Track.Composer


def test_no_time_left_means_no_look_up(chinook):
    assert mentions(JANE, chinook, budget_s=0.0) == []


def test_the_look_up_is_one_read_only_select_with_the_text_as_literals():
    sql = equal_values_sql("Artist", ["Name"], ["AC/DC'); DROP TABLE Artist; --"], "sqlite")
    assert sql.startswith('SELECT "Name" FROM "Artist" WHERE LOWER("Name") IN (')
    assert "'ac/dc''); drop table artist; --'" in sql


def test_the_prompt_says_where_the_name_is_and_the_focus_sends_that_table(chinook):
    backend = ScriptedBackend(["SELECT COUNT(*) FROM Customer AS c JOIN Employee AS e ON c.SupportRepId = e.EmployeeId "
                               "WHERE e.FirstName = 'Jane' AND e.LastName = 'Peacock'"])
    answer = ask(JANE, chinook, backend, settings())
    assert answer.ok, answer.error
    assert answer.rows == [[21]]
    assert "Employee" in answer.tables and "Customer" in answer.tables
    assert f"{MENTIONS_LABEL} Employee.FirstName = 'Jane' AND Employee.LastName = 'Peacock'\n{JANE}" in backend.prompts[0]
    assert answer.to_json()["mentions"] == ["Employee.FirstName = 'Jane' AND Employee.LastName = 'Peacock'"]


def test_mentions_off_sends_the_question_alone(chinook):
    backend = ScriptedBackend(["SELECT COUNT(*) FROM Customer"])
    off = Settings(model=settings().model, schema=SchemaConfig(mentions=False))
    answer = ask(JANE, chinook, backend, off)
    assert answer.ok and answer.mentions == ()
    assert MENTIONS_LABEL not in backend.prompts[0]


def test_a_follow_up_shows_its_own_mentions_before_the_follow_up_question(chinook):
    from sqlchat.prompt import FOLLOW_UP_LABEL, Turn

    backend = ScriptedBackend(["SELECT COUNT(*) FROM Invoice WHERE BillingCountry = 'France'"])
    earlier = [Turn("How many invoices went to Germany?", "SELECT COUNT(*) FROM Invoice WHERE BillingCountry = 'Germany'")]
    answer = ask("And to Jane Peacock's customers?", chinook, backend, settings(), earlier=earlier)
    assert answer.ok
    prompt = backend.prompts[0]
    assert prompt.index("Employee.LastName = 'Peacock'") < prompt.index(f"{FOLLOW_UP_LABEL} And to Jane Peacock's")


def test_a_postgresql_database_is_searched_too(pg_url):
    build_business_db(pg_url)
    db = connect(pg_url)
    try:
        tables = list(reflect_schema(db))
        values = DatabaseValues(DatabaseReader(db, ExecutionConfig()), 5.0)
        found = find_mentions("What did grace hopper buy?", tables, values, schema_terms(tables), QUESTION_WORDS)
        assert [m.text() for m in found] == ["customers.name = 'Grace Hopper'"]
    finally:
        db.close()


def test_a_database_without_data_gets_no_mentions():
    db = connect_schema_script("CREATE TABLE Employee (EmployeeId INTEGER, FirstName TEXT, LastName TEXT);")
    try:
        backend = ScriptedBackend(["SELECT COUNT(*) FROM Employee"])
        answer = ask(JANE, db, backend, settings())
        assert answer.mentions == () and MENTIONS_LABEL not in backend.prompts[0]
    finally:
        db.close()


def test_the_sqlite_file_is_untouched(tmp_path, chinook_path):
    copy = tmp_path / "c.sqlite"
    copy.write_bytes(chinook_path.read_bytes())
    before = copy.read_bytes()
    db = connect(copy)
    try:
        mentions("Which tracks are in the 'x''); DROP TABLE Track; --' genre?", db)
    finally:
        db.close()
    assert copy.read_bytes() == before
    assert sqlite3.connect(copy).execute("SELECT COUNT(*) FROM Track").fetchone()[0] == 3503
