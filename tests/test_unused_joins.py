"""A joined table the query never reads is dropped when the question does not name it: it only repeats rows."""

from __future__ import annotations

import pytest
from test_pipeline import ask_compared, ask_scripted

from sqlchat.corrections.unused import drop_unused_joins
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import connect

JAPAN = ("SELECT s.CompanyName FROM Suppliers s JOIN Products p ON s.SupplierID = p.SupplierID "
         "WHERE s.Country = 'Japan'")


@pytest.fixture()
def northwind_tables(northwind_path):
    with connect(northwind_path) as db:
        return list(reflect_schema(db))


def test_a_join_nothing_reads_is_dropped(northwind_tables):
    assert drop_unused_joins(JAPAN, "Which suppliers are based in Japan?", northwind_tables) == (
        "SELECT s.CompanyName FROM Suppliers AS s WHERE s.Country = 'Japan'")


@pytest.mark.parametrize(("sql", "question"), [
    (JAPAN, "Which suppliers of our products are based in Japan?"),  # the question names the joined table
    (JAPAN.replace("SELECT s.", "SELECT DISTINCT s."), "Which suppliers are based in Japan?"),
    (JAPAN.replace("SELECT s.CompanyName", "SELECT COUNT(*)"), "How many suppliers are based in Japan?"),
    (JAPAN.replace("SELECT s.CompanyName", "SELECT s.CompanyName, p.ProductName"), "What do Japanese suppliers sell?"),
    (JAPAN.replace("WHERE s.Country", "WHERE p.Discontinued = 1 AND s.Country"), "Which suppliers are based in Japan?"),
    (JAPAN.replace("JOIN", "LEFT JOIN"), "Which suppliers are based in Japan?"),
    (JAPAN.replace("SELECT s.CompanyName", "SELECT *"), "Which suppliers are based in Japan?"),
    (JAPAN.replace("SELECT s.CompanyName", "SELECT ProductName"), "Which suppliers are based in Japan?"),  # unqualified: Products'
], ids=["named", "distinct", "aggregate", "selected", "filtered", "left-join", "star", "unqualified"])
def test_a_join_that_means_something_stays(northwind_tables, sql, question):
    assert drop_unused_joins(sql, question, northwind_tables) == sql


def test_the_user_sees_each_supplier_once_when_another_candidate_agrees(northwind_path):
    agreeing = "SELECT CompanyName FROM Suppliers WHERE Country = 'Japan'"
    answer = ask_compared(northwind_path, "Which suppliers are based in Japan?", [JAPAN, agreeing])
    assert answer.ok and answer.repaired and answer.rules == ("unused_joins",)
    assert answer.rule_notes == ("dropped the join to Products that nothing read",)
    assert sorted(row[0] for row in answer.rows) == ["Mayumi's", "Tokyo Traders"]


def test_a_dropped_join_alone_does_not_win_by_returning_rows(northwind_path):
    answer = ask_scripted(northwind_path, "Which suppliers are based in Japan?", JAPAN)
    assert answer.ok and not answer.repaired and answer.rules == () and answer.chosen == JAPAN


def test_a_join_left_unread_by_a_moved_value_is_dropped_too(northwind_path):
    # the model looked for the city in a joined table; the value moves to Employees.City, and the join goes
    written = ("SELECT T1.FirstName, T1.LastName FROM Employees AS T1 JOIN EmployeeTerritories AS T2 "
               "ON T1.EmployeeID = T2.EmployeeID WHERE T1.Region = 'Seattle'")
    answer = ask_scripted(northwind_path, "Which employees live in Seattle?", written)
    assert answer.ok and "EmployeeTerritories" not in answer.sql
    assert sorted(answer.rows) == [["Laura", "Callahan"], ["Nancy", "Davolio"]]
