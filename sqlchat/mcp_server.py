"""``sqlchat mcp``: the engine as a Model Context Protocol server, for AI assistants and editors.

Desktop assistants, VS Code and Cursor speak MCP. This server gives them sqlchat's guarded database
access, built on the official Python SDK (``mcp``: :class:`mcp.server.MCPServer`):

- tools ``list_connections``, ``describe``, ``ask`` (the whole answer: SQL, rows, explanation,
  confidence, alternatives, or a decline with its reason), ``run_sql`` and ``sample_rows``;
- a resource per connection holding its visible schema (``sqlchat://NAME/schema``) and a prompt
  template, ``ask_question``.

It only calls the engine's public functions, with the same rules as the app: the operator's named
connections (:mod:`sqlchat.governance.deployment`, their access rules travel with the Database),
the bundled demos when the operator names none (as the app's demo buttons), and URLs or files only
when the secrets file says ``[sqlchat] allow_urls = true`` (files also need ``allow_sqlite_paths``).
Every SQL statement goes through :func:`sqlchat.pipeline.run_sql` / :func:`sqlchat.pipeline.ask` (the
parse-tree check, hidden tables and columns, the row cap and the timeout). Every call is written to
the audit log with the MCP client's name (``clientInfo.name``) as the user. Errors are one sentence,
redacted (:func:`sqlchat.errors.redact`).

Transports: stdio (the default; what a desktop assistant starts), or ``--http``: streamable HTTP,
on 127.0.0.1 unless told otherwise. Bound to anything but loopback it refuses to start without
``SQLCHAT_MCP_TOKEN``; with a token set, every request must carry ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import contextvars
import hmac
import ipaddress
import json
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver.resources import FunctionResource
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from sqlchat.config import DEMO_DATABASES, Settings
from sqlchat.errors import ConfigError, SqlchatError, redact, secret_scope
from sqlchat.governance.audit import ANONYMOUS, connection_label, record, record_request
from sqlchat.governance.deployment import Deployment, load_deployment, settings_for
from sqlchat.governance.policy import permitted_examples
from sqlchat.history.examples import schema_fingerprint
from sqlchat.history.store import HistoryStore
from sqlchat.pipeline import Answer, ask, run_sql
from sqlchat.prompt import Turn
from sqlchat.schema.context import render_context
from sqlchat.schema.model import prompt_text, quote_identifier
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import connect
from sqlchat.sources.named import open_named

if TYPE_CHECKING:
    from sqlchat.models.backends import Backend
    from sqlchat.sources.connection import Database

log = logging.getLogger(__name__)

SERVER_NAME = "sqlchat"
DEFAULT_ROWS = 100  # rows a tool returns at most (the engine's own row cap applies first)
DEFAULT_PORT = 8765
HTTP_PATH = "/mcp"
LOOPBACK_NAMES = ("localhost",)
UNKNOWN_CONNECTION = "There is no connection called that here; list_connections names the ones there are."
UNEXPECTED = "Something went wrong on the sqlchat server; its log says what."
INSTRUCTIONS = (
    "sqlchat answers questions about databases in plain English and runs read-only SQL under the operator's rules. "
    "Call list_connections first, then describe (the visible tables) or ask (a question: the SQL, the rows, what the "
    "SQL does and how sure the answer is). run_sql runs your own read-only SELECT; sample_rows shows a few rows of one "
    "table. Hidden tables and columns do not exist here; a refused statement was never sent to the database."
)

# The MCP client's name for the request being handled, set by the server's middleware: the audit log's user.
_client_name: contextvars.ContextVar[str] = contextvars.ContextVar("sqlchat_mcp_client", default=ANONYMOUS)


# --------------------------------------------------------------------------- what the tools return


class ConnectionInfo(BaseModel):
    name: str = Field(description="what the other tools take as `connection`")
    label: str
    description: str = ""


class Connections(BaseModel):
    connections: list[ConnectionInfo]
    urls_allowed: bool = Field(description="whether `connection` may also be a database URL (the operator's choice)")


class Description(BaseModel):
    connection: str
    dialect: str = Field(description="sqlite, postgres, mysql or duckdb")
    tables: list[str]
    create_tables: str = Field(description="the visible tables as CREATE TABLE statements, one a line")
    foreign_keys: list[str] = Field(description="Table(columns) -> Table(columns)")


class Alternative(BaseModel):
    sql: str
    explanation: str | None = None
    columns: list[str]
    rows: list[list[Any]]
    row_count: int


class Result(BaseModel):
    connection: str
    question: str | None = None
    sql: str | None = Field(None, description="the statement sent to the database (checked, LIMIT added)")
    columns: list[str] = []
    rows: list[list[Any]] = []
    row_count: int = Field(0, description="rows the database returned (rows holds at most the server's cap)")
    capped: bool = Field(False, description="more rows existed than are shown")
    explanation: str | None = Field(None, description="what the SQL does, in plain English")
    confidence: str | None = Field(None, description="high, medium or low; none when failed or declined")
    alternatives: list[Alternative] = Field([], description="other answers the candidates gave (\"did you mean\")")
    declined: bool = Field(False, description="the data cannot answer the question; error says why")
    error: str | None = Field(None, description="one sentence; none on success")
    error_kind: str | None = Field(None, description="refused (the safety check or access rules), error, unanswerable")
    ran: bool = Field(False, description="whether any statement was sent to the database")


class EarlierTurn(BaseModel):
    question: str
    sql: str | None = Field(None, description="the SQL that answered it (ask's `sql`, or your own edit)")
    ok: bool = True


# --------------------------------------------------------------------------- the engine behind the tools


@dataclass(frozen=True)
class _Demo:
    name: str
    label: str
    path: Any


def demo_connections() -> dict[str, _Demo]:
    """The bundled demos by short name (``chinook``, ``northwind``): offered when the operator names no connection."""
    return {path.stem: _Demo(path.stem, label, path) for label, path in DEMO_DATABASES.items()}


class Service:
    """What the tools do, with no MCP in it: open connections under their rules, answer, audit."""

    def __init__(self, settings: Settings, deployment: Deployment | None = None, backend: "Backend | None" = None,
                 max_rows: int = DEFAULT_ROWS):
        self.settings = settings
        self.deployment = deployment if deployment is not None else load_deployment(settings.secrets_path)
        self.max_rows = max(1, max_rows)
        self._backend = backend
        self._open: dict[str, tuple["Database", Settings]] = {}
        self._opening = threading.Lock()
        self._model = threading.Lock()  # one generation at a time: a loaded model is not shared between threads
        self._store: HistoryStore | None = None
        self._store_lock = threading.Lock()

    # -- connections

    @property
    def urls_allowed(self) -> bool:
        """Only the named connections, unless the secrets file itself says ``[sqlchat] allow_urls = true``."""
        return "allow_urls" in self.deployment.flags_given and self.deployment.allow_urls

    def connections(self) -> list[ConnectionInfo]:
        if self.deployment.connections:  # the operator's connections replace the demos (which would bypass their rules)
            return [ConnectionInfo(name=name, label=named.title, description=named.description)
                    for name, named in self.deployment.connections.items()]
        return [ConnectionInfo(name=demo.name, label=demo.label, description="A bundled demo database (SQLite).")
                for demo in demo_connections().values()]

    @contextmanager
    def opened(self, connection: str) -> Iterator[tuple["Database", Settings]]:
        """The database ``connection`` names, with its settings; a URL or file only where the operator allows."""
        name = (connection or "").strip()
        known = self._known(name)
        if known is not None:
            db, settings = known
            with secret_scope(db.secrets):
                yield db, settings
            return
        if not name or not self.urls_allowed:
            raise ConfigError(UNKNOWN_CONNECTION)
        db = connect(name, timeout_s=self.settings.execution.statement_timeout_s,
                     allow_paths=self.deployment.allow_sqlite_paths)
        try:
            with secret_scope(db.secrets):
                yield db, self.settings
        finally:
            db.close()

    def _known(self, name: str) -> tuple["Database", Settings] | None:
        """A named connection (or, without any, a demo), opened once and kept; None for anything else."""
        with self._opening:
            if name in self._open:
                return self._open[name]
            named = self.deployment.connections.get(name)
            demo = None if self.deployment.connections else demo_connections().get(name)
            if named is not None:
                settings = settings_for(self.settings, named)
                db = open_named(named, settings.execution.statement_timeout_s)
            elif demo is not None:
                settings = self.settings
                db = connect(demo.path, timeout_s=settings.execution.statement_timeout_s)
                db.display_name = demo.name  # what the client calls it, in results and the audit log
            else:
                return None
            self._open[name] = (db, settings)
            return db, settings

    def label_for(self, connection: str) -> str:
        """How the audit log names ``connection`` before (or without) opening it: a known name, else ``?``."""
        names = {info.name for info in self.connections()}
        return connection if connection in names or connection == "*" else "?"

    def close(self) -> None:
        with self._opening:
            for db, _ in self._open.values():
                db.close()
            self._open.clear()
        with self._store_lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- the audit log

    def store(self) -> HistoryStore:
        with self._store_lock:
            if self._store is None:
                self._store = HistoryStore(self.settings.history_target)
            return self._store

    def audit_answer(self, answer: Answer, db: "Database") -> None:
        try:
            record(self.store(), answer, db, _client_name.get())
        except SqlchatError as error:
            log.warning("not recorded in the audit log: %s", error.message)

    def audit_request(self, connection: str, request: str, error: str | None = None) -> None:
        try:
            record_request(self.store(), connection, _client_name.get(), request, "error" if error else "ok", error)
        except SqlchatError as failure:
            log.warning("not recorded in the audit log: %s", failure.message)

    # -- the tools

    def list_connections(self) -> Connections:
        self.audit_request("*", "list_connections")
        return Connections(connections=self.connections(), urls_allowed=self.urls_allowed)

    def describe(self, connection: str, tables: list[str] | None = None) -> Description:
        with self.opened(connection) as (db, _):
            schema = reflect_schema(db)
            chosen = list(schema.tables)
            if tables:
                chosen = [self._table(schema, name) for name in tables]
            keys = [f"{prompt_text(t.name)}({', '.join(fk.columns)}) -> {prompt_text(fk.ref_table)}"
                    f"({', '.join(fk.ref_columns)})" for t in chosen for fk in t.foreign_keys]
            self.audit_request(connection_label(db), "describe " + (", ".join(t.name for t in chosen) if tables else "all tables"))
            return Description(connection=connection_label(db), dialect=db.dialect, tables=[t.name for t in chosen],
                               create_tables=render_context(chosen, keys=True).replace("; CREATE TABLE", ";\nCREATE TABLE"),
                               foreign_keys=keys)

    def schema_text(self, connection: str) -> str:
        """The ``sqlchat://NAME/schema`` resource: the visible tables as ``CREATE TABLE`` statements."""
        with self.opened(connection) as (db, _):
            self.audit_request(connection_label(db), "read the schema resource")
            return render_context(list(reflect_schema(db)), keys=True).replace("; CREATE TABLE", ";\nCREATE TABLE") + "\n"

    def ask(self, connection: str, question: str, earlier: list[EarlierTurn] | None = None) -> Result:
        from sqlchat.models.backends import load_backend

        with self.opened(connection) as (db, settings):
            turns = [Turn(question=t.question, sql=t.sql, ok=t.ok) for t in earlier or ()]
            with self._model:
                if self._backend is None:
                    self._backend = load_backend(settings.model)
                answer = ask(question, db, self._backend, settings, examples=self._examples(question, db),
                             earlier=turns)
            self.audit_answer(answer, db)
            return self.result(answer, db)

    def run_sql(self, connection: str, sql: str) -> Result:
        with self.opened(connection) as (db, settings):
            answer = run_sql(sql, db, settings)
            self.audit_answer(answer, db)
            return self.result(answer, db)

    def sample_rows(self, connection: str, table: str, n: int = 10) -> Result:
        with self.opened(connection) as (db, settings):
            found = self._table(reflect_schema(db), table)
            columns = ", ".join(quote_identifier(c.name) for c in found.columns)
            limit = min(max(int(n), 1), self.max_rows)
            answer = run_sql(f"SELECT {columns} FROM {quote_identifier(found.name)} LIMIT {limit}", db, settings)
            self.audit_answer(answer, db)
            return self.result(answer, db)

    # -- helpers

    @staticmethod
    def _table(schema, name: str):
        table = schema.get((name or "").strip())
        if table is None:  # a hidden table gets the same words as one that does not exist
            shown = prompt_text(name or "")[:80]
            raise ConfigError(f"There is no table called '{shown}' on this connection; describe lists its tables.")
        return table

    def _examples(self, question: str, db: "Database") -> list[tuple[str, str]] | None:
        """Verified pairs like ``question`` from the history store, as the CLI uses them; those the rules allow."""
        try:
            similar = self.store().similar_examples(question, schema_fingerprint(reflect_schema(db)))
            return permitted_examples(similar, db)
        except SqlchatError as error:
            log.warning("no examples from the history store: %s", error.message)
            return None

    def result(self, answer: Answer, db: "Database") -> Result:
        rows = answer.rows
        return Result(
            connection=connection_label(db),
            question=answer.question,
            sql=answer.sql,
            columns=answer.columns,
            rows=rows[: self.max_rows],
            row_count=len(rows),
            capped=answer.capped or len(rows) > self.max_rows,
            explanation=answer.explanation,
            confidence=answer.confidence,
            alternatives=[Alternative(**{k: v for k, v in a.to_json().items() if k != "candidates"})
                          for a in answer.alternatives],
            declined=answer.error_kind == "unanswerable",
            error=redact(answer.error) if answer.error else None,
            error_kind=answer.error_kind,
            ran=bool(answer.executed),
        )


