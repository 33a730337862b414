"""The history store's database: its engine, its tables' metadata, and what every table stores alike.

By default a SQLite file (``Settings.history_target``), created private to its user; a PostgreSQL URL
lets several app instances share it. Nothing secret is stored: every user-provided text goes through
:func:`clean` (:func:`sqlchat.errors.redact`), and the store never records a connection URL. Each job's
module (``examples``, ``question_log``, ``audit_log``) defines its table on :data:`METADATA` and its
methods on a :class:`StoreDatabase`; :class:`sqlchat.history.store.HistoryStore` puts them together.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa

from sqlchat.errors import ConfigError, ConnectionFailed, SqlchatError, redact, register_secret
from sqlchat.sources.connection import with_default_driver

STATUSES = ("ok", "error", "refused", "unanswerable")
LABEL_CHARS = 200
OWNER_CHARS = 200

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")

METADATA = sa.MetaData()


def clean(text: str | None) -> str | None:
    """User-provided text as stored: secrets masked."""
    return None if text is None else redact(text)


def choice(value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise ConfigError(f"Unknown {what} {value!r}: use one of {', '.join(allowed)}.")
    return value


def now() -> datetime:
    return datetime.now(timezone.utc)


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC, PostgreSQL an aware time: always aware UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def is_url(target: str) -> bool:
    """Whether ``target`` is a SQLAlchemy URL rather than a file path."""
    return bool(_URL.match(target.strip()))


def _engine_for(target: str | os.PathLike) -> sa.Engine:
    """An engine for a URL, or for a SQLite file (its folder created)."""
    text = os.fspath(target)
    if is_url(text):
        url = with_default_driver(sa.make_url(text.strip()))  # mysql:// uses PyMySQL, as connections do
        register_secret(url.password)  # errors naming the URL stay clean
        return sa.create_engine(url, pool_pre_ping=True)
    path = Path(text).expanduser()
    _private_file(path)
    return sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 15})


def _private_file(path: Path) -> None:
    """Create the store's folder (0700) and file (0600) private: they hold every user's questions.

    SQLite gives its journal files the database file's mode, so they stay private too.
    """
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    try:
        if path.stat().st_mode & 0o077:  # a store made before this rule: tighten it
            path.chmod(0o600)
    except OSError:  # not ours to change; SQLite reports a real problem when it opens the file
        pass


def _add_missing_columns(engine: sa.Engine) -> None:
    """A store made by an older version gets the newer (nullable) columns; its old rows stay private."""
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for table in METADATA.sorted_tables:
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")


class StoreDatabase:
    """The store's engine, its tables created (and older stores given newer columns), and reads and writes
    that fail with a sentence. Thread-safe (one engine, a connection per call), so one store can serve a
    whole app."""

    def __init__(self, url_or_path: str | os.PathLike):
        try:
            self.engine = _engine_for(url_or_path)
            METADATA.create_all(self.engine)
            _add_missing_columns(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            raise ConnectionFailed("The history store could not be opened.", detail=str(exc)) from exc
        except OSError as exc:
            raise ConnectionFailed("The history store's folder could not be created.", detail=str(exc)) from exc

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, table: sa.Table, values: dict[str, Any]) -> int:
        try:
            with self.engine.begin() as conn:
                return int(conn.execute(sa.insert(table).values(**values)).inserted_primary_key[0])
        except sa.exc.SQLAlchemyError as exc:
            raise SqlchatError("The history store could not save this.", detail=str(exc)) from exc

    def _read(self, query: sa.Select) -> list[sa.Row]:
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(query))
        except sa.exc.SQLAlchemyError as exc:
            raise SqlchatError("The history store could not be read.", detail=str(exc)) from exc
