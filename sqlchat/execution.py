"""The second lock: run checked SQL in a session the database itself keeps read-only.

:mod:`sqlchat.safety` already refused anything but one read-only query. This module does
not trust that: every statement runs inside a session that the *database* holds read-only,
with a statement timeout, and at most ``max_rows`` rows are fetched from a server-side
cursor, so a wrong check, a malicious function or a runaway join still cannot change data,
hang the app or fill its memory.

- SQLite: ``PRAGMA query_only``, an authorizer that allows only reads, a cap on the size of
  one value, and a progress handler that aborts the statement at the deadline.
- PostgreSQL: a ``READ ONLY`` transaction with ``SET LOCAL statement_timeout`` and
  ``lock_timeout``; the query runs through a server-side cursor (``DECLARE ... CURSOR``
  accepts only SELECT/VALUES) and the transaction is always rolled back.
- MariaDB/MySQL: ``SET SESSION TRANSACTION READ ONLY`` (which, unlike ``START TRANSACTION
  READ ONLY`` alone, also refuses DDL), ``max_statement_time``/``max_execution_time``, a
  read-only transaction and ROLLBACK; session settings are restored afterwards.

A database's own timeout is not enough: one long function call (``LIKE`` over a huge string)
never reaches the point where SQLite or MariaDB checks it. So the query runs in a worker
thread, and at the deadline this module cancels it itself (``sqlite3`` ``interrupt()``,
PostgreSQL's cancel request, MariaDB ``KILL QUERY``); a moment later it cuts the server
connection's socket, and if the worker is still busy the user is told the query was stopped
anyway (the worker finishes alone and its connection is thrown away). Results are capped in
bytes as well as rows, and binary values are shown as ``0x`` hex text (:func:`binary_text`).
"""

from __future__ import annotations

import contextvars
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa
from sqlglot.dialects.mysql import MySQL
from sqlglot.tokens import TokenType

from sqlchat.config import ExecutionConfig
from sqlchat.errors import ExecutionFailed, SqlchatError, secret_scope, user_text
from sqlchat.governance.access import sqlite_read_guard
from sqlchat.safety import CheckedSQL

if TYPE_CHECKING:
    from sqlchat.sources.connection import Database

__all__ = ["QueryResult", "binary_text", "execute", "is_informative", "read_only_session"]

SQLITE_PROGRESS_STEPS = 1_000  # virtual-machine steps between two deadline checks
SQLITE_MAX_VALUE_BYTES = 16_000_000  # no single string/blob larger: randomblob(1e9) fails fast
# All of SQLite's memory in this process (PRAGMA soft/hard_heap_limit, process-wide): a statement building wide rows
# (30 columns of hex(hex(...(zeroblob(999999))))) fails with "out of memory" here, before the row reaches Python.
# The soft limit makes SQLite give back page cache first, so ordinary work stays far below the hard one.
SQLITE_SOFT_HEAP_BYTES = 64 * 2**20
SQLITE_HARD_HEAP_BYTES = 256 * 2**20
# LIKE/GLOB cost grows with the pattern's length times the text's, inside one step no deadline can stop:
# '%' || printf('%10000d', 2) over a 4 MB string ran 30 s. A pattern is at most this long.
SQLITE_MAX_LIKE_PATTERN = 100
CANCEL_GRACE_S = 1.0  # after the deadline's cancel, how long before the connection is cut, and again before giving up
FETCH_BATCH_ROWS = 64  # rows per fetch: wide rows must not arrive a thousand at a time
PROTOCOL_SLACK_BYTES = 1_000_000  # what MariaDB sends besides the values (column descriptions, packet headers)
_PG_TIMEOUT_CODES = frozenset({"57014", "55P03"})  # query_canceled, lock_not_available
_PG_READ_ONLY_CODE = "25006"  # read_only_sql_transaction
_MYSQL_TIMEOUT_CODES = frozenset({1969, 3024, 1317})  # MariaDB, MySQL, interrupted
_MYSQL_READ_ONLY_CODE = 1792
_SQLITE_ALLOWED_ACTIONS = frozenset(
    getattr(sqlite3, name)
    for name in ("SQLITE_SELECT", "SQLITE_READ", "SQLITE_FUNCTION", "SQLITE_RECURSIVE")
    if hasattr(sqlite3, name)
)
_SQLITE_DENIED_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"})


