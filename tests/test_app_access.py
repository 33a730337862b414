"""The app with an operator's secrets file: named connections, their rules, the policy flags and the audit log."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sqlchat.config import DEMO_DATABASES
from sqlchat.history.store import HistoryStore
from tests.test_app import APP, ScriptedBackend, ask, last_reply, rendered_text, run_editor_sql, scripted_model  # noqa: F401

CHINOOK = DEMO_DATABASES["Chinook (music store)"]
NORTHWIND = DEMO_DATABASES["Northwind (food trading)"]
CUSTOMER_EMAIL = "luisg@embraer.com.br"  # Customer 1's e-mail in Chinook: hidden by the rule below
SECRETS = f"""
[connections.chinook]
url = "sqlite:///{CHINOOK}"
label = "Chinook (music store)"
description = "A record shop; customer e-mail addresses are hidden."
hidden_columns = ["Customer.Email"]
hidden_tables = ["Employee"]

[connections.northwind]
url = "sqlite:///{NORTHWIND}"
label = "Northwind (food trading)"

[connections.warehouse]
url = "postgresql://reporter:Wh-pass-7731@127.0.0.1:1/warehouse"
label = "Warehouse"
"""


@pytest.fixture(autouse=True)
def history_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "history.sqlite"
    monkeypatch.setenv("SQLCHAT_HISTORY_URL", str(path))
    return path


def operator_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str = "") -> Path:
    path = tmp_path / "secrets.toml"
    path.write_text(SECRETS + policy, encoding="utf-8")
    monkeypatch.setenv("SQLCHAT_SECRETS", str(path))
    return path


def start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str = "") -> AppTest:
    operator_file(tmp_path, monkeypatch, policy)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception
    return at


def test_named_connections_replace_the_demos_and_open_with_their_rules(tmp_path, monkeypatch) -> None:
    at = start(tmp_path, monkeypatch)
    labels = [b.label for b in at.sidebar.button]
    assert labels[:3] == ["Chinook (music store)", "Northwind (food trading)", "Warehouse"]
    assert not any(b.key.startswith("demo:") for b in at.sidebar.button)  # a demo would bypass the rules
    assert at.sidebar.button(key="named:chinook").help == "A record shop; customer e-mail addresses are hidden."
    assert "Chinook (music store)" in at.sidebar.success[0].value
    overview = set(at.dataframe[0].value["table"])
    assert "Customer" in overview and "Employee" not in overview
    at.selectbox(key="schema_table").select("Customer").run()
    columns = at.dataframe[1].value["column"].tolist()
    assert "Email" not in columns and "FirstName" in columns
    assert "sqlite:///" not in rendered_text(at) and str(CHINOOK) not in rendered_text(at)
    assert [t for t in at.sidebar.text_input if t.key == "url_input"]  # ad-hoc URLs stay allowed by default


def test_a_star_shows_no_hidden_column_and_a_hidden_one_is_refused(tmp_path, monkeypatch, history_file) -> None:
    at = start(tmp_path, monkeypatch)
    run_editor_sql(at, "SELECT * FROM Customer ORDER BY CustomerId LIMIT 2")
    frame = last_reply(at).dataframe[0].value
    assert "Email" not in frame.columns and "FirstName" in frame.columns
    run_editor_sql(at, "SELECT c.FirstName FROM Customer c WHERE c.Email LIKE 'luis%'")
    assert "not available on this connection" in last_reply(at).error[0].value
    assert CUSTOMER_EMAIL not in rendered_text(at)
    with HistoryStore(history_file) as store:
        entries = store.audit_entries("chinook")
    assert [(e.user, e.status, e.row_count, e.question) for e in entries] == [
        ("anonymous", "refused", None, None), ("anonymous", "ok", 2, None)]
    assert entries[1].statements == [entries[1].sql] and "Email" not in entries[1].sql


def test_a_question_is_audited_and_the_history_tab_shows_only_the_users_own(
    tmp_path, monkeypatch, history_file, scripted_model: ScriptedBackend
) -> None:
    at = start(tmp_path, monkeypatch)
    scripted_model.candidates = ["SELECT FirstName, Email FROM Customer", "SELECT FirstName FROM Customer LIMIT 3"]
    scripted_model_settings = at.number_input(key="candidates")
    scripted_model_settings.set_value(2).run()
    ask(at, "First names and e-mails of three customers")
    assert "Email" not in scripted_model.prompts[0]
    with HistoryStore(history_file) as store:
        [entry] = store.audit_entries("chinook")
    assert entry.question == "First names and e-mails of three customers" and entry.status == "ok"
    assert entry.row_count == 3 and entry.sql == "SELECT FirstName FROM Customer LIMIT 3"
    # The audit log is the operator's (`sqlchat audit`, issue 29): the History tab lists this user's own questions.
    assert not [frame for frame in at.tabs[1].dataframe if "user" in frame.value.columns]
    assert any(entry.question in m.value.replace("\\", "") for m in at.tabs[1].markdown)
    assert CUSTOMER_EMAIL not in rendered_text(at)


def test_the_operator_can_leave_only_the_named_connections(tmp_path, monkeypatch) -> None:
    at = start(tmp_path, monkeypatch, "\n[sqlchat]\nallow_urls = false\nallow_uploads = false\n")
    assert not [t for t in at.sidebar.text_input if t.key == "url_input"]
    assert not at.sidebar.text_area and not at.sidebar.get("file_uploader")
    assert {b.key for b in at.sidebar.button} >= {"named:chinook", "named:northwind", "named:warehouse"}


def test_a_failing_named_connection_never_shows_its_url_or_password(tmp_path, monkeypatch) -> None:
    at = start(tmp_path, monkeypatch)
    at.sidebar.button(key="named:warehouse").click().run()
    assert not at.exception
    assert "could not" in at.sidebar.error[0].value.lower() or "refused" in at.sidebar.error[0].value.lower()
    page = rendered_text(at)
    assert "Wh-pass-7731" not in page and "reporter" not in page


def test_a_mistake_in_the_operator_file_stops_the_page_with_one_sentence(tmp_path, monkeypatch) -> None:
    at = start(tmp_path, monkeypatch, "\n[sqlchat]\nallow_url = false\n")
    assert "allow_url" in at.error[0].value.replace("\\", "")  # shown as markdown, its specials escaped
    assert not at.sidebar.button and not at.chat_input


def test_with_login_configured_nothing_shows_before_the_user_logs_in(tmp_path, monkeypatch) -> None:
    operator_file(tmp_path, monkeypatch)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.sidebar.button and not at.chat_input and not at.dataframe


def test_the_logged_in_user_is_shown_and_audited(tmp_path, monkeypatch, history_file) -> None:
    operator_file(tmp_path, monkeypatch)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.user = {"is_logged_in": True, "email": "ann@example.com", "name": "Ann"}
    at.run()
    assert not at.exception
    assert "ann@example" in at.sidebar.caption[0].value and at.sidebar.button[0].label == "Log out"
    run_editor_sql(at, "SELECT COUNT(*) FROM Customer")
    with HistoryStore(history_file) as store:
        assert [(e.user, e.connection, e.row_count) for e in store.audit_entries()] == [("ann@example.com", "chinook", 1)]


def test_login_asked_for_in_a_file_streamlit_does_not_read_stops_the_page(tmp_path, monkeypatch) -> None:
    at = start(tmp_path, monkeypatch, '\n[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n')
    assert "Streamlit does not read that file" in at.error[0].value
    assert not at.sidebar.button and not at.chat_input


def test_a_fresh_clone_with_the_example_file_shows_its_named_connections(monkeypatch) -> None:
    root = APP.parent
    monkeypatch.chdir(root)  # the example's sqlite: paths are relative to where the app starts
    monkeypatch.setenv("SQLCHAT_SECRETS", str(root / ".streamlit" / "secrets.example.toml"))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception
    assert [b.key for b in at.sidebar.button][:2] == ["named:chinook", "named:northwind"]
    at.selectbox(key="schema_table").select("Customer").run()
    assert "Email" not in at.dataframe[1].value["column"].tolist()
    at.sidebar.button(key="named:northwind").click().run()
    assert "Northwind (food trading)" in at.sidebar.success[0].value
