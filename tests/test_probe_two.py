"""Issue 29, items 3-13: what the second adversarial probe got through, each reproduced on the real thing it
concerns (the app through AppTest, SQLite, PostgreSQL, MariaDB, libpq, the HTTP client) and shown closed.

Items 1, 2 and 14 (the access rules) are tested in ``tests/test_access.py``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from sqlchat.config import DEMO_DATABASES, ExecutionConfig
from sqlchat.errors import ConnectionFailed, ExecutionFailed, register_secret
from sqlchat.execution import execute
from sqlchat.models.registry import MODELS
from sqlchat.models.urls import checked_base_url, same_server
from sqlchat.safety import CheckedSQL
from sqlchat.sources.connection import connect
from tests.test_app import (  # noqa: F401 - scripted_model is a fixture
    APP, CHINOOK, connect_demo, last_reply, rendered_text, run_editor_sql, scripted_model,
)
from tests.test_app_shared_server import (  # noqa: F401 - model_servers, private_state are fixtures
    SERVER_KEY, Recorder, ask, connect_url, markdown_texts, model_servers, operator_allows, private_state, start,
    use_server,
)

ROOT = Path(__file__).resolve().parents[1]
CHINOOK_FILE = DEMO_DATABASES[CHINOOK]
UNESCAPED_LINK = re.compile(r"(?<!\\)\]\(")


def run_python(code: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (a crash or a runaway allocation must not take the test run with it)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


# --------------------------------------------------------------------------- 3. the server key and another host


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8702\\@127.0.0.1:8701/v1", "http://127.0.0.1:8702\\\\@127.0.0.1:8701/v1",
    "http://x@127.0.0.1:8701/v1", "http://127.0.0.1:8701@127.0.0.1:8702/v1", "http://127.0.0.1:8701\\/v1",
    "http://127.0.0.1:8701%2F@evil/v1", "http://127。0.0.1:8701/v1",
])
def test_a_model_url_the_http_client_reads_otherwise_is_never_the_same_server(url: str) -> None:
    assert not same_server(url, "http://127.0.0.1:8701/v1")


def test_the_same_server_written_differently_still_is() -> None:
    assert same_server("HTTP://LocalHost:80/v1/", "http://localhost/v1")
    assert checked_base_url("https://gpu-box:8000/v1/") == "https://gpu-box:8000/v1"


def test_the_server_key_never_goes_where_a_backslash_at_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              model_servers: tuple[str, str]) -> None:
    operators, attackers = model_servers
    operator_allows(tmp_path, allow_model_settings=True)
    monkeypatch.setenv("SQLCHAT_BASE_URL", operators)
    monkeypatch.setenv("SQLCHAT_API_KEY", SERVER_KEY)
    at = start()
    op_host = operators.split("//", 1)[1].split("/", 1)[0]
    use_server(at, attackers.replace("/v1", "") + "\\@" + op_host + "/v1")  # urlsplit: operator's; urllib3: attacker's
    ask(at, "Name four genres")
    assert all(r["auth"] != f"Bearer {SERVER_KEY}" for r in Recorder.seen)
    assert SERVER_KEY not in rendered_text(at)


# --------------------------------------------------------------------------- 4. typed PostgreSQL URLs


@pytest.fixture
def fake_postgres() -> Iterator[tuple[int, list]]:
    """A PostgreSQL look-alike that asks for a cleartext password and records what libpq sends."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    seen: list = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            try:
                length = struct.unpack("!I", conn.recv(4))[0]
                body = conn.recv(length - 4)
                if struct.unpack("!I", body[:4])[0] in (80877103, 80877104):  # SSL / GSS encryption request
                    conn.sendall(b"N")
                    length = struct.unpack("!I", conn.recv(4))[0]
                    body = conn.recv(length - 4)
                seen.append(("startup", body))
                conn.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
                if conn.recv(1) == b"p":
                    length = struct.unpack("!I", conn.recv(4))[0]
                    seen.append(("password", conn.recv(length - 4).rstrip(b"\0").decode()))
                error = b'SFATAL\0C28P01\0Mpassword authentication failed for user "x"\0\0'
                conn.sendall(b"E" + struct.pack("!I", len(error) + 4) + error)
            except OSError:
                pass
            finally:
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1], seen
    finally:
        server.close()


