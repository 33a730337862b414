"""The web app as a user drives it, through Streamlit's AppTest (no browser).

SQL-only flows must not load the model; the tests that ask a question use the
real embedded model and are marked slow, or a scripted backend (fixed SQL) when
they test the app's own logic: history, verified answers, examples.
Every test gets its own history store (``SQLCHAT_HISTORY_URL``), never the user's.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from sqlchat import pipeline
from sqlchat.config import DEMO_DATABASES
from sqlchat.history.examples import VerifiedPair, schema_fingerprint
from sqlchat.history.question_log import LoggedQuestion
from sqlchat.history.store import HistoryStore
from sqlchat.models import backends
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import connect
from tests.test_pipeline import ScriptedBackend

APP = Path(__file__).resolve().parents[1] / "streamlit_app.py"
CHINOOK = "Chinook (music store)"
NORTHWIND = "Northwind (food trading)"


SAVED_NOTE = "Saved as a verified answer: similar questions will use it as an example."


# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def history_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own history store: a fresh SQLite file."""
    path = tmp_path / "history.sqlite"
    monkeypatch.setenv("SQLCHAT_HISTORY_URL", str(path))
    return path


@pytest.fixture
def scripted_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedBackend]:
    """The app's model answers with fixed SQL (set ``candidates``): the app's logic, without a model."""
    backend = ScriptedBackend([])
    monkeypatch.setattr(backends, "load_backend", lambda config: backend)
    st.cache_resource.clear()  # the app shares loaded models across sessions: none from another test
    yield backend
    st.cache_resource.clear()


def verified_pairs(path: Path) -> list[VerifiedPair]:
    with HistoryStore(path) as store:
        return store.verified_for(None)


def logged_questions(path: Path) -> list[LoggedQuestion]:
    with HistoryStore(path) as store:
        return store.recent_questions()


def chinook_fingerprint() -> str:
    db = connect(DEMO_DATABASES[CHINOOK])
    try:
        return schema_fingerprint(reflect_schema(db))
    finally:
        db.close()


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input(key="question").set_value(question).run()
    assert not at.exception
    return at