@dataclass
class QueryResult:
    """What a query returned: at most ``max_rows`` rows, and whether more existed."""

    frame: pd.DataFrame
    capped: bool  # more rows existed than max_rows, or the result reached max_result_bytes
    seconds: float
    cap_note: str | None = None  # what was cut, in words (the size cap, or values cut to max_cell_bytes)


def is_informative(rows: Iterable[Sequence[Any]]) -> bool:
    """Whether a result says something: some value that is not NULL (or NaN), 0 or ''.

    No rows, ``COUNT(*) = 0`` or ``MAX(x) IS NULL`` is also what a wrong filter returns, so
    execution-guided choice prefers a candidate whose result is informative.
    """
    return any(not _blank(value) for row in rows for value in row)


def _blank(value: Any) -> bool:
    if value is None or (isinstance(value, float) and value != value):
        return True
    try:
        return bool(value == 0 or value == "")
    except (TypeError, ValueError):
        return False


class _Deadline:
    """A wall-clock limit that also remembers whether it was hit (to word the error)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds
        self.hit = False

    def passed(self) -> bool:
        self.hit = self.hit or time.monotonic() >= self.ends_at
        return self.hit


def execute(db: Database, checked: CheckedSQL, config: ExecutionConfig) -> QueryResult:
    """Run ``checked`` on ``db`` read-only, with a timeout and row and byte caps; raise ExecutionFailed."""
    if not getattr(db, "executable", True):
        raise ExecutionFailed(
            "This database was built from a CREATE TABLE script, so it has tables but no data: "
            "the query was checked but cannot be run."
        )
    with secret_scope(getattr(db, "secrets", ())), user_text(checked.sql):  # this connection's password only
        if db.engine.dialect.name in ("mysql", "mariadb"):
            _refuse_mysql_file_writes(checked.sql)
        started = time.perf_counter()
        deadline = _Deadline(config.statement_timeout_s)
        run = _Run(db, checked.sql, config, deadline)
        try:
            fetched = run.wait()
        except SqlchatError:
            raise
        except Exception as exc:  # the driver's own exception types differ per database
            raise _explain(exc, config, deadline) from exc
        columns, rows, capped, note = fetched
        frame = pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
        return QueryResult(frame=frame, capped=capped, seconds=time.perf_counter() - started, cap_note=note)


_Fetched = tuple[list[str], list[tuple], bool, "str | None"]


class _Run:
    """One query in a worker thread, and the ways to stop it at the deadline whatever the database does."""

    def __init__(self, db: Database, sql: str, config: ExecutionConfig, deadline: _Deadline):
        self.db, self.sql, self.config, self.deadline = db, sql, config, deadline
        self.done = threading.Event()
        self.result: _Fetched | None = None
        self.error: BaseException | None = None
        self.stoppers: list[Callable[[], object]] = []  # [cancel the statement, cut the connection]
        worker = threading.Thread(target=contextvars.copy_context().run, args=(self._work,), daemon=True,
                                  name="sqlchat-query")
        worker.start()

    def _work(self) -> None:
        try:
            with self.db.engine.connect() as conn:
                self.stoppers = _stoppers(self.db, conn)
                with (read_only_session(conn, self.config, self.deadline),
                      sqlite_read_guard(conn, self.db, _sqlite_authorizer)):
                    self.result = _fetch(conn, self.sql, self.config)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            self.error = exc
        finally:
            self.done.set()

    def wait(self) -> _Fetched:
        """The result; at the deadline cancel the statement, then cut the connection, then stop waiting."""
        if not self.done.wait(self.deadline.seconds):
            self.deadline.hit = True
            for stop in self.stoppers:
                _quietly(stop)
                if self.done.wait(CANCEL_GRACE_S):
                    break
            else:
                if not self.done.wait(0 if self.stoppers else CANCEL_GRACE_S):
                    # The worker finishes alone; a cut connection is discarded by the pool then.
                    raise ExecutionFailed(
                        f"The query took longer than {self.config.statement_timeout_s:g} s and was stopped.",
                        detail="The database did not stop it at once, so sqlchat stopped waiting for it.",
                    )
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception:  # noqa: BLE001 - a failed cancel leaves the next step (or giving up) to do the job
        pass


def _stoppers(db: Database, conn: sa.Connection) -> list[Callable[[], object]]:
    """How to stop this connection's statement: the database's own cancel, then cutting its socket."""
    raw = conn.connection.driver_connection
    name = conn.dialect.name
    if name == "sqlite":
        return [raw.interrupt]
    if name == "postgresql":
        cancel = getattr(raw, "cancel_safe", None) or raw.cancel
        return [cancel, lambda: _shut_socket(raw.pgconn.socket)]
    if name in ("mysql", "mariadb"):
        thread_id = int(raw.thread_id())

        def kill(what: str) -> None:
            with db.engine.connect() as other:
                other.exec_driver_sql(f"KILL {what} {thread_id}")

        return [lambda: kill("QUERY"), lambda: (_shut_socket(raw._sock.fileno()), kill("CONNECTION"))]
    interrupt = getattr(raw, "interrupt", None)
    return [interrupt] if interrupt is not None else []


def _shut_socket(fd: int) -> None:
    """Shut a driver's socket down (not close it): the blocked read returns an error, no file number is reused."""
    sock = socket.socket(fileno=os.dup(fd))
    try:
        sock.shutdown(socket.SHUT_RDWR)
    finally:
        sock.close()


