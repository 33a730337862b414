"""The history store: verified pairs, the question log and the audit log, in one SQLAlchemy database.

Each job keeps its table and methods in its own module (:mod:`sqlchat.history.examples`,
:mod:`sqlchat.history.question_log`, :mod:`sqlchat.history.audit_log`); :class:`HistoryStore` is all three
on one engine, so the app, the CLI and ``sqlchat mcp`` open one store and one file.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlchat.history.audit_log import AuditLog
from sqlchat.history.database import is_url
from sqlchat.history.examples import VerifiedExamples
from sqlchat.history.question_log import QuestionLog


class HistoryStore(VerifiedExamples, QuestionLog, AuditLog):
    """Verified (question, SQL) pairs, the question log and the audit log, in any SQLAlchemy database.

    Thread-safe (one engine, a connection per call), so one store can serve a whole app.
    """


def open_existing_store(target: str | os.PathLike) -> HistoryStore | None:
    """The store at ``target`` if there is one (any URL, or an existing file); None, never creating a file."""
    text = os.fspath(target)
    if not is_url(text) and not Path(text).expanduser().is_file():
        return None
    return HistoryStore(text)