# --------------------------------------------------------------------------- the MCP server

ConnectionName = Annotated[str, Field(description="a connection's name from list_connections")]


def _tool_result(value: BaseModel, error: str | None = None) -> CallToolResult:
    """Structured content and its JSON as text; a failure is flagged and its text is the one sentence."""
    data = value.model_dump(mode="json")
    if error:
        return CallToolResult(content=[TextContent(type="text", text=error)], structured_content=data, is_error=True)
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(data, ensure_ascii=False, default=str))],
                          structured_content=data)


def _failure(error: Exception) -> str:
    """One sentence for any failure: the engine's own, else a generic one (the details go to the server's log)."""
    if isinstance(error, SqlchatError):
        return redact(error.message)
    log.error("unexpected failure: %s", redact(f"{type(error).__name__}: {error}"))
    return UNEXPECTED


def _failed(service: Service, connection: str, request: str, error: Exception) -> CallToolResult:
    sentence = _failure(error)
    service.audit_request(service.label_for(connection), request, sentence)
    return CallToolResult(content=[TextContent(type="text", text=sentence)], is_error=True)


def _answered(result: Result) -> CallToolResult:
    failed = result.error is not None and not result.declined
    return _tool_result(result, result.error if failed else None)


def _client_of(ctx) -> str:
    """The client's name as its ``clientInfo`` gives it (control characters dropped), else ``anonymous``."""
    params = getattr(ctx.session, "client_params", None)
    name = params.client_info.name if params is not None and params.client_info is not None else ""
    return prompt_text(name).strip()[:100] or ANONYMOUS