def _fetch(conn: sa.Connection, sql: str, config: ExecutionConfig) -> _Fetched:
    """Stream rows until ``max_rows`` or ``max_result_bytes``, so a huge result never lands in memory.

    A driver holds a whole row before Python sees any of it, so counting fetched rows alone let one row of
    30 huge values through (issue 29, item 8). The byte cap therefore also holds before the bytes arrive:
    PostgreSQL sends no values past it (:func:`_postgres_sized`) and PyMySQL reads no bytes past it
    (:class:`_ReadBudget`); SQLite's values are bounded by its length and heap limits.
    """
    kept = _Kept(config, _postgres_columns(conn, sql))
    if kept.columns:
        sql = _postgres_sized(sql, len(kept.columns), config.max_result_bytes)
    with _read_budget(conn, config.max_result_bytes + PROTOCOL_SLACK_BYTES) as budget:
        try:
            _stream(conn, sql, kept, budget)
        except sa.exc.DBAPIError:
            if not (budget and budget.spent):
                raise
            kept.full()  # PyMySQL lost the connection because the budget would not read on
        except _ResultTooLarge:
            kept.full()
    return kept.columns, kept.rows, kept.capped, kept.note()


def _stream(conn: sa.Connection, sql: str, kept: _Kept, budget: _ReadBudget | None) -> None:
    """Run ``sql`` on a streaming cursor and keep its rows until the end or a cap."""
    sized = bool(kept.columns)  # a statement of :func:`_postgres_sized`, its running size last in each row
    batch_rows = 1 if budget else FETCH_BATCH_ROWS  # a refused read loses the rows of its batch
    options = {"stream_results": True, "max_row_buffer": batch_rows, "no_parameters": True}
    result = conn.execution_options(**options).exec_driver_sql(sql)
    try:
        if not result.returns_rows:
            return
        kept.columns = kept.columns or [str(c) for c in result.keys()]
        while not kept.capped and (batch := result.fetchmany(batch_rows)):
            for raw_row in batch:
                if not kept.add(_without_total(raw_row, kept.config.max_result_bytes) if sized else raw_row):
                    break
    finally:
        if budget and budget.abandon():
            conn.invalidate()  # the server is still sending the rest: this connection is done
        result.close()


class _ResultTooLarge(Exception):
    """The result passed ``max_result_bytes`` before its bytes reached Python (:func:`_fetch`)."""


