"""A key added up is counted instead: "how many tracks" answered with ``SUM(TrackId)`` gives a meaningless number."""

from __future__ import annotations

import sqlite3

import pytest
from test_pipeline import ask_compared, ask_scripted

from sqlchat.corrections.aggregates import count_summed_keys

LED_ZEPPELIN = ("FROM Album AS T1 JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId JOIN Track AS T3 ON T1.AlbumId = T3.AlbumId "
                "WHERE T2.Name = 'Led Zeppelin'")


def led_zeppelin_tracks(path) -> int:
    with sqlite3.connect(path) as con:
        return con.execute(f"SELECT COUNT(*) {LED_ZEPPELIN}").fetchone()[0]


def test_the_user_gets_the_number_of_tracks_not_the_sum_of_their_ids(chinook_path):
    summed = f"SELECT SUM(T3.TrackId) AS TotalTracks {LED_ZEPPELIN}"
    agreeing = f"SELECT COUNT(*) {LED_ZEPPELIN}"
    answer = ask_compared(chinook_path, "How many tracks are on Led Zeppelin's albums in total?", [summed, agreeing])
    assert answer.rules == ["summed_keys"]
    assert answer.ok and answer.rows == [[led_zeppelin_tracks(chinook_path)]] and answer.repaired
    assert "COUNT(T3.TrackId)" in answer.chosen


@pytest.mark.parametrize("sql", [
    "SELECT SUM(Total) FROM Invoice",  # money: a sum means something
    "SELECT SUM(il.Quantity) FROM InvoiceLine AS il",
    "SELECT SUM(Milliseconds) / 60000 FROM Track",
    "SELECT COUNT(TrackId) FROM Track",
    "SELECT SUM(x.TrackId) FROM (SELECT 1 AS TrackId) AS x",  # not a schema table: cannot tell what it is
])
def test_sums_of_what_is_not_a_key_stay_as_written(chinook_tables, sql):
    assert count_summed_keys(sql, chinook_tables) == sql


def test_a_foreign_key_and_a_key_in_a_subquery_are_counted_too(chinook_tables):
    assert count_summed_keys("SELECT SUM(AlbumId) FROM Track WHERE GenreId = 1", chinook_tables) == (
        "SELECT COUNT(AlbumId) FROM Track WHERE GenreId = 1")
    assert count_summed_keys("SELECT Name FROM Artist WHERE 3 < (SELECT SUM(a.AlbumId) FROM Album AS a "
                             "WHERE a.ArtistId = Artist.ArtistId)", chinook_tables) == (
        "SELECT Name FROM Artist WHERE 3 < (SELECT COUNT(a.AlbumId) FROM Album AS a WHERE a.ArtistId = Artist.ArtistId)")
