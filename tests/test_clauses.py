"""A JOIN written after WHERE (a model extending its previous query) is moved before it, so the question gets
rows instead of a syntax error; anything else, subqueries and strings included, stays as written."""

from __future__ import annotations

import sqlite3

import pytest

from sqlchat.config import DEMO_DIR
from sqlchat.corrections.clauses import joins_before_where
from test_pipeline import ask_scripted

LED_ZEPPELIN = ("SELECT T3.Name FROM Album AS T1 JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId "
                "WHERE T2.Name = 'Led Zeppelin' JOIN Track AS T3 ON T1.AlbumId = T3.AlbumId "
                "ORDER BY T3.Milliseconds DESC LIMIT 1")


@pytest.mark.parametrize(("written", "moved"), [
    ("SELECT a FROM t WHERE t.x = 1 JOIN u ON t.id = u.id", "SELECT a FROM t JOIN u ON t.id = u.id WHERE t.x = 1"),
    ("SELECT a FROM t WHERE t.x = 1 LEFT OUTER JOIN u ON t.id = u.id JOIN v ON v.id = u.id GROUP BY a",
     "SELECT a FROM t LEFT OUTER JOIN u ON t.id = u.id JOIN v ON v.id = u.id WHERE t.x = 1 GROUP BY a"),
    ("SELECT a FROM t WHERE t.x = 1 JOIN u ON t.id = u.id;", "SELECT a FROM t JOIN u ON t.id = u.id WHERE t.x = 1 ;"),
])
def test_joins_after_where_move_before_it(written, moved):
    assert joins_before_where(written) == moved


@pytest.mark.parametrize("sql", [
    "SELECT a FROM t JOIN u ON t.id = u.id WHERE u.b = 'where join'",  # already right; the words are a string
    "SELECT a FROM t WHERE x IN (SELECT y FROM u WHERE z = 1 JOIN v ON 1 = 1)",  # inside parentheses: left alone
    "SELECT LEFT(name, 2) FROM t WHERE a = 1",  # LEFT the function, not a join
    "SELECT a FROM t WHERE JOIN",  # nothing that parses after moving: as written
    "",
])
def test_other_sql_stays_as_written(sql):
    assert joins_before_where(sql) == sql


def test_the_engine_answers_a_question_whose_sql_joined_after_where(chinook_path):
    answer = ask_scripted(chinook_path, "Which is the longest Led Zeppelin track?", LED_ZEPPELIN)
    with sqlite3.connect(f"{(DEMO_DIR / 'chinook.sqlite').resolve().as_uri()}?mode=ro", uri=True) as con:
        longest = con.execute("SELECT Track.Name FROM Track JOIN Album USING (AlbumId) JOIN Artist USING (ArtistId) "
                              "WHERE Artist.Name = 'Led Zeppelin' ORDER BY Milliseconds DESC LIMIT 1").fetchone()[0]
    assert answer.ok, answer.error
    assert answer.rows[0][0] == longest