class _Kept:
    """The rows kept so far within ``max_rows`` and ``max_result_bytes``, and what was cut, for the note."""

    def __init__(self, config: ExecutionConfig, columns: list[str]):
        self.config, self.columns = config, columns
        self.rows: list[tuple] = []
        self.size = self.cut_values = 0
        self.capped = self.reached_bytes = False

    def add(self, raw_row: Sequence[Any]) -> bool:
        """Keep one row (binary values as hex, long values cut); False, and capped, when a cap stops the fetch."""
        if len(self.rows) == self.config.max_rows:
            self.capped = True
            return False
        row, cut = _bounded_row(raw_row, self.config.max_cell_bytes)
        row_size = sum(_value_size(value) for value in row)
        if self.rows and self.size + row_size > self.config.max_result_bytes:
            self.full()
            return False
        self.rows.append(row)
        self.size += row_size
        self.cut_values += cut
        return True

    def full(self) -> None:
        """The result reached ``max_result_bytes``: keep the rows so far, or refuse a first row that large."""
        if not self.rows:
            raise ExecutionFailed(f"The query returns a row larger than the {_megabytes(self.config.max_result_bytes)}"
                                  " result limit, so it was stopped.")
        self.capped = self.reached_bytes = True

    def note(self) -> str | None:
        notes = []
        if self.reached_bytes:
            limit = _megabytes(self.config.max_result_bytes)
            notes.append(f"the result reached the {limit} limit, so fetching stopped")
        if self.cut_values:
            many = self.cut_values > 1
            notes.append(f"{self.cut_values} value{'s' if many else ''} longer than "
                         f"{_megabytes(self.config.max_cell_bytes)} {'were' if many else 'was'} cut")
        return "; ".join(notes) or None


def _postgres_columns(conn: sa.Connection, sql: str) -> list[str]:
    """The statement's column names as PostgreSQL parses it alone (DECLARE and describe: no row is computed).

    Empty for other databases and drivers. That parse is also what makes :func:`_postgres_sized` safe: text
    PostgreSQL reads as one complete query has balanced parentheses, so inside ``( ... )`` it is that same
    query and no more, whatever a comment or a quote in it does.
    """
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        return []
    with conn.connection.driver_connection.cursor(name="sqlchat_columns") as cursor:
        cursor.execute(sql)
        return [column.name for column in cursor.description or ()]


def _postgres_sized(sql: str, count: int, limit: int) -> str:
    """``sql`` with a last column, the running size of its rows as sent, and no values once it passes ``limit``.

    The server measures each value as the text it sends and sums the rows in order before sending one, so at
    most ``limit`` bytes of values leave it; past that rows arrive as NULLs, and the fetch stops at the first.
    ``format('%s', v)`` is the type's output function, what the server sends; a cast to text is not always
    (``char(n)`` loses its padding: ``''::char(10000000)`` measured 0 bytes). Columns are renamed by position, so
    duplicate names work; PostgreSQL never flattens a subquery with ORDER BY or LIMIT, so rows keep its order.
    """
    numbers = range(1, count + 1)
    size = " + ".join(f"octet_length(format('%s', t.c{i}))::bigint" for i in numbers)
    values = ", ".join(f"CASE WHEN sized.sqlchat_total <= {int(limit)} THEN sized.c{i} END" for i in numbers)
    total = f"(sum({size}) OVER (ROWS UNBOUNDED PRECEDING))::bigint AS sqlchat_total"
    return (f"SELECT {values}, sized.sqlchat_total FROM (SELECT t.*, {total} "
            f"FROM (\n{sql}\n) AS t({', '.join(f'c{i}' for i in numbers)})) AS sized")


def _without_total(row: Sequence[Any], limit: int) -> Sequence[Any]:
    """A row of :func:`_postgres_sized` without its running size; past ``limit``, the fetch stops."""
    *values, total = row
    if total > limit:
        raise _ResultTooLarge
    return values