def _invalid_arguments(text: str) -> str | None:
    """The SDK's many-line pydantic report on a call's arguments as one sentence naming the fields; None otherwise."""
    first, _, rest = text.partition("\n")
    if "validation error" not in first:
        return None
    fields = [line.strip() for line in rest.splitlines() if line.strip() and not line.startswith(" ")]
    return f"The arguments were not valid: {', '.join(fields) or 'see the tool input schema'}."


def _middleware(service: Service):
    """Per request: the client's name for the audit log; a call refused for its arguments answered in one sentence
    (and audited)."""

    async def per_request(ctx, call_next):
        token = _client_name.set(_client_of(ctx))
        try:
            result = await call_next(ctx)
            if ctx.method == "tools/call" and isinstance(result, dict) and result.get("isError"):
                blocks = result.get("content") or [{}]
                sentence = _invalid_arguments(str(blocks[0].get("text", "")))
                if sentence is not None:
                    tool = str((ctx.params or {}).get("name", "?"))[:50]
                    service.audit_request("?", f"{prompt_text(tool)} (arguments not valid)", sentence)
                    result = {**result, "content": [{"type": "text", "text": sentence}]}
            return result
        finally:
            _client_name.reset(token)

    return per_request


def build_server(service: Service) -> MCPServer:
    """The MCP server: its tools, a schema resource per connection and the ``ask_question`` prompt."""
    server = MCPServer(SERVER_NAME, title="sqlchat", instructions=INSTRUCTIONS, middleware=[_middleware(service)],
                       log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

    @server.tool(annotations=read_only)
    def list_connections() -> Annotated[CallToolResult, Connections]:
        """The databases you can use: each connection's name, label and description (never its URL)."""
        try:
            return _tool_result(service.list_connections())
        except Exception as error:  # noqa: BLE001 - the client gets one sentence
            return _failed(service, "*", "list_connections", error)

    @server.tool(annotations=read_only)
    def describe(connection: ConnectionName,
                 tables: Annotated[list[str] | None, Field(description="only these tables (default: all)")] = None,
                 ) -> Annotated[CallToolResult, Description]:
        """The visible schema of a connection as CREATE TABLE statements, with its foreign keys; `tables` picks some."""
        try:
            return _tool_result(service.describe(connection, tables))
        except Exception as error:  # noqa: BLE001
            return _failed(service, connection, "describe", error)

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False))
    def ask(connection: ConnectionName,
            question: Annotated[str, Field(description="the question, in plain English")],
            earlier: Annotated[list[EarlierTurn] | None, Field(description="a follow-up's earlier turns, oldest first")]
            = None) -> Annotated[CallToolResult, Result]:
        """Answer a question in plain English with sqlchat's own model: the SQL it wrote and ran, the rows, what the
        SQL does, how sure the answer is (high/medium/low), other answers the model found, or why the data cannot
        answer it. For a follow-up ("And to France?") pass the conversation's earlier questions and their SQL in
        `earlier`, oldest first."""
        try:
            return _answered(service.ask(connection, question, earlier))
        except Exception as error:  # noqa: BLE001
            return _failed(service, connection, "ask", error)

    @server.tool(annotations=read_only)
    def run_sql(connection: ConnectionName,
                sql: Annotated[str, Field(description="one read-only SELECT (SQLite spelling is translated)")],
                ) -> Annotated[CallToolResult, Result]:
        """Run one read-only SELECT on a connection, through the same check, access rules, row cap and timeout as
        sqlchat's SQL editor. Anything that could write, or reads what the operator hid, is refused and not sent."""
        try:
            return _answered(service.run_sql(connection, sql))
        except Exception as error:  # noqa: BLE001
            return _failed(service, connection, "run_sql", error)

    @server.tool(annotations=read_only)
    def sample_rows(connection: ConnectionName, table: Annotated[str, Field(description="a table from describe")],
                    n: Annotated[int, Field(description="how many rows (the server caps it)")] = 10,
                    ) -> Annotated[CallToolResult, Result]:
        """A few rows of one table (its visible columns only)."""
        try:
            return _answered(service.sample_rows(connection, table, n))
        except Exception as error:  # noqa: BLE001
            return _failed(service, connection, "sample_rows", error)

    for info in service.connections():
        server.add_resource(FunctionResource.from_function(
            fn=_schema_reader(service, info.name), uri=f"sqlchat://{info.name}/schema", name=f"{info.name}-schema",
            title=f"{info.label}: schema", mime_type="text/plain",
            description=f"The tables of {info.label} you can query, as CREATE TABLE statements with their keys."))

    @server.prompt(title="Ask a question of a database")
    def ask_question(question: str, connection: str = "") -> str:
        """Ask sqlchat a question about one of its databases and show the answer with its SQL."""
        where = f"the `{connection}` connection" if connection else "the right connection (call list_connections)"
        service.audit_request(connection or "*", "prompt ask_question")
        return (f"Use sqlchat's `ask` tool on {where} to answer: {question}\n\n"
                "Show the rows as a table, then the SQL it ran and its explanation, and say how sure sqlchat is "
                "(its confidence). If it declines or refuses, say why in its words; if it offers alternatives, "
                "mention them. Do not guess values the rows do not show.")

    return server


