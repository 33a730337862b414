"""Verified pairs: a question and the SQL a user approved or corrected, for one schema.

They come back as few-shot examples (:meth:`VerifiedExamples.similar_examples`, ranked by
:mod:`sqlchat.history.retrieval`) and as training rows (:meth:`VerifiedExamples.export_know_sql`). The
pipeline never imports this package; the CLI and the app retrieve examples here and pass them to
:func:`sqlchat.pipeline.ask`. Pairs are reused only on the schema they were verified on
(:func:`schema_fingerprint`).

On a shared server the schema is not enough: another upload with the same columns is another user's
data. So the app records each pair with the database's identity (``connection.Database.identity``) and
its owner (the signed-in user, else the browser session); a verified pair is shown to other users only
once an operator approved it (:meth:`VerifiedExamples.approve`; imported pairs are approved). Without
``database``/``owner`` (the CLI, one local user) every pair of the schema counts.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from sqlchat.errors import ConfigError, SqlchatError
from sqlchat.history.database import (
    LABEL_CHARS,
    METADATA,
    OWNER_CHARS,
    StoreDatabase,
    choice,
    clean,
    now,
)
from sqlchat.history.retrieval import rank_similar
from sqlchat.schema.model import Schema

SOURCES = ("thumbs_up", "edited", "import", "alternative")  # alternative: chosen from "Did you mean …?"
MAX_CANDIDATES = 5000  # newest verified pairs considered per schema (retrieval stays in milliseconds)

VERIFIED_PAIRS = sa.Table(
    "verified_pairs",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("sql", sa.Text, nullable=False),
    sa.Column("context", sa.Text, nullable=False, default=""),
    sa.Column("schema_fingerprint", sa.String(64), nullable=False, index=True),
    sa.Column("database_label", sa.String(LABEL_CHARS), nullable=False, default=""),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("database_key", sa.String(64), index=True),  # connection.Database.identity; None: not recorded
    sa.Column("owner", sa.String(OWNER_CHARS)),  # who verified it; None: the operator or a local user
    sa.Column("approved", sa.Boolean),  # an operator shared it with every user of the schema
)


@dataclass(frozen=True)
class VerifiedPair:
    id: int
    question: str
    sql: str
    context: str
    schema_fingerprint: str
    database_label: str
    source: str
    created_at: datetime
    database_key: str | None = None
    owner: str | None = None
    approved: bool | None = None

    def to_know_sql(self) -> dict[str, str]:
        """The training row: the same three fields as sql-create-context."""
        return {"question": self.question, "context": self.context, "answer": self.sql}


def schema_fingerprint(schema: Schema) -> str:
    """A stable hash of table and column names and types, independent of order and name case.

    Row counts, keys and comments are left out: new rows do not invalidate a verified answer,
    a renamed or retyped column does.
    """
    shape = sorted(
        [table.name.lower(), sorted([column.name.lower(), column.type] for column in table.columns)]
        for table in schema.tables
    )
    return hashlib.sha256(json.dumps(shape, separators=(",", ":")).encode()).hexdigest()[:32]


def _visible_pairs(query: sa.Select, database: str | None, owner: str | None) -> sa.Select:
    """Pairs this user may see: approved ones, and their own on this database (all, without ``database``)."""
    if database is None:
        return query
    pairs = VERIFIED_PAIRS.c
    own = sa.and_(pairs.database_key == database, pairs.owner == owner) if owner is not None else sa.false()
    imported = sa.and_(pairs.approved.is_(None), pairs.source == "import")  # seeded before approval existed
    return query.where(sa.or_(pairs.approved.is_(True), imported, own))


class VerifiedExamples(StoreDatabase):
    """The store's verified pairs (:class:`sqlchat.history.store.HistoryStore` has these methods)."""

    def add_verified(
        self, question: str, sql: str, context: str, fingerprint: str, label: str, source: str = "thumbs_up",
        *, database: str | None = None, owner: str | None = None,
    ) -> int:
        """Store a pair a user approved (``thumbs_up``), corrected (``edited``) or imported; returns its id.

        Imported pairs (the operator's) are approved for every user; a user's own stay theirs until approved.
        """
        if not question.strip() or not sql.strip():
            raise ConfigError("A verified answer needs both a question and SQL.")
        return self._write(VERIFIED_PAIRS, {
            "database_key": database,
            "owner": None if owner is None else owner[:OWNER_CHARS],
            "approved": source == "import",
            "question": clean(question.strip()),
            "sql": clean(sql.strip().rstrip(";").strip()),
            "context": clean(context or ""),
            "schema_fingerprint": fingerprint,
            "database_label": clean(label or "")[:LABEL_CHARS],
            "source": choice(source, SOURCES, "source"),
            "created_at": now(),
        })

    def approve(self, pair_id: int, approved: bool = True) -> None:
        """An operator shares a verified pair with every user of its schema (or withdraws it)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.update(VERIFIED_PAIRS).where(VERIFIED_PAIRS.c.id == pair_id).values(approved=approved))
        except sa.exc.SQLAlchemyError as exc:
            raise SqlchatError("The history store could not save this.", detail=str(exc)) from exc

    def verified_for(self, fingerprint: str | None, limit: int | None = None, *, database: str | None = None,
                     owner: str | None = None) -> list[VerifiedPair]:
        """Verified pairs of one schema (all schemas for None) that this user may see, newest first."""
        query = _visible_pairs(sa.select(VERIFIED_PAIRS).order_by(VERIFIED_PAIRS.c.id.desc()), database, owner)
        if fingerprint is not None:
            query = query.where(VERIFIED_PAIRS.c.schema_fingerprint == fingerprint)
        if limit is not None:
            query = query.limit(limit)
        return [VerifiedPair(**row._mapping) for row in self._read(query)]

    def similar_examples(self, question: str, fingerprint: str, k: int = 3, *, database: str | None = None,
                         owner: str | None = None) -> list[tuple[str, str]]:
        """Up to ``k`` verified (question, sql) pairs of this schema most like ``question``, best first."""
        if k <= 0 or not question.strip():
            return []
        pairs = VERIFIED_PAIRS.c
        query = (sa.select(pairs.id, pairs.question, pairs.sql).where(pairs.schema_fingerprint == fingerprint)
                 .order_by(pairs.id.desc()).limit(MAX_CANDIDATES))  # no context: it is large and not compared
        query = _visible_pairs(query, database, owner)
        ranked = rank_similar(question, self._read(query), k)
        return [(row.question, row.sql) for _, row in ranked]

    def export_know_sql(self, path: str | os.PathLike, fingerprint: str | None = None) -> int:
        """Write verified pairs as know_sql JSONL (question, context, answer), oldest first; returns rows.

        Pairs without context cannot teach the model and are skipped; duplicates are written once.
        """
        seen: set[tuple[str, str, str]] = set()
        rows = []
        for pair in reversed(self.verified_for(fingerprint)):
            key = (pair.question, pair.context, pair.sql)
            if pair.context.strip() and key not in seen:
                seen.add(key)
                rows.append(json.dumps(pair.to_know_sql(), ensure_ascii=False))
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")
        return len(rows)
