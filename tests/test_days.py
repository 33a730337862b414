"""A date range's last day counts whole on every server (``sqlchat.corrections.days``): "payments in July" keeps
the payment made at 10:53 on 31 July, on a column that stores times of day and on one that stores dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
import sqlalchemy as sa
import sqlglot
from helpers.tables import fill_table
from test_pipeline import ScriptedBackend

from sqlchat.config import ModelConfig, Settings
from sqlchat.corrections.days import whole_last_days
from sqlchat.pipeline import ask
from sqlchat.sources.connection import connect

SETTINGS = Settings(model=ModelConfig(num_candidates=1))
SETTINGS = replace(SETTINGS, trust=replace(SETTINGS.trust, decline=False))
PAYMENTS = [(1, dt.datetime(2005, 6, 30, 23, 0), 1), (2, dt.datetime(2005, 7, 1, 0, 0), 10),
            (3, dt.datetime(2005, 7, 31, 10, 53), 100), (4, dt.datetime(2005, 8, 1, 0, 0), 1000)]
WRITTEN = [
    ("SELECT SUM(Amount) FROM Payment WHERE PaidAt BETWEEN '2005-07-01' AND '2005-07-31'", 110),
    ("SELECT SUM(Amount) FROM Payment WHERE PaidAt >= '2005-07-01' AND PaidAt <= '2005-07-31'", 110),
    ("SELECT SUM(Amount) FROM Payment WHERE PaidOn BETWEEN '2005-07-01' AND '2005-07-31'", 110),  # dates alone: as before
    ("SELECT SUM(Amount) FROM Payment WHERE NOT PaidAt BETWEEN '2005-07-01' AND '2005-07-31'", 1001),
]


@pytest.fixture
def payments_url(server_url) -> str:
    columns = [sa.Column("PaymentId", sa.Integer, primary_key=True), sa.Column("PaidAt", sa.DateTime),
               sa.Column("PaidOn", sa.Date), sa.Column("Amount", sa.Integer)]
    return fill_table(server_url, "Payment", columns, [(i, at, at.date(), amount) for i, at, amount in PAYMENTS])


def test_the_last_day_of_a_range_counts_whole_on_every_server(payments_url):
    failures = []
    with connect(payments_url) as db:
        for written, expected in WRITTEN:
            answer = ask("How much was paid in July 2005?", db, ScriptedBackend([written]), SETTINGS)
            total = int(answer.rows[0][0]) if answer.ok else answer.error
            if total != expected:
                failures.append(f"{written} -> {answer.sql}: {total}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("sql", [
    "SELECT 1 FROM t WHERE strftime('%m', d) BETWEEN '01' AND '03'",  # not whole dates
    "SELECT 1 FROM t WHERE d BETWEEN 20180101 AND 20180131",  # dates stored as numbers: not a date literal
    "SELECT 1 FROM t WHERE DATE(d) BETWEEN '2005-07-01' AND '2005-07-31'",  # whole days already
    "SELECT 1 FROM t WHERE d >= '2005-07-01'", "SELECT 1 FROM t WHERE d BETWEEN '2005-02-01' AND '2005-02-30'",
])
def test_other_comparisons_are_left_alone(sql):
    assert whole_last_days(sqlglot.parse_one(sql, read="sqlite")) is None