@pytest.fixture
def server_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The app's OS user holds PostgreSQL credentials: ~/.pgpass, PGPASSWORD and a PGSERVICE entry."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".pgpass").write_text("*:*:*:*:PgpassSecret1\n")
    (home / ".pgpass").chmod(0o600)
    (home / "services.conf").write_text("[app]\npassword=ServiceSecret3\n")
    monkeypatch.setenv("HOME", str(home))
    return ["PgpassSecret1", "EnvSecret2", "ServiceSecret3"]


@pytest.mark.parametrize("source", ["pgpass", "PGPASSWORD", "PGSERVICE"])
def test_a_typed_postgres_url_gets_none_of_the_servers_own_passwords(
        source: str, server_credentials: list[str], fake_postgres: tuple[int, list],
        monkeypatch: pytest.MonkeyPatch) -> None:
    if source == "PGPASSWORD":
        monkeypatch.setenv("PGPASSWORD", "EnvSecret2")
    if source == "PGSERVICE":
        monkeypatch.setenv("PGSERVICEFILE", str(Path(os.environ["HOME"]) / "services.conf"))
        monkeypatch.setenv("PGSERVICE", "app")
    port, seen = fake_postgres
    at = start()
    connect_url(at, f"postgresql://webuser@127.0.0.1:{port}/anydb")
    assert at.sidebar.error, "the connection must fail"
    assert any(kind == "startup" for kind, _ in seen)  # libpq did reach the server...
    assert not [value for kind, value in seen if kind == "password"]  # ...and sent it no password at all
    assert at.session_state["db"].display_name == "chinook.sqlite"


def test_the_operators_own_connections_still_use_the_servers_credentials(
        server_credentials: list[str], fake_postgres: tuple[int, list]) -> None:
    port, seen = fake_postgres
    with pytest.raises(ConnectionFailed):
        connect(f"postgresql://webuser@127.0.0.1:{port}/anydb", timeout_s=4)  # CLI / named connection: not typed
    assert ("password", "PgpassSecret1") in seen


@pytest.mark.parametrize("url", ["postgresql://", "postgresql:///test", "postgresql://postgres@/test",
                                 "postgresql://127.0.0.1/test"])
def test_a_typed_postgres_url_must_name_a_host_and_a_user(url: str) -> None:
    at = start()
    connect_url(at, url)
    message = at.sidebar.error[0].value
    assert "must name" in message
    assert at.session_state["db"].display_name == "chinook.sqlite"


@pytest.mark.postgres
def test_a_typed_postgres_url_with_its_own_user_still_connects(pg_url: str) -> None:
    with connect(pg_url, timeout_s=5, typed=True) as db:
        result = execute(db, CheckedSQL("SELECT 1 AS one", db.dialect, False), ExecutionConfig(statement_timeout_s=10))
        assert result.frame["one"].tolist() == [1]


# --------------------------------------------------------------------------- 5. a tiny workbook, a huge sheet


def _xlsx(cells: list[tuple[str, str]], dimension: str | None = None) -> bytes:
    sys.path.insert(0, str(Path(__file__).parent))
    from helpers.xlsx import minimal_xlsx

    return minimal_xlsx(cells, dimension)


