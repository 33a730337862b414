"""Open a database, read-only, from a URL, a file, uploaded files or a ``CREATE TABLE`` script.

Everything here ends in a :class:`Database`: a SQLAlchemy engine plus the sqlglot
dialect name and a name that is safe to show. SQLite files are opened read-only at
the driver level (``mode=ro``); databases we build ourselves (uploads, CSV, Excel,
schema scripts) are written to a private temporary folder, then reopened read-only.
Building them is left to :mod:`sqlchat.sources.tabular` (CSV, Excel) and :mod:`sqlchat.sources.ddl_script`
(``CREATE TABLE`` scripts); this module owns the folder and the read-only reopening.
Server connections are verified at once, so a wrong URL fails here with one clear
sentence, never later in the middle of a question. Passwords never appear in a
message, a repr or a log line: they are masked, and kept on the :class:`Database`
(``secrets``) for :func:`sqlchat.errors.secret_scope`, so only this connection's own
messages are searched for them.

The app is a shared server, so a URL may not make the server read its own files:
only the query options in :data:`URL_OPTIONS` are accepted (``read_default_file``
would read any file into an error message), and ``connect(..., allow_paths=False)``
refuses SQLite files named by path before looking at the file system.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import QueuePool

from sqlchat.sources.ddl_script import build_schema_database, parse_create_tables
from sqlchat.errors import ConnectionFailed, SqlchatError, redact, secret_scope
# CSV_CHUNK_ROWS is re-exported and read at call time, so patching it here still sets the chunk size.
from sqlchat.sources.tabular import CSV_CHUNK_ROWS, TABULAR_SUFFIXES, Source, load_tabular_files

if TYPE_CHECKING:
    from sqlchat.governance.rules import AccessRules

log = logging.getLogger(__name__)

SQLITE_SUFFIXES = {".sqlite", ".db", ".sqlite3", ".db3"}
SCRIPT_SUFFIXES = {".sql", ".ddl"}
SQLITE_HEADER = b"SQLite format 3\x00"

# Driver chosen for a bare scheme; an explicit "+driver" in the URL is kept.
_DEFAULT_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}
_SQLGLOT_DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}
_SERVER_NAMES = {"postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB", "mariadb": "MySQL/MariaDB"}
# URL query options a user may set, per backend. Anything else is refused: driver options such as
# read_default_file, sslrootcert or options=-c... read server files or change the session.
URL_OPTIONS: dict[str, frozenset[str]] = {
    "postgresql": frozenset({"sslmode", "connect_timeout", "application_name", "client_encoding",
                             "target_session_attrs"}),
    "mysql": frozenset({"charset", "connect_timeout"}),
    "mariadb": frozenset({"charset", "connect_timeout"}),
    "sqlite": frozenset(),
}
PATHS_OFF = ("This server does not open database files by path. Upload the file instead, "
             "or ask the operator to allow SQLite paths (allow_sqlite_paths).")
DRIVER_TEXT_CHARS = 300  # driver text shown in details: its first line, cut to this length
# PostgreSQL's ``options`` may set any server setting; the one a user needs is the schema search path
# (``?options=-csearch_path%3Dsales``), so only that exact form is accepted.
SEARCH_PATH_OPTION = re.compile(r"-c\s*search_path\s*=\s*[A-Za-z_][A-Za-z0-9_$]*(\s*,\s*[A-Za-z_][A-Za-z0-9_$]*)*")
# What each accepted option's value may be: a wrong one is refused with a sentence, never a driver traceback.
_OPTION_VALUES: dict[str, re.Pattern[str]] = {
    "connect_timeout": re.compile(r"\d{1,4}"),
    "sslmode": re.compile(r"disable|allow|prefer|require|verify-ca|verify-full"),
    "target_session_attrs": re.compile(r"any|read-write|read-only|primary|standby|prefer-standby"),
    "application_name": re.compile(r"[A-Za-z0-9 ._:-]{0,63}"),
    "client_encoding": re.compile(r"[A-Za-z0-9_-]{1,40}"),
    "charset": re.compile(r"[A-Za-z0-9_]{1,40}"),
}
# A URL a web user typed must not log in with the server's own PostgreSQL credentials: libpq would fill a
# missing password from ~/.pgpass (or PGPASSFILE) and PGPASSWORD, a client certificate from ~/.postgresql,
# a Kerberos ticket from the server's cache, and anything else from PGSERVICE. These connect arguments name
# every one of them explicitly, so libpq's file and environment fallbacks are never consulted (a PGSERVICE
# entry only fills options still unset: the password is always set, to '' when the URL has none).
_NO_FILE = "/dev/null/sqlchat-none"  # a path that cannot exist (a file is not a folder)
TYPED_PG_ARGS: dict[str, str] = {
    "passfile": _NO_FILE, "sslcert": _NO_FILE, "sslkey": _NO_FILE, "gssencmode": "disable",
}


@dataclass(eq=False)
class Database:
    """An open database: engine, sqlglot dialect and a display name safe to show.

    ``eq=False`` keeps identity semantics, so a Database can key a dict or a cache.
    """

    engine: sa.Engine
    dialect: str
    display_name: str
    executable: bool = True
    temp_dir: Path | None = field(default=None, repr=False)
    # This connection's passwords: messages about it are redacted with them (errors.secret_scope).
    secrets: frozenset[str] = field(default=frozenset(), repr=False)
    # Which database this is, for keying history: the server and database, the file, or the uploaded bytes.
    identity: str = field(default="", repr=False)
    # Set for a named connection (sqlchat.governance.deployment): its name, and what its users may not see.
    connection_name: str | None = None
    rules: "AccessRules | None" = field(default=None, repr=False)
    # Per-database memo for other modules (schema/reflection.py keeps its reflection here), and its lock.
    cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.identity = self.identity or identity_of("name", self.dialect, self.display_name)
        # Temp files are removed even if the caller forgets close().
        self._finalizer = weakref.finalize(self, _remove_dir, self.temp_dir)

    def __repr__(self) -> str:
        return f"Database({self.display_name!r}, dialect={self.dialect!r}, executable={self.executable})"

    def close(self) -> None:
        """Dispose the engine's pool and delete any temporary files; safe to call twice."""
        self.engine.dispose()
        self.cache.clear()
        self._finalizer()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def identity_of(kind: str, *parts: str | bytes) -> str:
    """A short stable key for one database (``kind``: server, file, upload...), never holding a password."""
    digest = hashlib.sha256(kind.encode())
    for part in parts:
        digest.update(b"\0" + (part if isinstance(part, bytes) else str(part).encode()))
    return f"{kind}:{digest.hexdigest()[:40]}"


