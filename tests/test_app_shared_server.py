"""The web app is a shared server (issue 18): what one web user can and cannot reach through it.

Driven through Streamlit's AppTest like ``tests/test_app.py``; the operator's flags come from a
secrets file named by ``SQLCHAT_SECRETS``. The model is a local fake HTTP server.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from sqlchat.config import DEMO_DATABASES
from tests.test_app import (  # noqa: F401 - scripted_model is a fixture
    APP, CHINOOK, connect_demo, last_reply, rendered_text, run_editor_sql, scripted_model,
)

SERVER_KEY = "sk-server-Key-4411"


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test's own history store and secrets file; no model server from the environment; no shared models."""
    monkeypatch.setenv("SQLCHAT_HISTORY_URL", str(tmp_path / "history.sqlite"))
    monkeypatch.setenv("SQLCHAT_SECRETS", str(tmp_path / "secrets.toml"))
    for name in ("SQLCHAT_API_KEY", "OPENAI_API_KEY", "SQLCHAT_BASE_URL", "SQLCHAT_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def operator_allows(tmp_path: Path, **flags: bool) -> None:
    lines = ["[sqlchat]"] + [f"{name} = {str(value).lower()}" for name, value in flags.items()]
    (tmp_path / "secrets.toml").write_text("\n".join(lines) + "\n")


def start(at: AppTest | None = None) -> AppTest:
    at = at or AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception
    return at


def connect_url(at: AppTest, url: str) -> AppTest:
    at.text_input(key="url_input").input(url)
    at.button(key="connect_url").click().run()
    assert not at.exception
    return at


class Recorder(BaseHTTPRequestHandler):
    """A model server that records each request (path, Authorization) and answers as set in ``reply``."""

    seen: list[dict] = []
    reply: tuple[int, bytes] = (200, b"")

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Recorder.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        status, payload = Recorder.reply
        if status == 200 and not payload:
            choices = [{"text": "SELECT Name FROM Genre ORDER BY Name LIMIT 4;"}] * body.get("n", 1)
            payload = json.dumps({"choices": choices, "usage": {"completion_tokens": 9}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


def _serve() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


@pytest.fixture
def model_servers() -> Iterator[tuple[str, str]]:
    """Two model servers: the operator's (configured) and an attacker's."""
    Recorder.seen.clear()
    Recorder.reply = (200, b"")
    servers = [_serve(), _serve()]
    try:
        yield servers[0][1], servers[1][1]
    finally:
        for server, _ in servers:
            server.shutdown()
            server.server_close()


def use_server(at: AppTest, base_url: str, api_key: str = "") -> AppTest:
    at.radio(key="model_backend").set_value("openai").run()
    at.text_input(key="base_url").input(base_url)
    at.text_input(key="served_model").input("sql")
    at.text_input(key="api_key").input(api_key)
    return at.run()


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input(key="question").set_value(question).run()
    assert not at.exception
    return at


# --------------------------------------------------------------------------- 2. the server's model key


def test_with_a_server_key_users_cannot_change_the_model(monkeypatch: pytest.MonkeyPatch,
                                                         model_servers: tuple[str, str]) -> None:
    operators, _ = model_servers
    monkeypatch.setenv("SQLCHAT_BACKEND", "openai")
    monkeypatch.setenv("SQLCHAT_BASE_URL", operators)
    monkeypatch.setenv("SQLCHAT_API_KEY", SERVER_KEY)
    at = start()
    assert not [r for r in at.radio if r.key == "model_backend"]
    assert not [t for t in at.text_input if t.key in ("base_url", "api_key", "model_path")]
    ask(at, "Name four genres")
    assert [(r["path"], r["auth"]) for r in Recorder.seen] == [("/v1/completions", f"Bearer {SERVER_KEY}")]


def test_the_server_key_is_never_sent_to_another_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     model_servers: tuple[str, str]) -> None:
    operators, attackers = model_servers
    operator_allows(tmp_path, allow_model_settings=True)
    monkeypatch.setenv("SQLCHAT_BASE_URL", operators)
    monkeypatch.setenv("SQLCHAT_API_KEY", SERVER_KEY)
    at = start()
    use_server(at, attackers)  # API key left blank
    ask(at, "Name four genres")
    assert Recorder.seen and all(r["auth"] is None for r in Recorder.seen)
    assert SERVER_KEY not in rendered_text(at)


def test_a_model_url_with_a_query_is_refused(tmp_path: Path, model_servers: tuple[str, str]) -> None:
    _, attackers = model_servers
    at = start()
    use_server(at, f"{attackers}/steal?x=")
    ask(at, "Name four genres")
    assert not Recorder.seen
    assert "may not have a query" in last_reply(at).error[0].value


def test_a_model_servers_reply_body_is_not_shown(model_servers: tuple[str, str]) -> None:
    _, attackers = model_servers
    Recorder.reply = (500, b"internal page: db_password=Hunter7-internal")
    at = start()
    use_server(at, attackers)
    ask(at, "Name four genres")
    assert "HTTP 500" in last_reply(at).error[0].value
    assert "Hunter7-internal" not in rendered_text(at)


# --------------------------------------------------------------------------- 3. files on the server


@pytest.mark.parametrize("target", ["sqlite:///{history}", "sqlite:////etc/passwd", "sqlite:///{missing}",
                                    "sqlite:///{chinook}"])
def test_server_files_cannot_be_opened_by_url(tmp_path: Path, target: str) -> None:
    history = tmp_path / "history.sqlite"
    sqlite3.connect(history).close()
    url = target.format(history=history, missing=tmp_path / "missing.sqlite", chinook=DEMO_DATABASES[CHINOOK])
    at = start()
    connect_url(at, url)
    assert "does not open database files by path" in at.sidebar.error[0].value
    assert at.session_state["db"].display_name == "chinook.sqlite"  # the demo stays open


def test_the_operator_can_allow_sqlite_paths(tmp_path: Path) -> None:
    operator_allows(tmp_path, allow_sqlite_paths=True)
    at = start()
    connect_url(at, f"sqlite:///{DEMO_DATABASES['Northwind (food trading)']}")
    assert at.session_state["db"].display_name == "northwind.sqlite"


# --------------------------------------------------------------------------- 7. one user's password


def test_one_sessions_password_does_not_mask_another_sessions_text() -> None:
    alice = start()
    connect_url(alice, "mysql://root:Zebra42pw@127.0.0.1:1/test")  # fails: nothing listens on port 1
    assert "Zebra42pw" not in rendered_text(alice)
    bob = start()
    connect_demo(bob, CHINOOK)
    run_editor_sql(bob, "SELECT Zebra42pw FROM Artist")
    assert "Zebra42pw" in last_reply(bob).error[0].value


# --------------------------------------------------------------------------- 9. markdown from data


PHISH = "[Click to re-login](http://attacker.example/phish)"
PIXEL = "![p](http://attacker.example/pixel.png)"


def markdown_texts(at: AppTest) -> list[str]:
    """Every text on the page that Streamlit renders as markdown."""
    texts = [e.value for kind in ("markdown", "caption", "success", "error", "info", "warning")
             for e in getattr(at, kind)]
    return texts + [e.label for e in at.expander]


def test_names_from_the_data_never_render_as_links_or_images(tmp_path: Path) -> None:
    path = tmp_path / "upload.sqlite"
    with sqlite3.connect(path) as conn:
        for name in (PHISH, PIXEL):
            conn.execute(f'CREATE TABLE "{name}" (id INTEGER)')
    at = start()
    at.file_uploader(key="uploads").set_value([(f"{PIXEL}.sqlite", path.read_bytes(), "application/x-sqlite3")]).run()
    assert not at.exception
    run_editor_sql(at, 'SELECT * FROM "![x](http://attacker.example/missing.png)"')  # named in the error
    texts = markdown_texts(at)
    assert any("attacker.example/phish" in text for text in texts)  # the names are shown...
    unescaped_link = re.compile(r"(?<!\\)\]\(")
    assert not [text for text in texts if unescaped_link.search(text)]  # ...as text, never as a link or image


# --------------------------------------------------------------------------- 8. history per database and owner


PHISHING_SQL = "SELECT 'Your session expired: sign in again at http://phish.example' AS notice"


def upload_sales(at: AppTest, rows: bytes) -> AppTest:
    at.file_uploader(key="uploads").set_value([("sales.csv", b"region,amount\n" + rows, "text/csv")]).run()
    assert not at.exception
    return at


def test_one_users_questions_and_answers_stay_theirs(scripted_model) -> None:
    alice = upload_sales(start(), b"North,10\nSouth,20\n")
    scripted_model.candidates = ["SELECT region FROM sales ORDER BY amount DESC LIMIT 1"]
    ask(alice, "Which region has the largest amount of sales?")
    alice.button(key="up:0").click().run()
    alice.button(key="edit:0").click().run()
    run_editor_sql(alice, PHISHING_SQL)  # a "correction" of her own answer: saved as her verified pair
    ask(alice, "Which region sells the most?")
    assert "largest amount" in scripted_model.prompts[-1]  # her own pairs still help her

    bob = upload_sales(start(), b"East,5\nWest,7\n")  # the same columns, other data
    history = "\n".join(m.value for m in bob.tabs[1].markdown) + str(bob.tabs[1].dataframe)
    assert "largest amount" not in history and "phish" not in history
    ask(bob, "Which region sells the most?")
    assert "largest amount" not in scripted_model.prompts[-1] and "phish.example" not in scripted_model.prompts[-1]
    assert "phish.example" not in rendered_text(bob)
