"""The :class:`~sqlchat.schema.reader.ValueReader` the pipeline hands to schema and value linking.

Every statement goes through :func:`sqlchat.safety.check_sql` and the read-only executor
(:func:`sqlchat.execution.execute`), like any other: the early stages build their SELECTs but never
run them themselves, so the data flows down to them instead of them reaching up to execution.
"""

from __future__ import annotations

from dataclasses import replace

from sqlchat.config import ExecutionConfig
from sqlchat.errors import SqlchatError
from sqlchat.execution import execute
from sqlchat.safety import check_sql
from sqlchat.schema.names import database_spelling
from sqlchat.sources.connection import Database


class DatabaseReader:
    """Reads ``db`` through the safety check (no row limit: the statements carry their own) and the executor."""

    def __init__(self, db: Database, config: ExecutionConfig):
        self.db, self.config = db, config

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def rows(self, sql: str, *, timeout_s: float | None = None, respell: bool = False) -> list[tuple[object, ...]]:
        config = self.config if timeout_s is None else replace(
            self.config, statement_timeout_s=min(self.config.statement_timeout_s, timeout_s))
        try:
            names = database_spelling(self.db) if respell else None
            checked = check_sql(sql, self.db.dialect, row_limit=None, names=names)
            frame = execute(self.db, checked, config).frame
        except SqlchatError:
            return []  # a column LOWER() cannot read (a number on PostgreSQL), or time ran out: nothing found
        return list(frame.itertuples(index=False, name=None))
