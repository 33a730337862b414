"""`sqlchat mcp`: the engine as an MCP server, tested through the SDK's own client.

In process (``mcp.Client`` on the server object) for each tool, the resources and the prompt, with a
scripted model; over stdio as a subprocess (the way a desktop assistant starts it); over streamable
HTTP on loopback with and without the bearer token. The hostile corpus goes through ``run_sql`` on
SQLite, PostgreSQL and MariaDB and is refused with the same counts as ``scripts/security_report.py``;
a hidden column's values appear in no tool's output; every call lands in the audit log under the
client's name. The real embedded model answers once (slow mark).
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Implementation

from sqlchat.config import DEMO_DIR, Settings
from sqlchat.history.store import HistoryStore
from sqlchat.mcp_server import UNKNOWN_CONNECTION, Service, build_server
from tests.helpers.business_db import build_business_db, build_business_sqlite
from tests.test_pipeline import ScriptedBackend

ROOT = Path(__file__).resolve().parents[1]
CHINOOK = DEMO_DIR / "chinook.sqlite"
CLIENT = "test-assistant"
ARTISTS_SQL = ("SELECT ar.Name, COUNT(*) AS tracks FROM Artist ar JOIN Album al ON al.ArtistId = ar.ArtistId "
               "JOIN Track t ON t.AlbumId = al.AlbumId GROUP BY ar.Name ORDER BY tracks DESC LIMIT 5")
TOP_ARTISTS = [["Iron Maiden", 213], ["U2", 135], ["Led Zeppelin", 114], ["Metallica", 112], ["Lost", 92]]
PASSWORD = "hunter2secret"


def _security_report():
    spec = importlib.util.spec_from_file_location("security_report", ROOT / "scripts" / "security_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- set-up


def write_secrets(path: Path, connections: dict[str, dict[str, Any]], flags: dict[str, bool] | None = None) -> Path:
    lines = []
    for name, table in connections.items():
        lines.append(f"[connections.{name}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in table.items())
    if flags:
        lines.append("[sqlchat]")
        lines.extend(f"{key} = {str(value).lower()}" for key, value in flags.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


CHINOOK_RULED = {"url": f"sqlite:///{CHINOOK}", "label": "Chinook (music store)", "description": "A record shop.",
                 "hidden_columns": ["Customer.Email"]}


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "history.sqlite"
    monkeypatch.setenv("SQLCHAT_HISTORY_URL", str(path))
    return path


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, history: Path) -> Path:
    """The operator's file: Chinook with Customer.Email hidden, Northwind without rules; no URLs."""
    path = write_secrets(tmp_path / "secrets.toml", {
        "chinook": CHINOOK_RULED,
        "northwind": {"url": f"sqlite:///{DEMO_DIR / 'northwind.sqlite'}", "label": "Northwind (food trading)"},
    })
    monkeypatch.setenv("SQLCHAT_SECRETS", str(path))
    return path


def make_service(*candidates: str, max_rows: int = 100) -> tuple[Service, ScriptedBackend]:
    backend = ScriptedBackend(list(candidates))
    return Service(Settings.from_env(), backend=backend, max_rows=max_rows), backend


def session(service: Service, calls):
    """Run ``calls(client)`` against ``service`` through the SDK's in-process client; returns what it returns."""
    async def main():
        async with Client(build_server(service), client_info=Implementation(name=CLIENT, version="1.0")) as client:
            return await calls(client)

    try:
        return anyio.run(main)
    finally:
        service.close()


def call(service: Service, tool: str, **arguments):
    return session(service, lambda client: client.call_tool(tool, arguments))


def text_of(result) -> str:
    """Everything a client sees of a tool result: its text blocks and its structured content."""
    texts = [block.text for block in result.content if getattr(block, "text", None) is not None]
    return "\n".join(texts) + "\n" + json.dumps(result.structured_content, ensure_ascii=False, default=str)


def audit_entries(history: Path):
    with HistoryStore(str(history)) as store:
        return sorted(store.audit_entries(), key=lambda entry: entry.id)


# --------------------------------------------------------------------------- each tool, in process


def test_list_connections_gives_names_labels_and_descriptions_never_urls(secrets: Path) -> None:
    service, _ = make_service()
    result = call(service, "list_connections")
    assert not result.is_error
    data = result.structured_content
    assert [c["name"] for c in data["connections"]] == ["chinook", "northwind"]
    assert data["connections"][0] == {"name": "chinook", "label": "Chinook (music store)",
                                      "description": "A record shop."}
    assert data["urls_allowed"] is False
    assert "sqlite" not in text_of(result) and str(DEMO_DIR) not in text_of(result)


