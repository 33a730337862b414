"""The question log: every question asked and how it went, for the app's history page.

On a shared server each question is recorded with the database's identity and its owner (the
signed-in user, else the browser session), and a user reads back only their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from sqlchat.history.database import METADATA, OWNER_CHARS, STATUSES, StoreDatabase, choice, clean, now

QUESTION_LOG = sa.Table(
    "question_log",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("sql", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("schema_fingerprint", sa.String(64), index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("database_key", sa.String(64), index=True),
    sa.Column("owner", sa.String(OWNER_CHARS)),
)


@dataclass(frozen=True)
class LoggedQuestion:
    id: int
    question: str
    sql: str | None
    status: str
    error: str | None
    schema_fingerprint: str | None
    created_at: datetime
    database_key: str | None = None
    owner: str | None = None


class QuestionLog(StoreDatabase):
    """The store's question log (:class:`sqlchat.history.store.HistoryStore` has these methods)."""

    def log_question(
        self, question: str, sql: str | None, status: str, error: str | None = None, fingerprint: str | None = None,
        *, database: str | None = None, owner: str | None = None,
    ) -> int:
        """Record one question and how it went (``ok``, ``error``, ``refused``); returns its id."""
        return self._write(QUESTION_LOG, {
            "database_key": database,
            "owner": None if owner is None else owner[:OWNER_CHARS],
            "question": clean(question),
            "sql": clean(sql),
            "status": choice(status, STATUSES, "status"),
            "error": clean(error),
            "schema_fingerprint": fingerprint,
            "created_at": now(),
        })

    def recent_questions(self, limit: int = 50, *, database: str | None = None,
                         owner: str | None = None) -> list[LoggedQuestion]:
        """The last ``limit`` logged questions, newest first; given ``database``, only ``owner``'s on it."""
        query = sa.select(QUESTION_LOG).order_by(QUESTION_LOG.c.id.desc()).limit(limit)
        if database is not None:
            log = QUESTION_LOG.c
            query = query.where(log.database_key == database, log.owner == owner)
        return [LoggedQuestion(**row._mapping) for row in self._read(query)]
