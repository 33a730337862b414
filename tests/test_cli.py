"""`sqlchat ask|sql|schema` as a user runs them: a subprocess, its output and its exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHINOOK = str(ROOT / "sqlchat" / "demo" / "chinook.sqlite")


def sqlchat(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sqlchat", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_sql_json_prints_rows():
    result = sqlchat("sql", "--db", CHINOOK, "SELECT Name FROM Artist ORDER BY ArtistId LIMIT 3", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["rows"] == [["AC/DC"], ["Accept"], ["Aerosmith"]] and data["error"] is None
    assert set(data["timings"]) >= {"check", "execute", "total"}


def test_a_refused_statement_exits_non_zero_with_the_reason_and_changes_nothing():
    result = sqlchat("sql", "--db", CHINOOK, "DROP TABLE Artist")
    assert result.returncode == 1
    assert "read-only" in result.stderr.lower()
    count = sqlchat("sql", "--db", CHINOOK, "SELECT COUNT(*) AS n FROM Artist", "--json")
    assert json.loads(count.stdout)["rows"] == [[275]]


def test_schema_prints_the_create_table_context():
    result = sqlchat("schema", "--db", CHINOOK)
    assert result.returncode == 0
    assert result.stdout.count("CREATE TABLE") == 11 and "CREATE TABLE Artist (ArtistId INTEGER" in result.stdout


def test_an_unreachable_database_is_one_line_without_the_password():
    result = sqlchat("sql", "--db", "postgresql://alice:hunter2secret@127.0.0.1:1/sales", "SELECT 1")
    assert result.returncode == 2
    assert "hunter2secret" not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")


def test_a_missing_file_is_a_clear_error():
    result = sqlchat("schema", "--db", "/nowhere/shop.sqlite")
    assert result.returncode == 2 and "error:" in result.stderr


@pytest.mark.slow
def test_ask_answers_on_chinook_with_the_embedded_model():
    result = sqlchat("ask", "--db", CHINOOK, "How many customers are there?", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["error"] is None and data["rows"] == [[59]], data
    assert {"schema", "generate", "execute", "total"} <= set(data["timings"])