def test_the_bundled_demos_are_the_connections_when_the_operator_names_none(history: Path) -> None:
    service, _ = make_service()
    data = call(service, "list_connections").structured_content
    assert [c["name"] for c in data["connections"]] == ["chinook", "northwind"]
    assert data["urls_allowed"] is False
    rows = call(make_service()[0], "run_sql", connection="chinook", sql="SELECT COUNT(*) AS n FROM Artist")
    assert rows.structured_content["rows"] == [[275]] and rows.structured_content["connection"] == "chinook"
    assert [(e.connection, e.user) for e in audit_entries(history)] == [("*", CLIENT), ("chinook", CLIENT)]


def test_describe_gives_the_visible_schema_and_its_foreign_keys(secrets: Path) -> None:
    service, _ = make_service()
    data = call(service, "describe", connection="chinook").structured_content
    assert data["dialect"] == "sqlite" and len(data["tables"]) == 11
    assert data["create_tables"].count("CREATE TABLE") == 11
    assert "CREATE TABLE Artist (ArtistId INTEGER, Name VARCHAR, PRIMARY KEY (ArtistId))" in data["create_tables"]
    assert "Album(ArtistId) -> Artist(ArtistId)" in data["foreign_keys"]
    customer = next(line for line in data["create_tables"].splitlines() if line.startswith("CREATE TABLE Customer "))
    assert "FirstName" in customer and "Email" not in customer

    some = call(make_service()[0], "describe", connection="chinook", tables=["album", "Artist"]).structured_content
    assert some["tables"] == ["Album", "Artist"] and some["foreign_keys"] == ["Album(ArtistId) -> Artist(ArtistId)"]


def test_describe_an_unknown_table_or_connection_is_one_sentence(secrets: Path) -> None:
    unknown = call(make_service()[0], "describe", connection="chinook", tables=["Payroll"])
    assert unknown.is_error and unknown.content[0].text == (
        "There is no table called 'Payroll' on this connection; describe lists its tables.")
    nowhere = call(make_service()[0], "describe", connection="sales")
    assert nowhere.is_error and nowhere.content[0].text == UNKNOWN_CONNECTION


def test_ask_gives_the_whole_answer_as_structured_output(secrets: Path) -> None:
    service, backend = make_service(ARTISTS_SQL)
    result = call(service, "ask", connection="chinook", question="Which 5 artists have the most tracks?")
    assert not result.is_error, result.content
    data = result.structured_content
    assert data["rows"] == TOP_ARTISTS and data["columns"] == ["Name", "tracks"]
    assert data["sql"].startswith("SELECT ar.Name, COUNT(*) AS tracks FROM Artist")
    assert "artist" in data["explanation"].lower()
    assert data["confidence"] in ("high", "medium", "low")
    assert data["error"] is None and data["declined"] is False and data["ran"] is True
    assert isinstance(data["alternatives"], list)
    assert "CREATE TABLE Artist" in backend.prompts[0]


def test_ask_follows_up_on_the_earlier_turns(secrets: Path) -> None:
    service, backend = make_service("SELECT COUNT(*) FROM Invoice WHERE BillingCountry = 'France'")
    earlier = [{"question": "How many invoices went to Germany?",
                "sql": "SELECT COUNT(*) FROM Invoice WHERE BillingCountry = 'Germany'"}]
    data = call(service, "ask", connection="chinook", question="And to France?", earlier=earlier).structured_content
    assert data["rows"] == [[35]]
    assert "How many invoices went to Germany?" in backend.prompts[0]
    assert "BillingCountry = 'Germany'" in backend.prompts[0]


def test_ask_declines_what_the_data_cannot_answer_with_its_reason(secrets: Path) -> None:
    service, _ = make_service("SELECT AVG(Salary) FROM Employee")  # the model reaches for what no table holds
    result = call(service, "ask", connection="chinook", question="What is the average salary of the astronauts?")
    data = result.structured_content
    assert data["declined"] is True and data["error_kind"] == "unanswerable", data["error"]
    assert data["error"] and len(data["error"].splitlines()) == 1
    assert data["rows"] == [] and data["confidence"] is None
    assert not result.is_error  # a decline is an answer, not a failure


