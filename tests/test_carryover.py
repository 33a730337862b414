"""A follow-up that drops the conditions of the query it follows gets them back; one that changes them does not."""

from __future__ import annotations

import pytest
from test_pipeline import ScriptedBackend

from sqlchat.config import ModelConfig, Settings
from sqlchat.corrections.carryover import carry_conditions, refers_back
from sqlchat.pipeline import ask
from sqlchat.prompt import Turn

FRANCE_TOTAL = "SELECT SUM(Total) FROM Invoice WHERE BillingCountry = 'France'"
NANCYS_TEAM = ("SELECT * FROM Employee WHERE ReportsTo = "
               "(SELECT EmployeeId FROM Employee WHERE FirstName = 'Nancy' AND LastName = 'Edwards')")


@pytest.mark.parametrize(("previous", "question", "written", "carried"), [
    (FRANCE_TOTAL, "And the average per invoice?", "SELECT AVG(Total) FROM Invoice",
     "SELECT AVG(Total) FROM Invoice WHERE BillingCountry = 'France'"),
    # a subquery condition comes whole; the new condition stays first
    (NANCYS_TEAM, "Which of those were hired in 2003?", "SELECT * FROM Employee WHERE HireDate LIKE '2003%'",
     f"SELECT * FROM Employee WHERE HireDate LIKE '2003%' AND {NANCYS_TEAM.split(' WHERE ', 1)[1]}"),
    # a join: the condition takes the new query's alias for the table, as the model spelled it
    ("SELECT COUNT(*) FROM Invoice WHERE STRFTIME('%Y', InvoiceDate) = '2021' AND Total > 10",
     "Which countries were those invoices billed to?",
     "SELECT c.Country FROM Invoice AS I JOIN Customer AS c ON c.CustomerId = I.CustomerId WHERE I.Total > 10",
     "SELECT c.Country FROM Invoice AS I JOIN Customer AS c ON c.CustomerId = I.CustomerId "
     "WHERE I.Total > 10 AND STRFTIME('%Y', I.InvoiceDate) = '2021'"),
], ids=["and", "of-those", "aliased"])
def test_dropped_conditions_come_back(chinook_tables, previous, question, written, carried):
    assert carry_conditions(written, previous, question, chinook_tables) == carried


@pytest.mark.parametrize(("previous", "question", "written"), [
    ("SELECT COUNT(*) FROM Invoice WHERE BillingCountry = 'Germany'", "And to France?",
     "SELECT COUNT(*) FROM Invoice WHERE BillingCountry = 'France'"),  # the follow-up changes the condition
    (FRANCE_TOTAL, "How many invoices are there?", "SELECT COUNT(*) FROM Invoice"),  # a new question, not a follow-up
    (FRANCE_TOTAL, "Which of them is the largest?", "SELECT MAX(Total) FROM Customer"),  # another table
    ("SELECT e.FirstName FROM Employee e JOIN Employee m ON e.ReportsTo = m.EmployeeId WHERE m.FirstName = 'Nancy'",
     "Which of those were hired in 2003?", "SELECT FirstName FROM Employee WHERE HireDate LIKE '2003%'"),  # self-join
    (None, "And the average?", "SELECT AVG(Total) FROM Invoice"),
], ids=["changed", "not-a-follow-up", "other-table", "self-join", "no-previous"])
def test_nothing_is_carried_where_the_follow_up_means_otherwise(chinook_tables, previous, question, written):
    assert carry_conditions(written, previous, question, chinook_tables) == written


def test_what_counts_as_referring_back():
    assert all(map(refers_back, ["And to France?", "Which of them is oldest?", "What was their total?", "Just for 2021"]))
    assert not any(map(refers_back, ["How many invoices went to Germany?", "Which customers bought jazz?"]))


def test_the_user_gets_the_follow_up_for_the_rows_they_were_looking_at(chinook):
    earlier = [Turn("What was the total for invoices to France?", FRANCE_TOTAL)]
    agreeing = "SELECT AVG(i.Total) FROM Invoice AS i WHERE i.BillingCountry = 'France'"
    alone = ask("And the average per invoice?", chinook, ScriptedBackend(["SELECT AVG(Total) FROM Invoice"]),
                Settings(), earlier=earlier)
    assert alone.ok and alone.rules == [] and "France" not in alone.sql
    answer = ask("And the average per invoice?", chinook,
                 ScriptedBackend(["SELECT AVG(Total) FROM Invoice", agreeing]),
                 Settings(model=ModelConfig(num_candidates=2)), earlier=earlier)
    assert answer.rules == ["carried_conditions"]
    everyone = ask("What is the average invoice?", chinook, ScriptedBackend(["SELECT AVG(Total) FROM Invoice"]), Settings())
    assert answer.ok and answer.repaired and "France" in answer.sql
    assert answer.rows[0][0] != everyone.rows[0][0]
