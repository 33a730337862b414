"""A joined table read only for a number its partner has too: "How many tracks cost 1.99?" answered through the
invoice lines' ``UnitPrice`` counts sales lines, not tracks."""

from __future__ import annotations

import sqlite3

import pytest
from test_pipeline import ask_compared, ask_scripted

from sqlchat.corrections.borrowed import read_borrowed_columns_at_home

THROUGH_LINES = ("SELECT COUNT(T1.TrackId) FROM Track AS T1 JOIN InvoiceLine AS T2 ON T1.TrackId = T2.TrackId "
                 "WHERE T2.UnitPrice = 1.99")


def tracks_at(path, price: float) -> int:
    with sqlite3.connect(path) as con:
        return con.execute("SELECT COUNT(*) FROM Track WHERE UnitPrice = ?", (price,)).fetchone()[0]


def test_the_user_gets_the_tracks_that_cost_it_not_the_lines_sold_at_it(chinook_path):
    agreeing = "SELECT COUNT(*) FROM Track WHERE UnitPrice = 1.99"
    answer = ask_compared(chinook_path, "How many tracks cost 1.99?", [THROUGH_LINES, agreeing])
    assert answer.ok and answer.rows == [[tracks_at(chinook_path, 1.99)]] and answer.repaired
    assert answer.rules == ["borrowed_columns"]
    assert "InvoiceLine" not in answer.chosen


def test_the_condition_goes_home_and_other_joins_stay(chinook_tables):
    written = ("SELECT T3.Name FROM Track AS T1 JOIN InvoiceLine AS T2 ON T1.TrackId = T2.TrackId "
               "JOIN Genre AS T3 ON T1.GenreId = T3.GenreId WHERE T2.UnitPrice = 1.99 AND T3.Name = 'Drama'")
    assert read_borrowed_columns_at_home(written, "How many of them are in Drama?", chinook_tables) == (
        "SELECT T3.Name FROM Track AS T1 JOIN Genre AS T3 ON T1.GenreId = T3.GenreId "
        "WHERE T1.UnitPrice = 1.99 AND T3.Name = 'Drama'")


@pytest.mark.parametrize(("question", "sql"), [
    ("How many tracks were sold at 1.99?", THROUGH_LINES),  # a sale: the line's price is meant
    ("How many invoice lines are for tracks at 1.99?", THROUGH_LINES),  # the joined table is named
    # a Name is a different thing in every table: Genre.Name is not Track.Name
    ("How many Blues tracks are there?",
     "SELECT COUNT(*) FROM Track JOIN Genre ON Track.GenreId = Genre.GenreId WHERE Genre.Name = 'Blues'"),
    # a self-join compares two rows on purpose
    ("Which employees were hired before their manager?",
     "SELECT e.FirstName FROM Employee AS e JOIN Employee AS m ON e.ReportsTo = m.EmployeeId WHERE e.HireDate < m.HireDate"),
    # the joined table's column is selected too: it is read for more than the condition
    ("Which tracks cost 1.99?",
     "SELECT T1.Name, T2.UnitPrice FROM Track AS T1 JOIN InvoiceLine AS T2 ON T1.TrackId = T2.TrackId WHERE T2.UnitPrice = 1.99"),
])
def test_a_join_that_does_more_than_lend_a_number_stays(chinook_tables, question, sql):
    assert read_borrowed_columns_at_home(sql, question, chinook_tables) == sql