def test_run_sql_runs_checked_sql_with_the_row_cap(secrets: Path) -> None:
    service, _ = make_service(max_rows=3)
    data = call(service, "run_sql", connection="chinook", sql="SELECT Name FROM Artist ORDER BY ArtistId").structured_content
    assert data["rows"] == [["AC/DC"], ["Accept"], ["Aerosmith"]]
    assert data["row_count"] == 275 and data["capped"] is True
    assert data["sql"].endswith("LIMIT 1000") and data["explanation"]


def test_run_sql_refuses_a_write_in_one_sentence_and_sends_nothing(secrets: Path) -> None:
    result = call(make_service()[0], "run_sql", connection="chinook", sql="DELETE FROM Artist")
    assert result.is_error
    assert result.content[0].text == "Only read-only SELECT queries can run: this statement would DELETE rows."
    assert result.structured_content["error_kind"] == "refused" and result.structured_content["ran"] is False
    with sqlite3.connect(f"file:{CHINOOK}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT COUNT(*) FROM Artist").fetchone() == (275,)


def test_sample_rows_shows_visible_columns_only(secrets: Path) -> None:
    service, _ = make_service(max_rows=4)
    data = call(service, "sample_rows", connection="chinook", table="customer", n=50).structured_content
    assert len(data["rows"]) == 4 and "Email" not in data["columns"]
    assert data["columns"][:3] == ["CustomerId", "FirstName", "LastName"]
    assert data["sql"].startswith("SELECT CustomerId, FirstName") and data["sql"].endswith("LIMIT 4")
    hidden = call(make_service()[0], "sample_rows", connection="northwind", table="sqlite_master")
    assert hidden.is_error and "no table called 'sqlite_master'" in hidden.content[0].text


def test_the_schema_resources_and_the_prompt_template(secrets: Path) -> None:
    async def calls(client):
        resources = await client.list_resources()
        schema = await client.read_resource("sqlchat://chinook/schema")
        prompts = await client.list_prompts()
        prompt = await client.get_prompt("ask_question", {"question": "Which 5 artists have the most tracks?",
                                                         "connection": "chinook"})
        return resources, schema, prompts, prompt

    resources, schema, prompts, prompt = session(make_service()[0], calls)
    assert [str(r.uri) for r in resources.resources] == ["sqlchat://chinook/schema", "sqlchat://northwind/schema"]
    text = schema.contents[0].text
    assert text.count("CREATE TABLE") == 11 and "Email" not in text.split("CREATE TABLE Customer ")[1].split("\n")[0]
    assert [p.name for p in prompts.prompts] == ["ask_question"]
    message = prompt.messages[0].content.text
    assert "`ask` tool" in message and "`chinook`" in message and "Which 5 artists" in message


def test_every_call_is_audited_with_the_clients_name(secrets: Path, history: Path) -> None:
    async def calls(client):
        await client.call_tool("list_connections", {})
        await client.call_tool("describe", {"connection": "chinook", "tables": ["Artist"]})
        await client.call_tool("ask", {"connection": "chinook", "question": "Which 5 artists have the most tracks?"})
        await client.call_tool("run_sql", {"connection": "chinook", "sql": "DROP TABLE Artist"})
        await client.call_tool("sample_rows", {"connection": "northwind", "table": "Shippers", "n": 2})
        await client.read_resource("sqlchat://northwind/schema")
        await client.call_tool("run_sql", {"connection": "nowhere", "sql": "SELECT 1"})

    session(make_service(ARTISTS_SQL)[0], calls)
    entries = audit_entries(history)
    assert [e.user for e in entries] == [CLIENT] * 7
    assert [(e.connection, e.status) for e in entries] == [
        ("*", "ok"), ("chinook", "ok"), ("chinook", "ok"), ("chinook", "refused"), ("northwind", "ok"),
        ("northwind", "ok"), ("?", "error")]
    assert entries[1].question == "describe Artist"
    assert entries[2].question == "Which 5 artists have the most tracks?" and entries[2].row_count == 5
    assert entries[3].sql == "DROP TABLE Artist" and entries[3].statements == []
    assert entries[4].row_count == 2 and entries[4].statements


def test_arguments_of_the_wrong_type_are_refused_in_one_audited_sentence(secrets: Path, history: Path) -> None:
    result = call(make_service()[0], "sample_rows", connection="chinook", table="Artist", n="many")
    assert result.is_error and result.content[0].text == "The arguments were not valid: n."
    assert [(e.question, e.status, e.user) for e in audit_entries(history)] == [
        ("sample_rows (arguments not valid)", "error", CLIENT)]


