"""The audit log and the CLI with named connections: who asked what, which SQL ran, and never a password."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from sqlchat import cli
from sqlchat.config import DEMO_DATABASES
from sqlchat.errors import ConfigError
from sqlchat.governance.audit import parse_since, user_name
from sqlchat.history.store import HistoryStore
from sqlchat.models import backends
from tests.test_pipeline import ScriptedBackend

CHINOOK = DEMO_DATABASES["Chinook (music store)"]
PASSWORD = "Zx-9audit-pw-4471"  # PostgreSQL's trust auth accepts any password: this one must never show


@pytest.fixture
def operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A secrets file with a ruled Chinook and a PostgreSQL connection whose URL holds a password; a fresh store."""
    path = tmp_path / "secrets.toml"
    path.write_text(f"""
[connections.chinook]
url = "sqlite:///{CHINOOK}"
hidden_columns = ["Customer.Email"]
hidden_tables = ["Employee"]
row_limit = 5

[connections.pg]
dialect = "postgresql"
host = "127.0.0.1"
port = 5432
database = "test"
username = "postgres"
password = "{PASSWORD}"
""", encoding="utf-8")
    monkeypatch.setenv("SQLCHAT_SECRETS", str(path))
    history = tmp_path / "history.sqlite"
    monkeypatch.setenv("SQLCHAT_HISTORY_URL", str(history))
    return history


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_resolves_named_connections_with_their_rules_and_limits(operator: Path, capsys) -> None:
    code, out, _ = run(capsys, "schema", "--db", "chinook")
    assert code == 0 and "CREATE TABLE Customer" in out
    assert "Email" not in out and "Employee" not in out
    code, out, _ = run(capsys, "sql", "--db", "chinook", "SELECT * FROM Customer", "--json")
    data = json.loads(out)
    assert code == 0 and "Email" not in data["columns"] and len(data["rows"]) == 5  # the connection's row_limit
    assert not any("@" in str(v) for row in data["rows"] for v in row)
    code, out, err = run(capsys, "sql", "--db", "chinook", "SELECT Email FROM Customer")
    assert code == 1 and "not available on this connection" in err


def test_cli_questions_and_statements_are_audited_and_exported(operator: Path, capsys, monkeypatch) -> None:
    backend = ScriptedBackend(["SELECT Email FROM Customer", "SELECT COUNT(*) FROM Customer"])
    monkeypatch.setattr(backends, "load_backend", lambda config: backend)
    assert run(capsys, "ask", "--db", "chinook", "--candidates", "2", "How many customers?")[0] == 0
    assert run(capsys, "sql", "--db", "chinook", "SELECT FirstName FROM Customer LIMIT 2")[0] == 0
    assert run(capsys, "sql", "--db", "chinook", "SELECT Email FROM Customer")[0] == 1
    code, out, _ = run(capsys, "audit", "--db", "chinook", "--json")
    entries = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [(e["question"], e["status"], e["row_count"]) for e in entries] == [
        ("How many customers?", "ok", 1), (None, "ok", 2), (None, "refused", None)]
    assert entries[0]["user"] == "anonymous" and entries[0]["connection"] == "chinook"
    assert entries[0]["statements"] == ["SELECT COUNT(*) FROM Customer LIMIT 5"]  # the refused candidate never ran
    assert entries[0]["created_at"].endswith("+00:00")
    assert run(capsys, "audit", "--db", "chinook", "--since", "2999-01-01", "--json")[1] == ""
    assert run(capsys, "audit", "--db", "elsewhere", "--json")[1] == ""
    code, out, _ = run(capsys, "audit")
    assert code == 0 and "How many customers?" in out and "SELECT FirstName FROM Customer LIMIT 2" in out


def test_a_password_in_a_named_connection_never_shows(operator: Path, capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    outputs = []
    for args in (("sql", "--db", "pg", "SELECT current_user AS who", "--json"),
                 ("sql", "--db", "pg", "SELECT * FROM no_such_table_at_all"),
                 ("sql", "--db", "pg", "SELECT pg_sleep(1)"),
                 ("schema", "--db", "pg"),
                 ("audit", "--db", "pg"), ("audit", "--db", "pg", "--json")):
        outputs.append(run(capsys, *args))
    assert json.loads(outputs[0][1])["rows"] == [["postgres"]]  # it really connected
    assert outputs[1][0] == 1 and outputs[2][0] == 1
    text = "\n".join(out + err for _, out, err in outputs) + caplog.text
    assert PASSWORD not in text and "pg" in outputs[4][1]
    dump = "\n".join(sqlite3.connect(operator).iterdump())
    assert PASSWORD not in dump and "AS who" in dump and "no_such_table_at_all" in dump


def test_an_unknown_name_is_tried_as_a_path_and_fails_plainly(operator: Path, capsys) -> None:
    code, _, err = run(capsys, "schema", "--db", "chinok")
    assert code == 2 and "does not exist" in err


def test_the_audit_table_joins_an_existing_store_and_old_rows_stay_readable(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sa.MetaData()
    questions = sa.Table("question_log", old, sa.Column("id", sa.Integer, primary_key=True),
                         sa.Column("question", sa.Text, nullable=False), sa.Column("sql", sa.Text),
                         sa.Column("status", sa.String(16), nullable=False), sa.Column("error", sa.Text),
                         sa.Column("schema_fingerprint", sa.String(64)),
                         sa.Column("created_at", sa.DateTime(timezone=True), nullable=False))
    engine = sa.create_engine(f"sqlite:///{path}")
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(questions.insert().values(question="old one", status="ok", created_at=parse_since("2026-01-02")))
    engine.dispose()
    with HistoryStore(path) as store:
        assert [q.question for q in store.recent_questions()] == ["old one"]
        store.audit("sales", "ann@example.com", "Q?", "SELECT 1", ["SELECT 1"], "ok", 1)
        [entry] = store.audit_entries("sales", since=parse_since("2026-01-01"))
    assert (entry.user, entry.row_count, entry.statements) == ("ann@example.com", 1, ["SELECT 1"])


def test_since_and_user_names() -> None:
    assert parse_since("2026-11-30").isoformat() == "2026-11-30T00:00:00+00:00"
    assert parse_since("2026-11-30T14:00+02:00").hour == 14
    with pytest.raises(ConfigError, match="--since"):
        parse_since("yesterday")
    assert user_name({"is_logged_in": True, "email": "ann@example.com", "name": "Ann"}) == "ann@example.com"
    assert user_name({"is_logged_in": True, "sub": "123"}) == "123"
    assert user_name({}) == "anonymous"
