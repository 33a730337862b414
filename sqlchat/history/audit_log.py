"""The audit log's table: who asked what on which connection, which statements ran, how many rows came back.

:mod:`sqlchat.governance.audit` records answers here and exports them (``sqlchat audit``). A connection
is recorded by its operator-given name, or by its display name, which never holds a password.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sqlchat.history.database import LABEL_CHARS, METADATA, STATUSES, StoreDatabase, choice, clean, now, utc

AUDIT_LOG = sa.Table(  # added later than the others: create_all adds it to an existing store, nothing else changes
    "audit_log",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("connection", sa.String(LABEL_CHARS), nullable=False, index=True),  # a name or display name, never a URL
    sa.Column("user", sa.String(LABEL_CHARS), nullable=False),
    sa.Column("question", sa.Text),  # None: SQL a user ran from the editor
    sa.Column("sql", sa.Text),  # the statement whose rows were shown
    sa.Column("statements", sa.Text, nullable=False, default="[]"),  # JSON list: every statement executed
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("row_count", sa.Integer),
    sa.Column("error", sa.Text),
)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    created_at: datetime
    connection: str
    user: str
    question: str | None
    sql: str | None
    statements: list[str]
    status: str
    row_count: int | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "created_at": utc(self.created_at).isoformat()}


class AuditLog(StoreDatabase):
    """The store's audit log (:class:`sqlchat.history.store.HistoryStore` has these methods)."""

    def audit(self, connection: str, user: str, question: str | None, sql: str | None, statements: Sequence[str],
              status: str, row_count: int | None = None, error: str | None = None) -> int:
        """Record who asked what (or ran which SQL) on ``connection``, what executed and what came back."""
        return self._write(AUDIT_LOG, {
            "created_at": now(),
            "connection": clean(connection)[:LABEL_CHARS],
            "user": clean(user or "anonymous")[:LABEL_CHARS],
            "question": clean(question),
            "sql": clean(sql),
            "statements": json.dumps([clean(s) for s in statements]),
            "status": choice(status, STATUSES, "status"),
            "row_count": row_count,
            "error": clean(error),
        })

    def audit_entries(self, connection: str | None = None, since: datetime | None = None,
                      limit: int | None = None) -> list[AuditEntry]:
        """Audit entries, newest first: of one connection (all for None), from ``since`` on."""
        log = AUDIT_LOG.c
        query = sa.select(AUDIT_LOG).order_by(log.id.desc())
        if connection is not None:
            query = query.where(log.connection == connection)
        if since is not None:
            query = query.where(log.created_at >= utc(since))
        if limit is not None:
            query = query.limit(limit)
        return [AuditEntry(**{**row._mapping, "statements": json.loads(row.statements or "[]")})
                for row in self._read(query)]