# --------------------------------------------------------------------------- connections the operator did not name


def test_urls_and_files_are_refused_unless_the_operator_allows_urls(secrets: Path) -> None:
    for target in (f"sqlite:///{CHINOOK}", str(CHINOOK), f"postgresql://alice:{PASSWORD}@127.0.0.1:1/sales"):
        result = call(make_service()[0], "run_sql", connection=target, sql="SELECT 1")
        assert result.is_error and result.content[0].text == UNKNOWN_CONNECTION


def test_an_allowed_url_fails_in_one_sentence_without_its_password(tmp_path: Path, monkeypatch, history: Path) -> None:
    monkeypatch.setenv("SQLCHAT_SECRETS", str(write_secrets(tmp_path / "s.toml", {}, {"allow_urls": True})))
    result = call(make_service()[0], "run_sql", connection=f"postgresql://alice:{PASSWORD}@127.0.0.1:1/sales",
                  sql="SELECT 1")
    assert result.is_error and len(result.content[0].text.splitlines()) == 1
    assert PASSWORD not in text_of(result)
    assert all(PASSWORD not in json.dumps(e.to_json(), default=str) for e in audit_entries(history))
    # a file on this server still needs allow_sqlite_paths, as in the app
    path = call(make_service()[0], "run_sql", connection=str(CHINOOK), sql="SELECT 1")
    assert path.is_error and "file" in path.content[0].text.lower()


def test_a_named_connections_password_never_reaches_the_client(tmp_path: Path, monkeypatch, history: Path) -> None:
    url = f"postgresql://alice:{PASSWORD}@127.0.0.1:1/sales"
    monkeypatch.setenv("SQLCHAT_SECRETS", str(write_secrets(tmp_path / "s.toml", {"sales": {"url": url}})))

    async def calls(client):
        return [await client.call_tool("list_connections", {}),
                await client.call_tool("describe", {"connection": "sales"}),
                await client.call_tool("run_sql", {"connection": "sales", "sql": "SELECT 1"})]

    results = session(make_service()[0], calls)
    assert results[1].is_error and results[2].is_error
    assert all(PASSWORD not in text_of(result) for result in results)
    assert all(len(result.content[0].text.splitlines()) == 1 for result in results[1:])


# --------------------------------------------------------------------------- hidden columns


def _customer_emails() -> list[str]:
    with sqlite3.connect(f"file:{CHINOOK}?mode=ro", uri=True) as conn:
        return [email for (email,) in conn.execute("SELECT Email FROM Customer")]


HIDDEN_PROBES = [
    "SELECT Email FROM Customer",
    "SELECT * FROM Customer",
    "SELECT c.* FROM Customer c",
    'SELECT "Email" FROM Customer',
    "SELECT [Email] FROM Customer",
    "SELECT upper(Email) FROM Customer",
    "SELECT group_concat(Email) FROM Customer",
    "SELECT (SELECT Email FROM Customer LIMIT 1) AS e",
    "SELECT FirstName FROM Customer WHERE Email LIKE '%@%'",
    "SELECT FirstName FROM Customer ORDER BY Email",
    "WITH c AS (SELECT * FROM Customer) SELECT * FROM c",
    "SELECT x.* FROM (SELECT * FROM Customer) x",
    "SELECT i.InvoiceId, c.Email FROM Invoice i JOIN Customer c USING (CustomerId)",
    "SELECT json_object('e', Email) FROM Customer",
    "SELECT sql FROM sqlite_master",
    "SELECT Email FROM Employee UNION SELECT Email FROM Customer",
]