def _remove_dir(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- URLs


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***`` (``user:***@host``), for display and logs."""
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)
    with secret_scope(url_secrets(text)):
        try:
            parsed = make_url(text)
        except Exception:  # malformed: fall back to pattern-based masking
            return redact(text)
        if _has_raw_at_in_password(text):  # SQLAlchemy would take the rest of the password for the host
            return redact(text)
        masked = parsed.render_as_string(hide_password=True)
        if "password" in parsed.query:
            masked = re.sub(r"(password=)[^&]*", r"\1***", masked)
        return redact(masked)


def url_secrets(text: str) -> frozenset[str]:
    """The URL's passwords (decoded and as typed; up to the last ``@``, as SQLAlchemy reads them)."""
    passwords: list[object] = []
    match = re.match(r"[^:/]+://[^:/@\s]*:([^/\s]*)@", text)
    passwords.append(match.group(1) if match else None)
    try:
        parsed = make_url(text)
        passwords += [parsed.password, parsed.query.get("password")]
    except Exception:  # malformed: the pattern above is all there is
        pass
    found: set[str] = set()
    for pw in passwords:
        if isinstance(pw, str) and pw:
            found |= {pw, quote(pw, safe=""), unquote(pw)}
    return frozenset(found)


def _has_raw_at_in_password(text: str) -> bool:
    """Whether the URL's user part holds more than one ``@`` (a password with a raw ``@``)."""
    authority = re.sub(r"^[^:/]+://", "", text).split("/", 1)[0].split("?", 1)[0]
    return authority.count("@") > 1


def _looks_like_url(target: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://", target))


# --------------------------------------------------------------------------- connect


def connect(target: str | os.PathLike, *, timeout_s: float = 10.0, allow_paths: bool = True,
            typed: bool = False) -> Database:
    """Open ``target``: a SQLAlchemy URL, or a path to a SQLite, CSV, Excel or ``.sql`` file.

    ``allow_paths=False`` (a web user's URL on a shared server) refuses file paths and
    ``sqlite:`` URLs with the same sentence whether or not the file exists.
    ``typed=True`` (a URL a web user typed, not the operator's named connection nor the CLI of someone
    with a shell): a PostgreSQL URL must name its host and user, and the server's own saved credentials
    (``~/.pgpass``, ``PGPASSWORD``, ``PGSERVICE``, client certificates, Kerberos) are never used for it.
    """
    if isinstance(target, URL):
        target = target.render_as_string(hide_password=False)
    if isinstance(target, str) and _looks_like_url(target.strip()):
        text = target.strip()
        secrets = url_secrets(text)
        with secret_scope(secrets):
            db = _connect_url(text, timeout_s, allow_paths, typed)
        db.secrets = secrets
        return db
    if not allow_paths:
        raise ConnectionFailed(PATHS_OFF)
    return _connect_path(Path(os.fspath(target)).expanduser(), timeout_s)


def _connect_path(path: Path, timeout_s: float) -> Database:
    """Dispatch a local file on its suffix (or its header when the suffix says nothing)."""
    if not path.exists():
        raise ConnectionFailed(f"The file {path.name} does not exist.", detail=str(path))
    if not path.is_file():
        raise ConnectionFailed(f"{path.name} is a folder, not a database file.", detail=str(path))
    suffix = path.suffix.lower()
    if suffix in TABULAR_SUFFIXES:
        return _connect_tabular_sources([(path.name, lambda: path.open("rb"))],  # streamed, not read whole
                                        identity_of("file", str(path.resolve())))
    if suffix in SCRIPT_SUFFIXES:
        return connect_schema_script(_read_bytes(path).decode("utf-8", errors="replace"))
    if suffix in SQLITE_SUFFIXES or _has_sqlite_header(path):
        return open_sqlite_file(path, display_name=path.name, timeout_s=timeout_s)
    raise ConnectionFailed(
        f"{path.name} is not a SQLite, CSV, Excel or .sql file.",
        detail=f"Unrecognised file type {suffix or '(no suffix)'}: {path}",
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConnectionFailed(f"The file {path.name} could not be read.", detail=str(exc)) from exc


def _has_sqlite_header(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(16) == SQLITE_HEADER
    except OSError:
        return False


# --------------------------------------------------------------------------- SQLite


def open_sqlite_file(
    path: Path,
    *,
    display_name: str | None = None,
    timeout_s: float = 10.0,
    temp_dir: Path | None = None,
    executable: bool = True,
    deep_check: bool = False,
    identity: str = "",
) -> Database:
    """Open an existing SQLite file read-only (``mode=ro``) after checking it really is SQLite."""
    name = display_name or path.name
    _check_sqlite_file(path, name, deep=deep_check)
    uri = _read_only_uri(path)

    def creator() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=timeout_s)
        conn.execute("PRAGMA query_only = ON")  # a second lock besides mode=ro
        return conn

    engine = sa.create_engine("sqlite+pysqlite://", creator=creator, poolclass=QueuePool)
    log.info("opened SQLite database %s read-only", name)
    return Database(engine, "sqlite", name, executable=executable, temp_dir=temp_dir,
                    identity=identity or identity_of("file", str(path.resolve())))


def _check_sqlite_file(path: Path, name: str, *, deep: bool) -> None:
    """Raise ConnectionFailed unless ``path`` is a readable, sane SQLite database."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            header = fh.read(16)
    except OSError as exc:
        raise ConnectionFailed(f"The file {name} could not be read.", detail=str(exc)) from exc
    if size == 0:
        raise ConnectionFailed(f"{name} is empty, so it is not a valid SQLite database.")
    if header != SQLITE_HEADER:
        raise ConnectionFailed(f"{name} is not a valid SQLite database.", detail="The file has no SQLite header.")
    try:
        conn = sqlite3.connect(_read_only_uri(path), uri=True)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            if deep:
                result = conn.execute("PRAGMA quick_check(1)").fetchone()
                if not result or result[0] != "ok":
                    raise sqlite3.DatabaseError(f"quick_check: {result[0] if result else 'no result'}")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise ConnectionFailed(f"{name} is not a valid SQLite database.", detail=str(exc)) from exc


def _read_only_uri(path: Path) -> str:
    """``mode=ro``; a WAL-mode file nobody has open (no ``-wal`` file) also ``immutable=1``, since
    reading it would otherwise leave ``-wal`` and ``-shm`` files beside it."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        with path.open("rb") as fh:
            wal_mode = fh.read(20)[18:20] == b"\x02\x02"
    except OSError:
        return uri
    wal_file = path.with_name(path.name + "-wal")
    return uri + "&immutable=1" if wal_mode and not wal_file.exists() else uri


def new_temp_dir() -> Path:
    """A private folder for a database we build; removed by :meth:`Database.close`."""
    return Path(tempfile.mkdtemp(prefix="sqlchat-"))


def connect_sqlite_bytes(filename: str, data: bytes) -> Database:
    """Open an uploaded SQLite file: copy it to a temp file, check it deeply, open it read-only."""
    name = Path(filename).name or "upload.sqlite"
    if not data:
        raise ConnectionFailed(f"{name} is empty, so it is not a valid SQLite database.")
    if not data.startswith(SQLITE_HEADER):
        raise ConnectionFailed(f"{name} is not a valid SQLite database.", detail="The file has no SQLite header.")
    temp_dir = new_temp_dir()
    try:
        path = temp_dir / "upload.sqlite"
        path.write_bytes(data)
        _check_sqlite_file(path, name, deep=True)
        _leave_wal_mode(path, name)
        return open_sqlite_file(path, display_name=name, temp_dir=temp_dir, identity=identity_of("upload", data))
    except BaseException:
        _remove_dir(temp_dir)
        raise


def _leave_wal_mode(path: Path, name: str) -> None:
    """Switch our private copy out of WAL mode: a WAL database cannot always be opened ``mode=ro``."""
    with path.open("rb") as fh:
        header = fh.read(20)
    if header[18:20] != b"\x02\x02":
        return
    try:
        conn = sqlite3.connect(str(path))
        try:
            conn.execute("PRAGMA journal_mode = DELETE")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise ConnectionFailed(f"{name} is not a valid SQLite database.", detail=str(exc)) from exc


# --------------------------------------------------------------------------- servers


def _connect_url(text: str, timeout_s: float, allow_paths: bool = True, typed: bool = False) -> Database:
    """Open a server (or ``sqlite:///``) URL and prove the connection works."""
    url = _parse_url(text)
    backend = url.get_backend_name()
    if backend == "sqlite" and not allow_paths:
        raise ConnectionFailed(PATHS_OFF)
    if backend not in _SQLGLOT_DIALECTS:
        raise ConnectionFailed(
            f"sqlchat cannot open '{url.drivername}' databases; use SQLite, PostgreSQL or MySQL/MariaDB.",
            detail=f"Unsupported URL scheme {url.drivername!r}.",
        )
    refuse_url_options(url, backend)
    if backend == "sqlite":
        return _connect_sqlite_url(url, timeout_s)
    if typed and backend == "postgresql":
        refuse_server_identity(url)
    display = mask_url(url)
    engine = _create_server_engine(url, backend, timeout_s, typed)
    _verify(engine, url, backend, timeout_s)
    log.info("connected to %s", display)
    identity = identity_of("server", backend, url.host or "", str(url.port or ""), url.database or "", url.username or "")
    return Database(engine, _SQLGLOT_DIALECTS[backend], display, identity=identity)


def _parse_url(text: str) -> URL:
    """Parse and normalise the URL; a malformed one gives one clear line, without its password."""
    if _has_raw_at_in_password(text):
        raise ConnectionFailed(
            "The URL has more than one '@' before the host: write an '@' in the password as %40 "
            "(postgresql://user:pa%40ss@host/db)."
        )
    try:
        url = make_url(text)
    except Exception as exc:
        raise ConnectionFailed(
            "The database URL is malformed; expected something like postgresql://user@host:5432/dbname.",
            detail=f"{redact(text)}: {exc}",
        ) from None  # the chained driver text could carry the raw URL
    return with_default_driver(url)


def with_default_driver(url: URL) -> URL:
    """A bare ``mysql://`` or ``postgres://`` gets the installed driver (PyMySQL, psycopg), not MySQLdb/psycopg2."""
    if url.drivername in _DEFAULT_DRIVERS:
        return url.set(drivername=_DEFAULT_DRIVERS[url.drivername])
    if url.drivername.startswith("postgres+"):
        return url.set(drivername="postgresql+" + url.drivername.split("+", 1)[1])
    return url


def refuse_url_options(url: URL, backend: str) -> None:
    """Refuse any query option not in :data:`URL_OPTIONS` for ``backend``, naming it but not its value."""
    allowed = URL_OPTIONS.get(backend, frozenset())
    unknown = sorted(name for name, value in url.query.items()
                     if name.lower() not in allowed and not _is_search_path(backend, name, value))
    if not unknown:
        for name, value in url.query.items():
            pattern = _OPTION_VALUES.get(name.lower())
            values = (value,) if isinstance(value, str) else value
            if pattern is not None and not all(pattern.fullmatch(v) for v in values):
                raise ConnectionFailed(f"The URL option '{name.lower()}' has a value this server does not accept"
                                       + (" (a whole number of seconds)." if name.lower() == "connect_timeout" else "."))
        return
    accepted = ", ".join(sorted(allowed)) + (" and options=-csearch_path=SCHEMA" if backend == "postgresql" else "")
    accepted = accepted or "none"
    names = ", ".join(f"'{_shorten(name, 40)}'" for name in unknown)
    raise ConnectionFailed(
        f"The URL option{'s' if len(unknown) > 1 else ''} {names} {'are' if len(unknown) > 1 else 'is'} not allowed "
        f"here; options accepted for {_SERVER_NAMES.get(backend, backend)} URLs: {accepted}."
    )


def refuse_server_identity(url: URL) -> None:
    """A typed PostgreSQL URL names a TCP host and a user: libpq would otherwise open the server's own Unix
    socket (``postgresql://``, ``postgresql:///db``, ``host=/run/postgresql``) as the app's OS user."""
    host = url.host or ""
    if not host or host.startswith(("/", "@", "%2F", "%2f")) or "/" in host:
        raise ConnectionFailed("The database URL must name the server's host (postgresql://user@host:5432/db); "
                               "this server does not open its own local database socket for a typed URL.")
    if not url.username:
        raise ConnectionFailed("The database URL must name the user to log in as (postgresql://user@host:5432/db).")


def _is_search_path(backend: str, name: str, value: str | tuple[str, ...]) -> bool:
    """PostgreSQL's ``options=-csearch_path=a,b``: choosing schemas, and nothing else."""
    values = (value,) if isinstance(value, str) else value
    return backend == "postgresql" and name == "options" and all(SEARCH_PATH_OPTION.fullmatch(v.strip()) for v in values)


def driver_text(raw: str, limit: int = DRIVER_TEXT_CHARS) -> str:
    """What a user needs of a driver's message: its first line, shortened and redacted (never a dump)."""
    lines = [line.strip() for line in str(raw).strip().splitlines() if line.strip()]
    return _shorten(redact(lines[0] if lines else ""), limit)


def _connect_sqlite_url(url: URL, timeout_s: float) -> Database:
    """``sqlite:///path`` URLs open the file read-only like a plain path."""
    database = url.database or ""
    if not database or database == ":memory:":
        raise ConnectionFailed(
            "An in-memory SQLite database has no tables to ask about; give the path of a database file."
        )
    if database.startswith("file:"):
        database = unquote(database[5:].split("?", 1)[0])
    path = Path(database).expanduser()
    if not path.exists():
        raise ConnectionFailed(f"The file {path.name} does not exist.", detail=str(path))
    return open_sqlite_file(path, display_name=path.name, timeout_s=timeout_s)


def _create_server_engine(url: URL, backend: str, timeout_s: float, typed: bool = False) -> sa.Engine:
    """An engine whose every connection opens in a read-only session with a connect timeout (for a ``typed``
    PostgreSQL URL also without the server's saved credentials: :data:`TYPED_PG_ARGS`)."""
    connect_timeout = max(1, round(timeout_s / 2))
    if backend == "postgresql":
        # A user's own options= is refused unless it only sets the search path (refuse_url_options);
        # read-only comes last, so nothing before it can turn it off.
        options = " ".join(filter(None, [url.query.get("options"), "-c default_transaction_read_only=on"]))
        connect_args: dict[str, Any] = {"connect_timeout": connect_timeout, "options": options}
        if typed:
            connect_args.update(TYPED_PG_ARGS)
            connect_args.update(_typed_pg_auth_args())
            if url.password is None:
                connect_args["password"] = ""  # given, so PGPASSWORD does not fill it; libpq: "no password supplied"
    else:
        connect_args = {"connect_timeout": connect_timeout, "init_command": "SET SESSION TRANSACTION READ ONLY"}
    try:
        return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True, pool_recycle=1800)
    except sa.exc.NoSuchModuleError as exc:
        raise ConnectionFailed(
            f"sqlchat has no database driver called '{url.drivername}'.", detail=str(exc)
        ) from None
    except (ValueError, TypeError, sa.exc.ArgumentError) as exc:  # an option value the driver cannot use
        raise ConnectionFailed("The database URL has an option value the driver cannot use.",
                               detail=driver_text(str(exc))) from None
    except ImportError as exc:
        raise ConnectionFailed(
            f"The Python driver for '{url.drivername}' is not installed; "
            f"use {_DEFAULT_DRIVERS.get(backend, backend)}:// instead.",
            detail=str(exc),
        ) from None


def _typed_pg_auth_args() -> dict[str, str]:
    """``require_auth`` (libpq 16+): no GSSAPI/SSPI login with the server's own Kerberos ticket."""
    try:
        import psycopg

        if psycopg.pq.version() >= 160000:
            return {"require_auth": "!gss,!sspi"}
    except Exception:  # noqa: BLE001 - an older libpq: gssencmode=disable above still applies
        pass
    return {}


def _verify(engine: sa.Engine, url: URL, backend: str, timeout_s: float) -> None:
    """Run ``SELECT 1`` now, so a bad URL fails at connect time with a translated message."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1").scalar()
    except Exception as exc:
        engine.dispose()
        raise _translate_connect_error(exc, url, backend, timeout_s) from None  # keep raw text out of tracebacks


_AUTH_PATTERNS = ("password authentication failed", "access denied", "authentication failed", "no password supplied",
                  "role \"", "pg_hba.conf")
_UNKNOWN_DB = re.compile(r"database \"(?P<a>[^\"]+)\" does not exist|unknown database '(?P<b>[^']+)'", re.I)
_HOST_NOT_FOUND = ("could not translate host name", "name or service not known", "nodename nor servname",
                   "temporary failure in name resolution", "errno -2", "errno -3", "getaddrinfo failed")
_REFUSED = ("connection refused", "errno 111", "errno 61", "actively refused")
_TIMEOUT = ("timeout expired", "timed out", "errno 110")
_UNREACHABLE = ("no route to host", "network is unreachable", "errno 113", "errno 101")


def _translate_connect_error(exc: Exception, url: URL, backend: str, timeout_s: float) -> SqlchatError:
    """Turn a driver exception into one plain sentence; the raw text goes to ``detail``."""
    raw = str(getattr(exc, "orig", None) or exc)
    low = raw.lower()
    server = _SERVER_NAMES.get(backend, backend)
    where = f"{url.host or 'localhost'}:{url.port or ('5432' if backend == 'postgresql' else '3306')}"
    detail = driver_text(raw)
    if (m := _UNKNOWN_DB.search(raw)) is not None:
        msg = f"The database '{m['a'] or m['b']}' does not exist on the {server} server at {where}."
    elif any(p in low for p in _AUTH_PATTERNS):
        msg = f"The {server} server at {where} rejected the user name or password."
    elif any(p in low for p in _HOST_NOT_FOUND):
        msg = f"The database host '{url.host}' could not be found; check the host name."
    elif any(p in low for p in _REFUSED):
        msg = f"The {server} server at {where} refused the connection; is it running on that port?"
    elif any(p in low for p in _TIMEOUT):
        msg = f"The {server} server at {where} did not answer within {max(1, round(timeout_s / 2))} seconds."
    elif any(p in low for p in _UNREACHABLE):
        msg = f"The {server} server at {where} cannot be reached from this machine."
    else:
        msg = f"Could not connect to the {server} server at {where}."
    return ConnectionFailed(msg, detail=detail)


# --------------------------------------------------------------------------- built databases


def connect_tabular_files(files: list[tuple[str, bytes]]) -> Database:
    """Load CSV / Excel uploads into a temporary SQLite database, one table per file or sheet."""
    identity = identity_of("upload", *[part for name, data in files for part in (name, data)])
    return _connect_tabular_sources([(name, lambda data=data: io.BytesIO(data)) for name, data in files], identity)


def _connect_tabular_sources(sources: list[Source], identity: str = "") -> Database:
    if not sources:
        raise ConnectionFailed("No files were given to load.")
    temp_dir = new_temp_dir()
    try:
        path = temp_dir / "tables.sqlite"
        load_tabular_files(path, sources, chunk_rows=CSV_CHUNK_ROWS)
        display = ", ".join(Path(name).name for name, _ in sources)
        identity = identity or identity_of("files", display)
        return open_sqlite_file(path, display_name=_shorten(display), temp_dir=temp_dir, identity=identity)
    except BaseException:
        _remove_dir(temp_dir)
        raise


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def connect_schema_script(script: str, dialect: str | None = None) -> Database:
    """Build an empty, schema-only SQLite database from a ``CREATE TABLE`` script (not executable)."""
    creates = parse_create_tables(script, dialect)
    temp_dir = new_temp_dir()
    try:
        path = temp_dir / "schema.sqlite"
        count = build_schema_database(path, creates)
        name = f"CREATE TABLE script ({count} table{'' if count == 1 else 's'})"
        return open_sqlite_file(path, display_name=name, temp_dir=temp_dir, executable=False,
                                identity=identity_of("script", script))
    except BaseException:
        _remove_dir(temp_dir)
        raise