class _ReadBudget:
    """PyMySQL's socket reader, refusing to read past ``limit`` bytes.

    PyMySQL reads every 16 MB packet of a row before it returns any of it, and MariaDB lets a session send rows
    of many values each up to ``max_allowed_packet`` (which a session cannot lower). This reader counts before it
    reads: past the limit it reads nothing, so PyMySQL reports a lost connection and closes it (as when the
    deadline cuts it), the pool discards it, and the server's statement ends at its next write.
    """

    def __init__(self, connection: Any, limit: int):
        self.connection, self.reader, self.left, self.spent = connection, connection._rfile, limit, False

    def read(self, size: int) -> bytes:
        if size > self.left:
            self.spent = True
            self.abandon()
            return b""
        self.left -= size
        return self.reader.read(size)

    def close(self) -> None:
        self.reader.close()

    def abandon(self) -> bool:
        """Read nothing more; True when rows were left unsent, so the connection must be discarded.

        To close a cursor PyMySQL reads the rest of its result, every row of it (whole, one at a time): a fetch
        stopped by a cap would wait for, and hold, what it stopped to avoid.
        """
        result = getattr(self.connection, "_result", None)
        if result is None or not getattr(result, "unbuffered_active", False):
            return False
        result.unbuffered_active = False
        self.left = 0
        return True


@contextmanager
def _read_budget(conn: sa.Connection, limit: int) -> Iterator[_ReadBudget | None]:
    """Let PyMySQL read at most ``limit`` bytes for this statement (None for other drivers and databases)."""
    raw = conn.connection.driver_connection
    if conn.dialect.name not in ("mysql", "mariadb") or getattr(raw, "_rfile", None) is None:
        yield None
        return
    budget = raw._rfile = _ReadBudget(raw, limit)
    try:
        yield budget
    finally:
        if raw._rfile is budget:  # when spent, PyMySQL has closed the connection and dropped the reader
            raw._rfile = budget.reader


def binary_text(value: bytes | bytearray | memoryview) -> str:
    """How a binary value is shown everywhere (app, CSV, JSON): ``0x`` and lowercase hex."""
    return "0x" + bytes(value).hex()