def test_a_hidden_column_never_appears_in_any_tools_output(secrets: Path, caplog: pytest.LogCaptureFixture) -> None:
    emails = _customer_emails()
    assert len(emails) == 59
    service, backend = make_service(max_rows=1000)
    written = ["SELECT * FROM Customer", "SELECT FirstName, Email FROM Customer",
               "SELECT c.FirstName, c.Email FROM Invoice i JOIN Customer c ON c.CustomerId = i.CustomerId"]

    async def calls(client):
        results = [await client.call_tool("list_connections", {}),
                   await client.call_tool("describe", {"connection": "chinook"}),
                   await client.call_tool("describe", {"connection": "chinook", "tables": ["Customer"]}),
                   await client.call_tool("sample_rows", {"connection": "chinook", "table": "Customer", "n": 100})]
        for sql in HIDDEN_PROBES:
            results.append(await client.call_tool("run_sql", {"connection": "chinook", "sql": sql}))
        for sql in written:  # the model writes a star, the hidden column, the column through a join
            backend.candidates = [sql]
            results.append(await client.call_tool("ask", {"connection": "chinook",
                                                          "question": "List the customers with their email"}))
        resource = await client.read_resource("sqlchat://chinook/schema")
        prompt = await client.get_prompt("ask_question", {"question": "Customers' emails?", "connection": "chinook"})
        texts = [text_of(result) for result in results] + [resource.contents[0].text, prompt.messages[0].content.text]
        return texts, [result.structured_content for result in results]

    outputs, data = session(service, calls)
    everything = "\n".join(outputs + backend.prompts) + caplog.text
    assert [email for email in emails if email in everything] == []
    customer_tables = everything.split("CREATE TABLE Customer (")[1:]
    assert len(customer_tables) >= 4 and all("Email" not in part.split(")")[0] for part in customer_tables)
    sample, star = data[3], data[5]  # sample_rows, and SELECT * FROM Customer: the visible columns
    assert len(sample["rows"]) == 59 and "Email" not in sample["columns"]
    assert star["ran"] and len(star["rows"]) == 59 and "Email" not in star["columns"]
    assert all(result["error_kind"] == "refused" for result in data[4:] if not result["ran"])


# --------------------------------------------------------------------------- the hostile corpus


