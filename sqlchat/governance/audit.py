"""The audit log: who asked what on which connection, which statements ran, how many rows came back.

The app and the CLI call :func:`record` after every question and every SQL run, ``sqlchat mcp``
after every call (:func:`record_request` for those that run no SQL); the pipeline never touches the
history store. Entries live in the history store's
``audit_log`` table (:mod:`sqlchat.history.audit_log`); ``sqlchat audit`` exports them. A
connection is recorded by its operator-given name, or by its display name, which never
holds a password; every text is redacted on the way in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlchat.errors import ConfigError

if TYPE_CHECKING:
    from sqlchat.sources.connection import Database
    from sqlchat.history.audit_log import AuditEntry, AuditLog
    from sqlchat.pipeline import Answer

ANONYMOUS = "anonymous"


def user_name(info: Mapping[str, object]) -> str:
    """A logged-in user as the log names them (``st.user``'s claims): e-mail, else name, else subject."""
    for claim in ("email", "name", "preferred_username", "sub"):
        value = info.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ANONYMOUS


def connection_label(db: "Database") -> str:
    """How the log names a database: the named connection's name, else its (password-free) display name."""
    return db.connection_name or db.display_name


def record(store: "AuditLog", answer: "Answer", db: "Database", user: str | None) -> int:
    """Store one question (or editor SQL run) and its outcome; returns the entry's id."""
    status = "ok" if answer.ok else answer.error_kind or "error"
    rows = len(answer.frame) if answer.ok and answer.frame is not None else None
    return store.audit(connection_label(db), user or ANONYMOUS, answer.question, answer.sql, answer.executed, status,
                       rows, answer.error)


def record_request(store: "AuditLog", connection: str, user: str | None, request: str, status: str = "ok",
                   error: str | None = None) -> int:
    """Store a request that runs no SQL (``sqlchat mcp``'s ``describe``, ``list_connections``, a schema read):
    ``request`` says what was asked for, in the question's place; returns the entry's id."""
    return store.audit(connection, user or ANONYMOUS, request, None, (), status, None, error)


def parse_since(text: str) -> datetime:
    """``2026-11-30`` or ``2026-11-30T14:00`` (UTC unless it says otherwise) as an aware time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"--since must be a date like 2026-11-30 or 2026-11-30T14:00, not {text!r}.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def as_lines(entries: Iterable["AuditEntry"], as_json: bool) -> Iterable[str]:
    """Entries oldest first: one JSON object per line, or one readable line each."""
    for entry in sorted(entries, key=lambda e: e.id):
        if as_json:
            yield json.dumps(entry.to_json(), ensure_ascii=False)
            continue
        what = f"asked {entry.question!r}" if entry.question else "ran SQL"
        rows = f", {entry.row_count} row(s)" if entry.row_count is not None else ""
        error = f": {entry.error}" if entry.error else ""
        yield (f"{entry.to_json()['created_at']}  {entry.connection}  {entry.user}  {what}  -> {entry.status}{rows}"
               f"{error}\n    {entry.sql or '(no SQL)'}")