def _schema_reader(service: Service, name: str):
    def read() -> str:
        return service.schema_text(name)

    read.__name__ = f"{name}_schema"
    return read


# --------------------------------------------------------------------------- transports


def is_loopback(host: str) -> bool:
    if host.strip().lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


class BearerToken:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>`` (compared in constant time)."""

    def __init__(self, app, token: str):
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            given = next((value for key, value in scope.get("headers", ()) if key.lower() == b"authorization"), b"")
            if not hmac.compare_digest(given, self.expected):
                body = json.dumps({"error": "This server needs the bearer token (Authorization: Bearer ...)."}).encode()
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def check_binding(host: str, token: str | None) -> None:
    """Anything but loopback needs a token: a ConfigError (one sentence) otherwise."""
    if not is_loopback(host) and not token:
        raise ConfigError(f"Refusing to serve MCP on {prompt_text(host)[:100]} without a token: set SQLCHAT_MCP_TOKEN, "
                          "or bind to 127.0.0.1.")


def http_app(server: MCPServer, host: str, token: str | None):
    """The streamable-HTTP ASGI app at ``/mcp``; refused on a non-loopback address without a token."""
    check_binding(host, token)
    app = server.streamable_http_app(streamable_http_path=HTTP_PATH, host=host)
    return BearerToken(app, token) if token else app


def serve(settings: Settings, *, http: bool = False, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          max_rows: int = DEFAULT_ROWS) -> int:
    """``sqlchat mcp``: serve until the client goes away (stdio) or the process is stopped (HTTP)."""
    from sqlchat.errors import register_secret

    register_secret(settings.mcp_token)
    if http:  # refused before anything is opened
        check_binding(host, settings.mcp_token)
    service = Service(settings, max_rows=max_rows)
    server = build_server(service)
    try:
        if not http:
            server.run("stdio")
            return 0
        import uvicorn

        app = http_app(server, host, settings.mcp_token)
        print(f"sqlchat MCP server on http://{host}:{port}{HTTP_PATH}"
              f"{' (bearer token required)' if settings.mcp_token else ''}", file=sys.stderr, flush=True)
        uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).run()
        return 0
    finally:
        service.close()