def _hostile_outcomes(target_url: str, dialect: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Every statement of scripts/security_report.py's corpus through the run_sql tool on ``target_url``."""
    report = _security_report()
    expected = report.check_outcomes(dialect)
    assert expected["ACCEPTED"] == 0  # nothing is sent to a server that the bare check would let through
    monkeypatch.setenv("SQLCHAT_SECRETS", str(write_secrets(tmp_path / f"{dialect}.toml", {"shop": {"url": target_url}})))

    async def calls(client):
        outcome: Counter = Counter()
        for sql in report.HOSTILE_STATEMENTS:
            data = (await client.call_tool("run_sql", {"connection": "shop", "sql": sql})).structured_content
            if data["ran"]:
                outcome["ACCEPTED"] += 1
            elif data["error_kind"] == "refused":
                outcome["refused as unsafe"] += 1
            else:
                outcome["refused as invalid"] += 1
        return outcome

    got = session(make_service()[0], calls)
    assert got == expected, (dialect, got, expected)
    assert sum(got.values()) == len(report.HOSTILE_STATEMENTS) == 324
    return got


def test_hostile_sql_through_run_sql_is_refused_on_sqlite(tmp_path: Path, monkeypatch, history: Path) -> None:
    url = f"sqlite:///{build_business_sqlite(tmp_path / 'shop.sqlite')}"
    got = _hostile_outcomes(url, "sqlite", tmp_path, monkeypatch)
    assert got == Counter({"refused as unsafe": 295, "refused as invalid": 29})  # docs/security.md's figures


@pytest.mark.postgres
def test_hostile_sql_through_run_sql_is_refused_on_postgresql(pg_url: str, tmp_path: Path, monkeypatch,
                                                              history: Path) -> None:
    build_business_db(pg_url)
    got = _hostile_outcomes(pg_url, "postgres", tmp_path, monkeypatch)
    assert got == Counter({"refused as unsafe": 302, "refused as invalid": 22})


@pytest.mark.mariadb
def test_hostile_sql_through_run_sql_is_refused_on_mariadb(mysql_url: str, tmp_path: Path, monkeypatch,
                                                           history: Path) -> None:
    build_business_db(mysql_url)
    got = _hostile_outcomes(mysql_url, "mysql", tmp_path, monkeypatch)
    assert got == Counter({"refused as unsafe": 298, "refused as invalid": 26})


# --------------------------------------------------------------------------- stdio and streamable HTTP


def _environment(secrets: Path, history: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SQLCHAT_")}
    return {**env, "SQLCHAT_SECRETS": str(secrets), "SQLCHAT_HISTORY_URL": str(history), "PYTHONPATH": str(ROOT),
            **extra}


def test_stdio_subprocess_lists_describes_and_runs_sql(secrets: Path, history: Path) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "sqlchat", "mcp"], cwd=str(ROOT),
                                   env=_environment(secrets, history))

    async def main():
        with anyio.fail_after(120):
            return await listing(params)

    async def listing(params):
        async with Client(params, client_info=Implementation(name="stdio-client", version="1")) as client:
            listed = await client.call_tool("list_connections", {})
            described = await client.call_tool("describe", {"connection": "chinook", "tables": ["Artist"]})
            ran = await client.call_tool("run_sql", {"connection": "chinook",
                                                     "sql": "SELECT Name FROM Artist ORDER BY ArtistId LIMIT 3"})
            return listed, described, ran

    listed, described, ran = anyio.run(main)
    assert [c["name"] for c in listed.structured_content["connections"]] == ["chinook", "northwind"]
    assert described.structured_content["create_tables"] == (
        "CREATE TABLE Artist (ArtistId INTEGER, Name VARCHAR, PRIMARY KEY (ArtistId))")
    assert ran.structured_content["rows"] == [["AC/DC"], ["Accept"], ["Aerosmith"]]
    assert [e.user for e in audit_entries(history)] == ["stdio-client"] * 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def http_server(secrets: Path, history: Path):
    """Start ``sqlchat mcp --http`` on a free loopback port (with the given token); stop it afterwards."""
    started: list[subprocess.Popen] = []

    def start(token: str | None = None) -> str:
        port = _free_port()
        env = _environment(secrets, history, **({"SQLCHAT_MCP_TOKEN": token} if token else {}))
        process = subprocess.Popen([sys.executable, "-m", "sqlchat", "mcp", "--http", "--port", str(port)], cwd=ROOT,
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        started.append(process)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the server stopped: {process.stderr.read()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return f"http://127.0.0.1:{port}/mcp"
            except OSError:
                time.sleep(0.2)
        pytest.fail("the server did not start listening")

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _over_http(url: str, headers: dict[str, str] | None = None):
    async def main():
        async with httpx2.AsyncClient(headers=headers or {}, timeout=60) as http:
            transport = streamable_http_client(url, http_client=http)
            async with Client(transport, client_info=Implementation(name="http-client", version="1")) as client:
                listed = await client.call_tool("list_connections", {})
                ran = await client.call_tool("run_sql", {"connection": "chinook", "sql": "SELECT COUNT(*) FROM Album"})
                return listed, ran

    return anyio.run(main)


def test_streamable_http_on_loopback_without_a_token(http_server, history: Path) -> None:
    listed, ran = _over_http(http_server())
    assert [c["name"] for c in listed.structured_content["connections"]] == ["chinook", "northwind"]
    assert ran.structured_content["rows"] == [[347]]
    assert {e.user for e in audit_entries(history)} == {"http-client"}


def test_streamable_http_with_a_token_needs_the_bearer_header(http_server, history: Path) -> None:
    token = "s3cret-mcp-token-for-tests"
    url = http_server(token)
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
        response = httpx2.post(url, json=body, headers={"Accept": "application/json, text/event-stream", **headers})
        assert response.status_code == 401, headers
        assert token not in response.text
    assert audit_entries(history) == []  # nothing refused at the door reached a tool
    listed, ran = _over_http(url, {"Authorization": f"Bearer {token}"})
    assert [c["name"] for c in listed.structured_content["connections"]] == ["chinook", "northwind"]
    assert ran.structured_content["rows"] == [[347]]


def test_http_on_a_public_address_without_a_token_refuses_to_start(secrets: Path, history: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "sqlchat", "mcp", "--http", "--host", "0.0.0.0", "--port",
                             str(_free_port())], cwd=ROOT, env=_environment(secrets, history), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: Refusing to serve MCP on 0.0.0.0 without a token: set SQLCHAT_MCP_TOKEN, "
                                     "or bind to 127.0.0.1.")


# --------------------------------------------------------------------------- the real model


@pytest.mark.slow
def test_ask_with_the_embedded_model_gives_rows_sql_and_explanation(history: Path, monkeypatch) -> None:
    """The issue's "done when": on a fresh set-up (the bundled demos), the question gets rows, SQL and explanation."""
    service = Service(Settings.from_env())
    result = call(service, "ask", connection="chinook", question="Which 5 artists have the most tracks?")
    assert not result.is_error, result.content
    data = result.structured_content
    assert data["error"] is None and data["sql"] and data["explanation"]
    assert len(data["rows"]) == 5 and data["rows"][0][0] == "Iron Maiden", data
