"""Names read from the wrong joined table are read from the table the question asks about."""

from __future__ import annotations

import pytest
from test_pipeline import ask_compared, ask_scripted

from sqlchat.corrections.subject import asked_table, read_from_asked_table

MEDIA = "SELECT T2.Name FROM MediaType AS T1 JOIN Track AS T2 ON T1.MediaTypeId = T2.MediaTypeId"


@pytest.mark.parametrize(("question", "expected"), [
    ("Which media types do we sell tracks in?", "MediaType"),
    ("What genres are in the catalogue?", "Genre"),
    ("Which invoice lines are the largest?", "InvoiceLine"),
    ("Which 3 genres sold the most tracks?", "Genre"),  # the words after the count
    ("What top 5 artists have the most albums?", "Artist"),
    ("How many tracks are there?", None),  # not a which/what question
    ("Which of them is the largest?", None),  # no table named
])
def test_the_table_a_question_asks_about(chinook_tables, question, expected):
    found = asked_table(question, chinook_tables)
    assert (found.name if found else None) == expected


def test_a_listing_reads_the_asked_table_and_lists_each_once(chinook_tables):
    assert read_from_asked_table(MEDIA, "Which media types do we sell tracks in?", chinook_tables) == (
        "SELECT DISTINCT T1.Name FROM MediaType AS T1 JOIN Track AS T2 ON T1.MediaTypeId = T2.MediaTypeId")


def test_a_grouped_query_moves_its_group_too(chinook_tables):
    written = f"{MEDIA} GROUP BY T2.Name ORDER BY COUNT(*) DESC LIMIT 1"
    assert read_from_asked_table(written, "Which media type do most of our tracks come in?", chinook_tables) == (
        f"{MEDIA.replace('T2.Name', 'T1.Name')} GROUP BY T1.Name ORDER BY COUNT(*) DESC LIMIT 1")


@pytest.mark.parametrize(("sql", "question"), [
    (MEDIA, "Which tracks come in each media type?"),  # the question asks about tracks: T2 is right
    (MEDIA.replace("SELECT T2.Name", "SELECT T1.Name, T2.Name"), "Which media types do we sell tracks in?"),  # its own
    (MEDIA.replace("T2.Name", "T2.Composer"), "Which media types do we sell tracks in?"),  # MediaType has no Composer
    ("SELECT Name FROM Track", "Which media types do we sell tracks in?"),  # the asked table is not in the query
])
def test_nothing_moves_when_the_names_may_be_meant(chinook_tables, sql, question):
    assert read_from_asked_table(sql, question, chinook_tables) == sql


def test_the_user_sees_media_types_not_track_titles(chinook_path):
    agreeing = "SELECT Name FROM MediaType"
    answer = ask_compared(chinook_path, "Which media types do we sell tracks in?", [MEDIA, agreeing])
    assert answer.ok and answer.repaired and "asked_subject" in answer.rules
    assert sorted(row[0] for row in answer.rows) == [
        "AAC audio file", "MPEG audio file", "Protected AAC audio file", "Protected MPEG-4 video file",
        "Purchased AAC audio file"]


def genres_of_tracks_at(path, price: float) -> list[str]:
    import sqlite3

    with sqlite3.connect(path) as con:
        return sorted(row[0] for row in con.execute(
            "SELECT DISTINCT Genre.Name FROM Track JOIN Genre ON Genre.GenreId = Track.GenreId WHERE Track.UnitPrice = ?",
            (price,)))


def test_which_genres_over_the_tracks_lists_each_genre_once(chinook_path):
    written = ("SELECT T3.Name FROM Track AS T1 JOIN Genre AS T3 ON T1.GenreId = T3.GenreId WHERE T1.UnitPrice = 1.99")
    agreeing = ("SELECT DISTINCT g.Name FROM Genre AS g JOIN Track AS t ON t.GenreId = g.GenreId "
                "WHERE t.UnitPrice = 1.99")
    alone = ask_scripted(chinook_path, "Which genres are they in?", written)
    assert alone.ok and alone.rules == [] and len(alone.rows) > len(genres_of_tracks_at(chinook_path, 1.99))
    answer = ask_compared(chinook_path, "Which genres are they in?", [written, agreeing])
    assert answer.ok and answer.rules == ["asked_subject"] and sorted(row[0] for row in answer.rows) == genres_of_tracks_at(chinook_path, 1.99)


@pytest.mark.parametrize(("question", "sql"), [
    # ordered by what it does not list: DISTINCT could not keep that order
    ("Which genre has the longest track?",
     "SELECT T3.Name FROM Track AS T1 JOIN Genre AS T3 ON T1.GenreId = T3.GenreId ORDER BY T1.Milliseconds DESC LIMIT 1"),
    # the asked table refers to the other: a track's genre does not repeat the track
    ("Which tracks are in the Rock genre?",
     "SELECT T1.Name FROM Track AS T1 JOIN Genre AS T3 ON T1.GenreId = T3.GenreId WHERE T3.Name = 'Rock'"),
    ("Which genres have more than 100 tracks?",
     "SELECT T3.Name FROM Track AS T1 JOIN Genre AS T3 ON T1.GenreId = T3.GenreId GROUP BY T3.Name HAVING COUNT(*) > 100"),
])
def test_a_listing_that_does_not_repeat_the_asked_rows_stays_as_written(chinook_tables, question, sql):
    assert read_from_asked_table(sql, question, chinook_tables) == sql