@pytest.fixture
def model_loads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Records every model load; SQL-only tests assert it stays empty."""
    calls: list[object] = []

    def refuse(config: object) -> None:
        calls.append(config)
        raise AssertionError("the model must not load for this flow")

    monkeypatch.setattr(backends, "load_backend", refuse)
    return calls


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception
    return at


def connect_demo(at: AppTest, name: str = CHINOOK) -> AppTest:
    at.button(key=f"demo:{name}").click().run()
    assert not at.exception
    return at


def run_editor_sql(at: AppTest, sql: str) -> AppTest:
    at.text_area(key="editor_sql").input(sql)
    at.button(key="run_sql").click().run()
    assert not at.exception
    return at


def walk(node: object) -> Iterator[object]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def rendered_text(at: AppTest) -> str:
    """Every element the page sends to the browser, as protobuf text."""
    return "\n".join(str(node.proto) for node in walk(at._tree) if getattr(node, "proto", None) is not None)


def last_reply(at: AppTest):
    """The latest assistant chat message."""
    replies = [m for m in at.chat_message if m.name == "assistant"]
    assert replies, "no assistant reply on the page"
    return replies[-1]


def artist_count() -> int:
    with sqlite3.connect(f"file:{DEMO_DATABASES[CHINOOK]}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT COUNT(*) FROM Artist").fetchone()[0]


# --------------------------------------------------------------------------- connect


def test_a_fresh_session_opens_on_the_chinook_demo(app: AppTest, model_loads: list) -> None:
    assert "chinook" in app.sidebar.success[0].value.lower()
    assert "Artist" in set(app.dataframe[0].value["table"])
    assert not app.chat_input(key="question").disabled
    assert not model_loads


@pytest.mark.parametrize(
    ("demo", "tables"),
    [(CHINOOK, {"Artist", "Album", "Track", "Invoice"}), (NORTHWIND, {"Customers", "Orders", "Products"})],
)
def test_demo_connect_lists_tables_with_row_counts(app: AppTest, model_loads: list, demo: str, tables: set) -> None:
    connect_demo(app, demo)
    overview = app.dataframe[0].value
    assert tables <= set(overview["table"])
    assert (overview["rows"] > 0).any()
    assert not app.chat_input(key="question").disabled
    assert not model_loads


def test_schema_browser_shows_columns_types_and_keys(app: AppTest) -> None:
    connect_demo(app)
    app.selectbox(key="schema_table").select("Album").run()
    columns = app.dataframe[1].value.set_index("column")
    assert columns.loc["AlbumId", "key"] == "PK"
    assert columns.loc["ArtistId", "key"] == "→ Artist"
    assert columns.loc["Title", "type"]


def test_bad_url_is_one_clear_line_and_never_shows_the_password(app: AppTest) -> None:
    app.text_input(key="url_input").input("postgresql://bob:s3cret@127.0.0.1:1/nope")
    app.button(key="connect_url").click().run()
    assert not app.exception
    assert len(app.sidebar.error) == 1
    message = app.sidebar.error[0].value
    assert "\n" not in message and "Traceback" not in message
    assert "s3cret" not in rendered_text(app)
    assert app.session_state["db"].display_name == "chinook.sqlite"  # the open database is kept


def test_csv_upload_becomes_a_table_and_can_be_queried(app: AppTest, model_loads: list) -> None:
    csv = b"region,amount\nNorth,10\nSouth,20.5\nEast,3\n"
    app.file_uploader(key="uploads").set_value([("sales.csv", csv, "text/csv")]).run()
    assert not app.exception
    assert list(app.dataframe[0].value["table"]) == ["sales"]
    assert "sales.csv" in app.sidebar.success[0].value

    run_editor_sql(app, "SELECT region, amount FROM sales ORDER BY amount DESC")
    reply = last_reply(app)
    assert reply.dataframe[0].value["region"].tolist() == ["South", "North", "East"]
    assert reply.get("vega_lite_chart"), "a category-by-number result gets a bar chart"
    assert reply.get("download_button")
    assert not model_loads


def test_mixed_uploads_are_refused_plainly(app: AppTest) -> None:
    files = [("a.csv", b"x\n1\n", "text/csv"), ("b.sql", b"CREATE TABLE t (x INTEGER);", "text/plain")]
    app.file_uploader(key="uploads").set_value(files).run()
    assert not app.exception
    assert "not a mix" in app.sidebar.error[0].value
    assert app.session_state["db"].display_name == "chinook.sqlite"


def test_schema_script_says_it_cannot_run_without_data(app: AppTest, model_loads: list) -> None:
    app.text_area(key="schema_script").input("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, total REAL);")
    app.button(key="connect_script").click().run()
    assert not app.exception
    assert "cannot run without data" in app.warning[0].value

    run_editor_sql(app, "SELECT customer, SUM(total) FROM orders GROUP BY customer")
    reply = last_reply(app)
    assert "GROUP BY customer" in reply.code[0].value  # checked SQL is shown
    assert "cannot run without data" in reply.info[0].value
    assert not reply.dataframe
    assert not model_loads


# --------------------------------------------------------------------------- edit and run SQL


def test_edited_sql_runs_without_loading_the_model(app: AppTest, model_loads: list) -> None:
    connect_demo(app)
    run_editor_sql(app, "SELECT Name FROM Artist LIMIT 3")
    reply = last_reply(app)
    assert reply.code[0].value == "SELECT Name FROM Artist LIMIT 3"
    assert reply.code[0].language == "sql"
    assert len(reply.dataframe[0].value) == 3
    assert reply.caption[0].value.startswith("3 rows")
    assert any("execute" in c.value for c in reply.caption)  # step timings
    assert not model_loads


def test_a_limit_is_added_and_said(app: AppTest) -> None:
    connect_demo(app)
    run_editor_sql(app, "SELECT Name FROM Artist")
    reply = last_reply(app)
    assert "LIMIT" in reply.code[0].value
    assert "LIMIT was added" in reply.caption[0].value


def test_a_column_the_model_misnamed_is_matched_to_the_schema_and_said(
    app: AppTest, scripted_model: ScriptedBackend
) -> None:
    connect_demo(app)
    scripted_model.candidates = ["SELECT COUNT(*) FROM Track WHERE genre_id = 1"]
    ask(app, "How many rock tracks are there?")
    reply = last_reply(app)
    assert "GenreId = 1" in reply.code[0].value
    assert reply.dataframe[0].value.iloc[0, 0] == 1297
    assert "replaced names the database does not have with its own" in reply.caption[0].value


def test_a_value_in_other_letter_case_finds_the_stored_one_and_says_so(
    app: AppTest, scripted_model: ScriptedBackend
) -> None:
    connect_demo(app)
    scripted_model.candidates = ["SELECT COUNT(*) FROM Track AS T JOIN Genre AS G ON T.GenreId = G.GenreId WHERE G.Name = 'rock'"]
    ask(app, "How many rock tracks are there?")
    reply = last_reply(app)
    assert "'Rock'" in reply.code[0].value
    assert reply.dataframe[0].value.iloc[0, 0] == 1297
    assert "spelled a compared value as the data stores it" in reply.caption[0].value


def test_an_empty_first_answer_is_retried_and_said(app: AppTest, scripted_model: ScriptedBackend) -> None:
    connect_demo(app)
    scripted_model.candidates = ["SELECT Name FROM Genre WHERE Name = 'Polka'", "SELECT Name FROM Genre WHERE GenreId = 1"]
    ask(app, "Which genre is number one?")
    reply = last_reply(app)
    assert reply.dataframe[0].value.iloc[0, 0] == "Rock"
    assert "asked for more candidates" in reply.caption[0].value


def test_top_artists_by_tracks_shows_names_counts_and_a_bar_chart(
    app: AppTest, scripted_model: ScriptedBackend
) -> None:
    connect_demo(app)
    # What the embedded model writes for the question: Track joined on the wrong key, ids only.
    scripted_model.candidates = ["SELECT T1.ArtistId FROM Artist AS T1 JOIN Track AS T2 ON T1.ArtistId = T2.AlbumId "
                                 "GROUP BY T1.ArtistId ORDER BY COUNT(*) DESC LIMIT 5"]
    ask(app, "Which 5 artists have the most tracks?")
    reply = last_reply(app)
    assert "JOIN Album" in reply.code[0].value
    table = reply.dataframe[0].value
    assert table["Name"].tolist()[:2] == ["Iron Maiden", "U2"] and table["count"].tolist()[:2] == [213, 135]
    assert reply.get("vega_lite_chart"), "names by a count get a bar chart"
    assert "foreign keys" in reply.caption[0].value and "measure columns were added" in reply.caption[0].value


def test_refused_write_is_plain_and_changes_nothing(app: AppTest, model_loads: list) -> None:
    before = artist_count()
    connect_demo(app)
    run_editor_sql(app, "DELETE FROM Artist")
    reply = last_reply(app)
    assert len(reply.error) == 1
    refusal = reply.error[0].value
    assert "read-only" in refusal.lower() or "only" in refusal.lower()
    assert "Traceback" not in rendered_text(app)
    assert not reply.dataframe
    assert artist_count() == before
    run_editor_sql(app, "SELECT COUNT(*) AS n FROM Artist")
    assert last_reply(app).dataframe[0].value["n"].iloc[0] == before
    assert not model_loads


def test_edit_button_loads_an_answer_into_the_editor(app: AppTest) -> None:
    connect_demo(app)
    run_editor_sql(app, "SELECT Name FROM Genre LIMIT 2")
    app.text_area(key="editor_sql").input("").run()
    app.button(key="edit:0").click().run()
    assert app.text_area(key="editor_sql").value == "SELECT Name FROM Genre LIMIT 2"


def test_unexpected_failure_is_a_sentence_with_redacted_details(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("driver fell over at postgresql://bob:hunter22@db/prod")

    monkeypatch.setattr(pipeline, "run_sql", broken)
    connect_demo(app)
    run_editor_sql(app, "SELECT 1")
    reply = last_reply(app)
    assert reply.error[0].value == "Something went wrong while running your SQL."
    assert reply.expander[0].label == "Details"
    text = rendered_text(app)
    assert "hunter22" not in text and "Traceback" not in text


# --------------------------------------------------------------------------- verified answers and history


def test_thumbs_up_stores_the_models_own_sql_without_the_added_limit(
    app: AppTest, scripted_model: ScriptedBackend, history_file: Path
) -> None:
    scripted_model.candidates = ["SELECT Name FROM Artist"]
    ask(app, "List the artists")
    assert "LIMIT 1000" in last_reply(app).code[0].value  # what ran
    app.button(key="up:0").click().run()
    assert not app.exception
    [pair] = verified_pairs(history_file)
    assert (pair.question, pair.sql, pair.source) == ("List the artists", "SELECT Name FROM Artist", "thumbs_up")
    assert "CREATE TABLE Artist" in pair.context and pair.database_label == "chinook.sqlite"
    assert pair.schema_fingerprint == chinook_fingerprint()
    assert SAVED_NOTE in rendered_text(app)
    assert app.button(key="up:0").disabled  # saved once


def test_similar_verified_answers_are_shown_to_the_model_and_on_the_page(
    app: AppTest, scripted_model: ScriptedBackend, history_file: Path
) -> None:
    with HistoryStore(history_file) as store:
        store.add_verified("How many albums are there?", "SELECT COUNT(*) FROM Album", "", chinook_fingerprint(),
                           "chinook.sqlite", source="import")
        store.add_verified("How many orders?", "SELECT COUNT(*) FROM Orders", "", "another-schema", "x", "import")
    scripted_model.candidates = ["SELECT COUNT(*) FROM Artist"]
    ask(app, "How many artists are there?")
    prompt = scripted_model.prompts[-1]
    assert "Q: How many albums are there?\nSQL: SELECT COUNT(*) FROM Album" in prompt
    assert "Orders" not in prompt  # pairs of another schema are never shown
    [details] = [e for e in last_reply(app).expander if e.label.startswith("Verified examples")]
    assert details.label.endswith("(1)") and details.code[0].value == "SELECT COUNT(*) FROM Album"


def test_an_edited_answer_that_runs_is_saved_as_written(
    app: AppTest, scripted_model: ScriptedBackend, history_file: Path
) -> None:
    scripted_model.candidates = ["SELECT Name FROM Artist"]
    ask(app, "List the artists by name")
    assert app.text_area(key="editor_sql").value.endswith("LIMIT 1000")  # the editor holds what ran
    run_editor_sql(app, "SELECT Name FROM Artist ORDER BY Name")
    assert "LIMIT" in last_reply(app).code[0].value  # the run adds one...
    [pair] = verified_pairs(history_file)
    assert (pair.question, pair.sql, pair.source) == ("List the artists by name", "SELECT Name FROM Artist ORDER BY Name", "edited")
    assert SAVED_NOTE in "\n".join(c.value for c in last_reply(app).caption)
    run_editor_sql(app, "SELECT Name FROM Artist ORDER BY Name")
    assert len(verified_pairs(history_file)) == 1  # the same correction is saved once


def test_a_refused_answer_is_logged_and_only_a_clean_correction_is_saved(
    app: AppTest, scripted_model: ScriptedBackend, history_file: Path
) -> None:
    scripted_model.candidates = ["DELETE FROM Artist"]
    ask(app, "How many artists are there?")
    assert last_reply(app).error
    assert "up:0" not in [button.key for button in app.button]  # nothing to approve
    [entry] = logged_questions(history_file)
    assert (entry.question, entry.status, entry.sql) == ("How many artists are there?", "refused", "DELETE FROM Artist")

    run_editor_sql(app, "DELETE FROM Album")  # refused: not an answer
    run_editor_sql(app, "SELECT nope FROM Artist")  # fails: not an answer
    assert verified_pairs(history_file) == []
    run_editor_sql(app, "SELECT COUNT(*) FROM Artist")
    [pair] = verified_pairs(history_file)
    assert (pair.question, pair.sql, pair.source) == ("How many artists are there?", "SELECT COUNT(*) FROM Artist", "edited")


def test_sql_run_without_a_question_is_never_saved(app: AppTest, history_file: Path, model_loads: list) -> None:
    connect_demo(app)
    run_editor_sql(app, "SELECT Name FROM Artist LIMIT 3")
    app.button(key="edit:0").click().run()
    run_editor_sql(app, "SELECT Name FROM Artist LIMIT 4")
    assert verified_pairs(history_file) == [] and logged_questions(history_file) == []
    assert not model_loads


def test_history_tab_lists_questions_newest_first_and_reruns_them(
    app: AppTest, scripted_model: ScriptedBackend, history_file: Path
) -> None:
    scripted_model.candidates = ["SELECT Name FROM Genre ORDER BY Name LIMIT 3"]
    ask(app, "Name three genres")
    scripted_model.candidates = ["DROP TABLE Genre"]
    ask(app, "Drop the genres ![pixel](http://tracker.example/p.png)")
    history = app.tabs[1]
    assert history.label == "History"
    questions = [m.value for m in history.markdown]
    assert questions.index(next(q for q in questions if "Drop the genres" in q)) < questions.index(
        next(q for q in questions if "Name three genres" in q))
    assert "![pixel](" not in questions[0]  # another user's question shows as typed, never as an image
    assert "refused" in history.caption[0].value and "ok" in history.caption[1].value
    assert history.code[1].value == "SELECT Name FROM Genre ORDER BY Name LIMIT 3"

    ok_entry = next(e for e in logged_questions(history_file) if e.status == "ok")
    app.button(key=f"rerun:{ok_entry.id}").click().run()
    assert not app.exception
    rows = app.tabs[1].dataframe[0].value
    assert rows["Name"].tolist() == ["Alternative", "Alternative & Punk", "Blues"]


def test_history_tab_lists_the_verified_answers_of_this_schema(
    app: AppTest, scripted_model: ScriptedBackend, history_file: Path
) -> None:
    scripted_model.candidates = ["SELECT COUNT(*) FROM Album"]
    ask(app, "How many albums?")
    app.button(key="up:0").click().run()
    table = app.tabs[1].dataframe[-1].value
    assert table[["question", "sql", "source"]].values.tolist() == [["How many albums?", "SELECT COUNT(*) FROM Album", "thumbs_up"]]
    connect_demo(app, NORTHWIND)  # another schema: its own (empty) history
    assert not app.tabs[1].dataframe
    assert "No questions yet" in app.tabs[1].caption[0].value


def test_a_broken_history_store_never_breaks_asking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scripted_model: ScriptedBackend
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("SQLCHAT_HISTORY_URL", str(tmp_path / "a-file" / "history.sqlite"))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "History is unavailable right now: questions are still answered, but not remembered."]
    scripted_model.candidates = ["SELECT COUNT(*) FROM Artist"]
    ask(at, "How many artists?")
    assert last_reply(at).dataframe[0].value.iloc[0, 0] == artist_count()
    assert not at.warning  # told once
    at.button(key="up:0").click().run()
    ask(at, "How many artists are there?")
    assert not at.exception and not at.warning
    assert len([m for m in at.chat_message if m.name == "assistant"]) == 2


# --------------------------------------------------------------------------- model settings


class FakeCompletions(BaseHTTPRequestHandler):
    """A stand-in for vLLM's /v1/completions: one fixed query, and the requests it saw."""

    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeCompletions.seen.append({"auth": self.headers.get("Authorization"), **body})
        choices = [{"text": "SELECT Name FROM Genre ORDER BY Name LIMIT 4;"}] * body.get("n", 1)
        payload = json.dumps({"choices": choices, "usage": {"completion_tokens": 9}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCompletions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeCompletions.seen.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def use_server(at: AppTest, base_url: str, api_key: str = "") -> AppTest:
    at.radio(key="model_backend").set_value("openai").run()
    at.text_input(key="base_url").input(base_url)
    at.text_input(key="served_model").input("sql")
    at.text_input(key="api_key").input(api_key)
    at.number_input(key="candidates").set_value(2)
    return at.run()


def test_sidebar_settings_reach_an_openai_compatible_server(app: AppTest, fake_server: str) -> None:
    use_server(app, fake_server, api_key="sk-topsecret-123")
    app.chat_input(key="question").set_value("Name four genres").run()
    assert not app.exception
    request = FakeCompletions.seen[-1]
    assert (request["model"], request["n"], request["auth"]) == ("sql", 2, "Bearer sk-topsecret-123")
    assert "CREATE TABLE" in request["prompt"] and "Name four genres" in request["prompt"]
    reply = last_reply(app)
    assert reply.code[0].value.startswith("SELECT Name FROM Genre")
    assert len(reply.dataframe[0].value) == 4
    assert any("generate" in c.value for c in reply.caption)
    assert "sk-topsecret-123" not in rendered_text(app)


def test_unreachable_model_server_is_a_plain_sentence(app: AppTest) -> None:
    use_server(app, "http://127.0.0.1:1/v1")
    app.chat_input(key="question").set_value("How many albums?").run()
    assert not app.exception
    reply = last_reply(app)
    assert "could not be reached" in reply.error[0].value
    assert "Traceback" not in rendered_text(app)


# --------------------------------------------------------------------------- ask the real model


@pytest.mark.slow
def test_ask_with_the_embedded_model_shows_sql_result_and_context() -> None:
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    connect_demo(at)
    at.chat_input(key="question").set_value("How many artists are there?").run()
    assert not at.exception
    assert at.chat_message[0].markdown[0].value == "How many artists are there?"
    reply = last_reply(at)
    assert reply.code and reply.code[0].language == "sql"
    sql = reply.code[0].value  # what the model wrote (a small model may write nonsense: then it is refused)
    assert sql.strip()
    assert reply.dataframe or reply.error, "either a result or a plain sentence"
    assert any("generate" in c.value for c in reply.caption)  # step timings
    assert "Traceback" not in rendered_text(at)
    # the schema browser shows exactly what the model saw, and the editor holds the SQL
    assert any("CREATE TABLE" in c.value for c in at.main.expander[0].code)
    assert at.text_area(key="editor_sql").value == sql

    at.chat_input(key="question").set_value("List the names of 5 genres").run()
    assert not at.exception
    assert len([m for m in at.chat_message if m.name == "assistant"]) == 2  # history kept