def _bounded_row(row: Sequence[Any], max_bytes: int) -> tuple[tuple, int]:
    """The row with binary values as hex text and every value cut to ``max_bytes``; and how many were cut."""
    values, cut = [], 0
    for value in row:
        if isinstance(value, (bytes, bytearray, memoryview)):
            whole = len(value) * 2 + 2 <= max_bytes
            value = binary_text(value if whole else bytes(value[: max(0, (max_bytes - 2) // 2)])) + ("" if whole else "…")
            cut += not whole
        elif isinstance(value, str) and len(value) > max_bytes:
            value, cut = value[:max_bytes] + "…", cut + 1
        values.append(value)
    return tuple(values), cut


def _value_size(value: Any) -> int:
    return len(value) if isinstance(value, str) else 16


def _megabytes(n: int) -> str:
    return f"{n / 1_000_000:g} MB"


def _refuse_mysql_file_writes(sql: str) -> None:
    """Refuse ``INTO`` and ``/*! */`` comments before they reach MySQL/MariaDB.

    A read-only session does not stop ``SELECT ... INTO OUTFILE`` for a user with the FILE
    privilege, and MySQL executes the text of ``/*! ... */`` comments. This looks at
    sqlglot's MySQL tokens, not at the parse tree the safety check judged.
    """
    try:
        tokens = MySQL().tokenize(sql)
    except Exception as exc:
        raise ExecutionFailed("The query could not be read, so it was not run.", detail=str(exc)) from exc
    if not tokens:
        raise ExecutionFailed("The query was not run: it is empty or only a comment.")
    for token in tokens:
        if token.token_type == TokenType.INTO or any(c.lstrip().startswith(("!", "+")) for c in token.comments):
            raise ExecutionFailed(
                "The query was not run: it could write files or variables (SELECT ... INTO, executable comments)."
            )


# -- read-only sessions --------------------------------------------------------------


@contextmanager
def read_only_session(conn: sa.Connection, config: ExecutionConfig, deadline: _Deadline | None = None) -> Iterator[None]:
    """Make ``conn`` read-only with a statement timeout for the block, then roll back.

    Public so tests can prove the database refuses writes without the safety check.
    """
    deadline = deadline or _Deadline(config.statement_timeout_s)
    name = conn.dialect.name
    if name == "sqlite":
        session = _sqlite_session
    elif name == "postgresql":
        session = _postgres_session
    elif name in ("mysql", "mariadb"):
        session = _mysql_session
    else:
        session = _generic_session
    with session(conn, deadline):
        yield


_heap_limited = False


def _limit_sqlite_heap(raw: sqlite3.Connection) -> None:
    """Set SQLite's process-wide heap limits once (PRAGMA hard_heap_limit only ever lowers it)."""
    global _heap_limited
    if not _heap_limited:
        raw.execute(f"PRAGMA soft_heap_limit = {SQLITE_SOFT_HEAP_BYTES}")
        raw.execute(f"PRAGMA hard_heap_limit = {SQLITE_HARD_HEAP_BYTES}")
        _heap_limited = True


# SQLite's instr(), replace() and trim(X, Y) compare every position of X with all of Y: one call over a 16 MB text
# is a single virtual-machine step that runs for minutes, which neither the progress handler nor interrupt() can
# stop (instr(printf('%.*c', 60000000, 'a'), printf('%.*c', 100000, 'a') || 'b') kept a core busy 16 s past the
# timeout). On a query's connection they are replaced by these, which take time linear in their arguments (Python's
# string search), so no single step outlasts the deadline by more than a moment.
def _text_arg(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float):
        return repr(value) if value != int(value) or abs(value) >= 1e15 else f"{value:.1f}"
    return str(value)


def _sql_instr(haystack: Any, needle: Any) -> int | None:
    if haystack is None or needle is None:
        return None
    if isinstance(haystack, bytes) and isinstance(needle, bytes):
        return haystack.find(needle) + 1
    return _text_arg(haystack).find(_text_arg(needle)) + 1


def _sql_replace(text: Any, old: Any, new: Any) -> Any:
    if text is None or old is None or new is None:
        return None
    x, y, z = _text_arg(text), _text_arg(old), _text_arg(new)
    if y == "":
        return text
    grows = len(z.encode("utf-8")) - len(y.encode("utf-8"))
    if grows > 0 and len(x.encode("utf-8")) + x.count(y) * grows > SQLITE_MAX_VALUE_BYTES:
        raise ValueError("string or blob too big")  # what SQLite's own replace() says; nothing is built
    return x.replace(y, z)


def _trimmer(strip: str) -> Callable[[Any, Any], Any]:
    def trim(text: Any, chars: Any) -> Any:
        if text is None or chars is None:
            return None
        if isinstance(text, bytes):
            table = bytes(sorted(set(chars if isinstance(chars, bytes) else _text_arg(chars).encode("utf-8"))))
            return getattr(text, strip)(table)
        x, unique = _text_arg(text), "".join(sorted(set(_text_arg(chars))))
        if len(unique) <= 64:
            return getattr(x, strip)(unique)
        keep = set(unique)
        start, end = 0, len(x)
        if strip in ("strip", "lstrip"):
            while start < end and x[start] in keep:
                start += 1
        if strip in ("strip", "rstrip"):
            while end > start and x[end - 1] in keep:
                end -= 1
        return x[start:end]
    return trim


_LINEAR_FUNCTIONS: tuple[tuple[str, int, Callable[..., Any]], ...] = (
    ("instr", 2, _sql_instr), ("replace", 3, _sql_replace),
    ("trim", 2, _trimmer("strip")), ("ltrim", 2, _trimmer("lstrip")), ("rtrim", 2, _trimmer("rstrip")),
)


def _linear_functions(raw: sqlite3.Connection) -> None:
    for name, arity, function in _LINEAR_FUNCTIONS:
        raw.create_function(name, arity, function, deterministic=True)


@contextmanager
def _sqlite_session(conn: sa.Connection, deadline: _Deadline) -> Iterator[None]:
    """query_only + an authorizer allowing only reads + a progress-handler deadline."""
    raw = conn.connection.driver_connection
    _limit_sqlite_heap(raw)
    _linear_functions(raw)
    previous = raw.execute("PRAGMA query_only").fetchone()[0]
    raw.execute("PRAGMA query_only = ON")
    previous_length = raw.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, SQLITE_MAX_VALUE_BYTES)
    previous_like = raw.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, SQLITE_MAX_LIKE_PATTERN)
    raw.set_authorizer(_sqlite_authorizer)
    raw.set_progress_handler(lambda: 1 if deadline.passed() else 0, SQLITE_PROGRESS_STEPS)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)
        raw.set_authorizer(None)
        raw.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, previous_length)
        raw.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, previous_like)
        conn.rollback()
        raw.execute(f"PRAGMA query_only = {int(previous)}")


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, db_name: str | None = None, *_: object) -> int:
    """Allow reading tables and calling ordinary functions; deny every other action."""
    if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master" and db_name == "main":
        # json_each()/json_tree() declare their columns through the schema parser, which asks this; the file
        # is read-only and sqlite_master is never writable without a PRAGMA (denied), so nothing can change.
        return sqlite3.SQLITE_OK
    if action not in _SQLITE_ALLOWED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and str(arg2 or "").lower() in _SQLITE_DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