@pytest.mark.parametrize("cells, dimension", [
    ([("A1", "a"), ("XFD1048576", "b")], "A1:XFD1048576"),  # the probe's 1.6 KB file: SIGABRT, 512 GiB asked
    ([("A1", "a"), ("CV1000000", "b")], None),  # 75 s and 5.8 GB
    ([("A1", "a"), ("B2", "b")], "A1:XFD1048576"),  # a small sheet that declares a huge one
])
def test_a_tiny_workbook_declaring_a_huge_sheet_gets_a_sentence(tmp_path: Path, cells, dimension) -> None:
    path = tmp_path / "huge.xlsx"
    path.write_bytes(_xlsx(cells, dimension))
    assert path.stat().st_size < 2000
    started = time.monotonic()
    done = run_python(f"""
        import resource
        from sqlchat.errors import ConnectionFailed
        from sqlchat.sources.connection import connect_tabular_files
        try:
            connect_tabular_files([("huge.xlsx", open({str(path)!r}, "rb").read())])
            print("LOADED")
        except ConnectionFailed as error:
            print("SENTENCE", error.message)
        # this process's own peak: ru_maxrss keeps the (large) test runner's peak across fork and exec
        print("PEAK_MB", int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) // 1024)
    """, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert time.monotonic() - started < 30
    assert "SENTENCE huge.xlsx has a sheet of" in done.stdout and "at most 1,000,000 cells" in done.stdout
    assert int(done.stdout.split("PEAK_MB")[1]) < 600


def test_an_ordinary_workbook_still_loads() -> None:
    from sqlchat.sources.connection import connect_tabular_files

    with connect_tabular_files([("sales.xlsx", _xlsx([("A1", "region"), ("B1", "amount"), ("A2", "North"),
                                                      ("B2", "10")], "A1:B2"))]) as db:
        result = execute(db, CheckedSQL("SELECT region, amount FROM sales", "sqlite", False), ExecutionConfig())
        assert result.frame.values.tolist() == [["North", 10]]


def test_a_wide_csv_is_read_a_bounded_number_of_cells_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    from sqlchat.sources import tabular
    from sqlchat.sources.connection import connect_tabular_files

    sizes: list[int] = []
    real = pd.read_csv

    def spy(*args, **kwargs):
        if kwargs.get("chunksize"):
            sizes.append(kwargs["chunksize"])
        return real(*args, **kwargs)

    monkeypatch.setattr(tabular.pd, "read_csv", spy)
    header = ",".join(f"c{i}" for i in range(1500))
    rows = "\n".join(",".join(str(i) for _ in range(1500)) for i in range(3))
    with connect_tabular_files([("wide.csv", f"{header}\n{rows}\n".encode())]):
        pass
    assert sizes and max(sizes) * 1500 <= tabular.CSV_CHUNK_CELLS


# --------------------------------------------------------------------------- 6. the audit log is the operator's


def test_a_web_user_sees_only_their_own_entries(tmp_path: Path) -> None:
    (tmp_path / "secrets.toml").write_text(f'[connections.music]\nurl = "sqlite:///{CHINOOK_FILE}"\nlabel = "Music"\n')
    alice = start()
    alice.sidebar.button(key="named:music").click().run()
    run_editor_sql(alice, "SELECT 'alice-private-marker-7781' AS note")
    bob = start()
    bob.sidebar.button(key="named:music").click().run()
    history = rendered_text(bob)
    assert "alice-private-marker-7781" not in history
    done = subprocess.run([sys.executable, "-m", "sqlchat", "audit", "--db", "music", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "alice-private-marker-7781" in done.stdout  # the operator's tool has it all


# --------------------------------------------------------------------------- 7. SQLite work stops at the timeout


@pytest.mark.parametrize("sql", [
    "SELECT length(replace(printf('%.*c', 4000000, 'a'), printf('%.*c', 20000, 'a') || 'b', ''))",
    "SELECT instr(printf('%.*c', 4000000, 'a'), printf('%.*c', 20000, 'a') || 'b')",
    "SELECT length(trim(printf('%.*c', 4000000, 'a'), printf('%.*c', 20000, 'b') || 'a'))",
])
def test_no_sqlite_worker_is_left_busy_after_the_answer(sql: str) -> None:
    with connect(CHINOOK_FILE) as db:
        started = time.monotonic()
        try:
            execute(db, CheckedSQL(sql, "sqlite", False), ExecutionConfig(statement_timeout_s=1.0))
        except ExecutionFailed:
            pass
        answered = time.monotonic() - started
        time.sleep(0.5)
        busy = [t for t in threading.enumerate() if t.name == "sqlchat-query" and t.is_alive()]
        assert answered < 4 and not busy


def test_the_linear_string_functions_answer_as_sqlites_own() -> None:
    sql = ("SELECT replace('abcabc', 'b', 'XY'), replace('abc', '', 'z'), replace(NULL, 'a', 'b'), instr('hello', 'll'),"
           " instr('hello', 'z'), instr(x'010203', x'03'), trim('xxhixx', 'x'), ltrim('aab', 'a'), rtrim('abcc', 'c'),"
           " trim('  a  '), replace(123, 2, 9)")
    with connect(CHINOOK_FILE) as db:
        row = execute(db, CheckedSQL(sql, "sqlite", False), ExecutionConfig()).frame.iloc[0].tolist()
    assert row == ["aXYcaXYc", "abc", None, 3, 0, 3, "hi", "b", "ab", "a", "193"]


# --------------------------------------------------------------------------- 8. wide rows


@pytest.mark.parametrize("depth", [4, 5])
def test_wide_rows_are_stopped_before_they_fill_memory(depth: int) -> None:
    value = "zeroblob(999999)"
    for _ in range(depth):
        value = f"hex({value})"
    done = run_python(f"""
        import resource
        from sqlchat.config import ExecutionConfig
        from sqlchat.errors import ExecutionFailed
        from sqlchat.execution import execute
        from sqlchat.safety import CheckedSQL
        from sqlchat.sources.connection import connect
        db = connect({str(CHINOOK_FILE)!r})
        try:
            execute(db, CheckedSQL("SELECT " + ", ".join([{value!r}] * 30), "sqlite", False), ExecutionConfig())
            print("FETCHED")
        except ExecutionFailed as error:
            print("SENTENCE", error.message)
        # this process's own peak: ru_maxrss keeps the (large) test runner's peak across fork and exec
        print("PEAK_MB", int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) // 1024)
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "SENTENCE The query builds values too big for this server" in done.stdout
    assert int(done.stdout.split("PEAK_MB")[1]) < 700


SERVERS = [pytest.param("pg_url", id="postgres", marks=pytest.mark.postgres),
           pytest.param("mysql_url", id="mariadb", marks=pytest.mark.mariadb)]


@pytest.mark.parametrize("server, value", [
    pytest.param("pg_url", "repeat('x', 4000000)", id="postgres", marks=pytest.mark.postgres),
    pytest.param("pg_url", "''::char(4000000)", id="postgres-padded", marks=pytest.mark.postgres),  # a cast: 0 bytes
    pytest.param("mysql_url", "repeat('x', 4000000)", id="mariadb", marks=pytest.mark.mariadb),
])
def test_a_wide_row_on_a_server_is_refused_before_it_reaches_python(request: pytest.FixtureRequest,
                                                                     server: str, value: str) -> None:
    """30 values of 4 MB: PyMySQL assembled the 120 MB row whole, libpq and psycopg held it twice (+350 MB)."""
    url = request.getfixturevalue(server)
    started = time.monotonic()
    done = run_python(f"""
        from sqlchat.config import ExecutionConfig
        from sqlchat.errors import ExecutionFailed
        from sqlchat.execution import execute
        from sqlchat.safety import CheckedSQL
        from sqlchat.sources.connection import connect

        def peak_mb():  # this process's own peak (ru_maxrss keeps the test runner's across fork and exec)
            return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) // 1024

        db = connect({url!r})
        dialect = db.engine.dialect.name
        execute(db, CheckedSQL("SELECT 1", dialect, False), ExecutionConfig())
        before = peak_mb()
        wide = "SELECT " + ", ".join([{value!r}] * 30) + " LIMIT 1000"
        try:
            execute(db, CheckedSQL(wide, dialect, False), ExecutionConfig())
            print("FETCHED")
        except ExecutionFailed as error:
            print("SENTENCE", error.message)
        print("GREW_MB", peak_mb() - before)
        seven = execute(db, CheckedSQL("SELECT 7 AS seven", dialect, False), ExecutionConfig())
        print("NEXT", seven.frame.values.tolist())
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "SENTENCE The query returns a row larger than the 32 MB result limit, so it was stopped." in done.stdout
    assert int(done.stdout.split("GREW_MB")[1].split()[0]) < 64  # the cap, plus at most one 16 MB MariaDB packet
    assert "NEXT [[7]]" in done.stdout and "Traceback" not in done.stderr
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("server", SERVERS)
def test_rows_past_the_byte_cap_are_never_sent(request: pytest.FixtureRequest, server: str) -> None:
    with connect(request.getfixturevalue(server)) as db:
        numbers = ("generate_series(1, 100) AS s(n)" if db.dialect == "postgres"
                   else "(SELECT seq AS n FROM seq_1_to_100) AS s")
        sql = f"SELECT n, repeat('x', 300000) AS pad FROM {numbers} ORDER BY n DESC LIMIT 100"
        config = ExecutionConfig(max_result_bytes=2_000_000)
        result = execute(db, CheckedSQL(sql, db.engine.dialect.name, False), config)
        assert result.capped and result.cap_note == "the result reached the 2 MB limit, so fetching stopped"
        assert result.frame["n"].tolist() == list(range(100, 100 - len(result.frame), -1)) and len(result.frame) >= 5
        assert execute(db, CheckedSQL("SELECT 7 AS seven", db.engine.dialect.name, False),
                       config).frame.values.tolist() == [[7]]


@pytest.mark.mariadb
def test_a_capped_mariadb_result_is_not_read_to_its_end(mysql_url: str) -> None:
    """PyMySQL read every remaining row to close the cursor: 3 million rows after the first 100 (about 4 s)."""
    with connect(mysql_url) as db:
        started = time.monotonic()
        result = execute(db, CheckedSQL("SELECT seq, md5(seq) FROM seq_1_to_3000000", "mysql", False),
                         ExecutionConfig(max_rows=100))
        assert len(result.frame) == 100 and result.capped
        assert time.monotonic() - started < 1.5


@pytest.mark.postgres
def test_the_size_check_leaves_postgres_results_as_they_were(pg_url: str) -> None:
    sql = ("SELECT g AS a, -g AS a, g::text || '%' AS \"A\", g * 1.5, ARRAY[g] AS arr, NULL AS z, "
           "'\\x00ff'::bytea AS b FROM generate_series(1, 5) AS g ORDER BY g DESC LIMIT 3")
    with connect(pg_url) as db:
        frame = execute(db, CheckedSQL(sql, "postgresql", False), ExecutionConfig()).frame
        assert list(frame.columns) == ["a", "a", "A", "?column?", "arr", "z", "b"]
        assert frame.values.tolist() == [[5, -5, "5%", Decimal("7.5"), [5], None, "0x00ff"],
                                         [4, -4, "4%", Decimal("6.0"), [4], None, "0x00ff"],
                                         [3, -3, "3%", Decimal("4.5"), [3], None, "0x00ff"]]
        # the statement is parsed alone before it is wrapped: text that only means something inside the
        # wrapper's parentheses is refused, and PostgreSQL's nested comments stay comments
        with pytest.raises(ExecutionFailed, match="syntax error"):
            execute(db, CheckedSQL("SELECT 1 AS a\n) AS t(c1)) AS sized, (SELECT 2 AS b", "postgresql", False),
                    ExecutionConfig())
        nested = "SELECT 1 AS y /* /* */ ) AS t0, (SELECT 2 AS x --*/"
        assert execute(db, CheckedSQL(nested, "postgresql", False), ExecutionConfig()).frame.values.tolist() == [[1]]


# --------------------------------------------------------------------------- 9. model settings


def test_model_settings_offer_only_known_models_and_the_operators_paths(tmp_path: Path) -> None:
    (tmp_path / "secrets.toml").write_text('[sqlchat]\nallow_model_settings = true\n'
                                           'model_paths = ["/srv/models/house.gguf"]\n')
    at = start()
    assert not [t for t in at.text_input if t.key in ("model_path", "adapter_path")]  # nothing to type a path into
    models = at.selectbox(key="model_path").options  # as shown: the first is "<default> (default)"
    assert models[1:] == [*MODELS, "/srv/models/house.gguf"] and models[0].endswith("(default)")
    assert len(at.selectbox(key="adapter_path").options) == 2  # the default, or none


# --------------------------------------------------------------------------- 10. redaction as an oracle


@pytest.mark.postgres
def test_masking_never_confirms_a_guessed_password(tmp_path: Path) -> None:
    (tmp_path / "secrets.toml").write_text(
        f'[connections.lite]\nurl = "sqlite:///{CHINOOK_FILE}"\n'
        '[connections.pg]\nurl = "postgresql://postgres:S3cr3tPGpw@127.0.0.1:5432/test"\n')
    at = start()
    at.sidebar.button(key="named:lite").click().run()  # another connection than the one holding the password
    shown = {}
    for guess in ("S3cr3tPGpw", "WrongGuess"):
        run_editor_sql(at, f'SELECT t."guess_hunter2_{guess}_x" FROM (SELECT 1 AS a) AS t')
        shown[guess] = last_reply(at).error[0].value.replace("\\", "")
    assert "guess_hunter2_S3cr3tPGpw_x" in shown["S3cr3tPGpw"], shown
    assert shown["S3cr3tPGpw"].replace("S3cr3tPGpw", "WrongGuess") == shown["WrongGuess"]
    # and on the PostgreSQL connection whose password it is
    from sqlchat.config import Settings
    from sqlchat.pipeline import run_sql

    with connect("postgresql://postgres:S3cr3tPGpw@127.0.0.1:5432/test", timeout_s=5) as db:
        errors = {guess: run_sql(f'SELECT t."guess_hunter2_{guess}_x" FROM (SELECT 1 AS a) AS t', db,
                                 Settings.from_env()).error for guess in ("S3cr3tPGpw", "WrongGuess")}
    assert "guess_hunter2_S3cr3tPGpw_x" in errors["S3cr3tPGpw"], errors
    assert errors["S3cr3tPGpw"].replace("S3cr3tPGpw", "WrongGuess") == errors["WrongGuess"]


def test_a_secret_the_user_did_not_type_is_still_masked() -> None:
    from sqlchat.errors import redact, user_text

    register_secret("OperatorOnly99")
    with user_text("SELECT 1"):
        assert redact("driver said OperatorOnly99") == "driver said ***"
    with user_text("SELECT x_OperatorOnly99"):
        assert redact("no such column: x_OperatorOnly99") == "no such column: x_OperatorOnly99"


# --------------------------------------------------------------------------- 11. a bad option value


@pytest.mark.mariadb
def test_a_bad_connect_timeout_is_a_sentence_not_a_traceback() -> None:
    done = subprocess.run([sys.executable, "-m", "sqlchat", "sql", "--db",
                           "mysql://root@127.0.0.1/x?connect_timeout=abc", "SELECT 1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    assert "connect_timeout" in done.stderr + done.stdout
    with pytest.raises(ConnectionFailed, match="whole number of seconds"):
        connect("postgresql://postgres@127.0.0.1/test?connect_timeout=1e9")


# --------------------------------------------------------------------------- 12/13. Markdown from the user


def test_the_users_question_is_shown_as_text(scripted_model) -> None:
    scripted_model.candidates = ["SELECT Name FROM Genre LIMIT 2"]
    at = connect_demo(start())
    ask(at, "![q](http://evil.example/q.png) [click](http://evil.example/x)")
    texts = markdown_texts(at)
    assert any("evil" in text and "q" in text for text in texts)
    assert not [text for text in texts if UNESCAPED_LINK.search(text)]


def test_a_column_named_like_a_link_is_shown_as_text(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "links.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute('CREATE TABLE sales ("[click](http://evil.example/x)" TEXT, "![i](http://evil.example/i.png)" INT)')
        conn.execute("INSERT INTO sales VALUES ('a', 1), ('b', 2)")
    at = start()
    at.file_uploader(key="uploads").set_value([("links.sqlite", path.read_bytes(), "application/x-sqlite3")]).run()
    run_editor_sql(at, 'SELECT "[click](http://evil.example/x)", sum("![i](http://evil.example/i.png)") FROM sales '
                       'GROUP BY 1 ORDER BY 2 DESC')
    texts = markdown_texts(at)
    assert any("click" in text and "evil" in text for text in texts)
    assert not [text for text in texts if UNESCAPED_LINK.search(text)]
