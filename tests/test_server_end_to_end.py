"""`sqlchat sql` and `sqlchat ask` end to end on the local PostgreSQL and MariaDB servers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.business_db import CUSTOMERS, build_business_db

ROOT = Path(__file__).resolve().parents[1]
UK_NAMES = sorted(name for _, name, _, _, country, _ in CUSTOMERS if country == "UK")


def sqlchat(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sqlchat", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(params=["postgres", "mariadb"])
def server_url(request):
    url = request.getfixturevalue("pg_url" if request.param == "postgres" else "mysql_url")
    build_business_db(url)
    return url


@pytest.mark.postgres
@pytest.mark.mariadb
def test_training_style_sql_is_transpiled_and_runs_on_the_server(server_url):
    sql = 'SELECT name FROM customers WHERE country = "UK" ORDER BY name'
    result = sqlchat("sql", "--db", server_url, sql, "--json")
    assert result.returncode == 0, result.stderr
    assert [row[0] for row in json.loads(result.stdout)["rows"]] == UK_NAMES


@pytest.mark.postgres
@pytest.mark.mariadb
def test_a_write_is_refused_on_the_server(server_url):
    result = sqlchat("sql", "--db", server_url, "UPDATE customers SET name = 'x'")
    assert result.returncode == 1 and "read-only" in result.stderr.lower()
    names = json.loads(sqlchat("sql", "--db", server_url, "SELECT name FROM customers ORDER BY id", "--json").stdout)["rows"]
    assert [row[0] for row in names] == [c[1] for c in CUSTOMERS]


@pytest.mark.postgres
@pytest.mark.mariadb
def test_schema_context_comes_from_the_server(server_url):
    result = sqlchat("schema", "--db", server_url)
    assert result.returncode == 0
    assert "CREATE TABLE customers (" in result.stdout and "CREATE TABLE orders (" in result.stdout
    assert "customer_id INTEGER" in result.stdout and "REFERENCES" not in result.stdout  # training-style context


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.mariadb
def test_ask_answers_on_the_server_with_the_embedded_model(server_url):
    result = sqlchat("ask", "--db", server_url, "How many customers are there?", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["rows"] == [[len(CUSTOMERS)]], data