@contextmanager
def _postgres_session(conn: sa.Connection, deadline: _Deadline) -> Iterator[None]:
    """A READ ONLY transaction with local timeouts, verified, and always rolled back."""
    milliseconds = max(1, int(deadline.seconds * 1000))
    explicit_begin = _postgres_begin_read_only(conn)
    try:
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {milliseconds}")
        conn.exec_driver_sql(f"SET LOCAL idle_in_transaction_session_timeout = {milliseconds + 5000}")
        yield
    finally:
        _rollback(conn, explicit_begin)
        _release_session_locks(conn)


def _release_session_locks(conn: sa.Connection) -> None:
    """Advisory locks outlive ROLLBACK; do not hand a pooled connection back holding one."""
    if conn.invalidated:
        return
    try:
        conn.exec_driver_sql("SELECT pg_advisory_unlock_all()")
        conn.rollback()
    except Exception:
        conn.invalidate()


def _postgres_begin_read_only(conn: sa.Connection) -> bool:
    """Start a read-only transaction; True when an explicit BEGIN was needed (autocommit)."""
    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    if _pg_read_only(conn):
        return False
    conn.exec_driver_sql("BEGIN READ ONLY")  # an autocommit connection: open the block ourselves
    if _pg_read_only(conn):
        return True
    _rollback(conn, True)
    raise ExecutionFailed("The database session could not be made read-only, so the query was not run.")


def _pg_read_only(conn: sa.Connection) -> bool:
    return str(conn.exec_driver_sql("SHOW transaction_read_only").scalar()).lower() == "on"


def _rollback(conn: sa.Connection, explicit: bool) -> None:
    """Roll back; if that fails the connection is in an unknown state, so throw it away."""
    try:
        if explicit:
            conn.exec_driver_sql("ROLLBACK")
        conn.rollback()
    except Exception:
        conn.invalidate()


@contextmanager
def _mysql_session(conn: sa.Connection, deadline: _Deadline) -> Iterator[None]:
    """Session-level READ ONLY (refuses DDL too), a statement time limit, then ROLLBACK."""
    mariadb = bool(getattr(conn.dialect, "is_mariadb", False))
    read_only_var = _mysql_read_only_variable(conn)
    timeout_var, timeout_value = (
        ("max_statement_time", f"{deadline.seconds:.3f}") if mariadb
        else ("max_execution_time", str(max(1, int(deadline.seconds * 1000))))
    )
    previous = conn.exec_driver_sql(f"SELECT @@session.{read_only_var}, @@session.{timeout_var}, DATABASE()").one()
    conn.rollback()
    conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
    conn.exec_driver_sql(f"SET SESSION {timeout_var} = {timeout_value}")
    conn.exec_driver_sql("START TRANSACTION READ ONLY")
    try:
        yield
    finally:
        _mysql_restore(conn, read_only_var, previous[0], timeout_var, previous[1])
        _drop_if_database_changed(conn, previous[2])


def _drop_if_database_changed(conn: sa.Connection, database: str | None) -> None:
    """A ``USE other_db`` must not follow this pooled connection into the next query."""
    try:
        current = conn.exec_driver_sql("SELECT DATABASE()").scalar()
        conn.rollback()
    except Exception:
        current = object()
    if current != database and not conn.invalidated:
        conn.invalidate()


def _mysql_read_only_variable(conn: sa.Connection) -> str:
    """``tx_read_only`` on MariaDB and MySQL 5.7, ``transaction_read_only`` on MySQL 8."""
    try:
        conn.exec_driver_sql("SELECT @@session.transaction_read_only").scalar()
        return "transaction_read_only"
    except sa.exc.DBAPIError:
        conn.rollback()
        return "tx_read_only"


def _mysql_restore(conn: sa.Connection, read_only_var: str, read_only: Any, timeout_var: str, timeout: Any) -> None:
    """Roll back, then give the pooled connection its previous session settings."""
    try:
        conn.rollback()
        mode = "READ ONLY" if int(read_only or 0) else "READ WRITE"
        conn.exec_driver_sql(f"SET SESSION TRANSACTION {mode}")
        conn.exec_driver_sql(f"SET SESSION {timeout_var} = {float(timeout or 0):g}")
        conn.rollback()
    except Exception:
        conn.invalidate()


@contextmanager
def _generic_session(conn: sa.Connection, deadline: _Deadline) -> Iterator[None]:
    """Other engines: a transaction that is always rolled back, interrupted at the deadline."""
    raw = conn.connection.driver_connection
    interrupt: Callable[[], object] | None = getattr(raw, "interrupt", None)
    timer = _start_timer(deadline, interrupt)
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
        _rollback(conn, False)


def _start_timer(deadline: _Deadline, interrupt: Callable[[], object] | None) -> threading.Timer | None:
    """Call the driver's ``interrupt()`` when the deadline passes (duckdb, plain sqlite3)."""
    if interrupt is None:
        return None

    def fire() -> None:
        deadline.hit = True
        interrupt()

    timer = threading.Timer(deadline.seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


# -- errors a user can read ----------------------------------------------------------


def _explain(exc: Exception, config: ExecutionConfig, deadline: _Deadline) -> ExecutionFailed:
    """One plain sentence for the user; the driver's text goes to ``detail`` (redacted)."""
    detail = _driver_message(exc)
    if deadline.hit or _is_timeout(exc):
        return ExecutionFailed(
            f"The query took longer than {config.statement_timeout_s:g} s and was stopped.", detail=detail
        )
    original = getattr(exc, "orig", None) or exc
    if isinstance(original, MemoryError) or "string or blob too big" in detail.lower():
        return ExecutionFailed(
            f"The query builds values too big for this server (at most {_megabytes(SQLITE_MAX_VALUE_BYTES)} per value, "
            f"{SQLITE_HARD_HEAP_BYTES // 2**20} MiB for the database engine in all), so it was stopped.",
            detail=detail or type(original).__name__,
        )
    if _is_read_only_refusal(exc, detail):
        return ExecutionFailed(
            "The database refused this statement because sqlchat's connection is read-only.", detail=detail
        )
    first_line = detail.strip().splitlines()[0] if detail.strip() else type(exc).__name__
    return ExecutionFailed(f"The database could not run this query: {_shorten(first_line)}", detail=detail)


def _driver_message(exc: Exception) -> str:
    original = getattr(exc, "orig", None) or exc
    return str(original)


def _error_codes(exc: Exception) -> set[Any]:
    """PostgreSQL's SQLSTATE and MySQL's error number, whichever the driver gives."""
    original = getattr(exc, "orig", None) or exc
    args: Sequence[Any] = getattr(original, "args", ())
    codes = {getattr(original, "sqlstate", None)}
    if args and isinstance(args[0], int):
        codes.add(args[0])
    return codes - {None}


def _is_timeout(exc: Exception) -> bool:
    return bool(_error_codes(exc) & (_PG_TIMEOUT_CODES | _MYSQL_TIMEOUT_CODES))


def _is_read_only_refusal(exc: Exception, detail: str) -> bool:
    text = detail.lower()
    return (
        bool(_error_codes(exc) & {_PG_READ_ONLY_CODE, _MYSQL_READ_ONLY_CODE})
        or "readonly database" in text
        or "not authorized" in text
        or "authorization denied" in text
        or "read-only" in text
    )


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
