"""The history store from the page: the question log, verified answers, examples and the audit log.

History is a bonus: when the store cannot be opened or fails, asking goes on and the user is told once.
Everything is kept per owner (:func:`session_owner`), so one user never sees another's questions.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TypeVar

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from sqlchat.config import Settings
from sqlchat.errors import redact
from sqlchat.governance import audit
from sqlchat.history.examples import schema_fingerprint
from sqlchat.history.store import HistoryStore
from sqlchat.pipeline import Answer
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import Database
from sqlchat.ui.common import DB, HISTORY_NOTICE, HISTORY_OFF, HISTORY_WARNED, OWNER, Turn, USER, log


T = TypeVar("T")
EXAMPLES_SHOWN = 3


@st.cache_resource(show_spinner=False, max_entries=4)
def shared_store(target: str) -> HistoryStore | Exception:
    """One store per process (it is thread-safe). A failure to open is kept too, so a down server is not
    retried on every click: history stays off until the app restarts."""
    try:
        return HistoryStore(target)
    except Exception as error:  # noqa: BLE001 - history is optional: asking goes on without it
        return error


def history_unavailable(error: Exception, action: str) -> None:
    """Tell the user (and the log) once a session: history is a bonus, asking must go on."""
    first = not st.session_state.get(HISTORY_WARNED)
    log.log(logging.WARNING if first else logging.DEBUG, "history store failed while %s: %s", action,
            redact(f"{type(error).__name__}: {error}"))
    if first:
        st.session_state.update({HISTORY_WARNED: True, HISTORY_NOTICE: HISTORY_OFF})


def with_history(settings: Settings, action: str, use: Callable[[HistoryStore], T]) -> T | None:
    """``use(store)``, or None when the store cannot be opened or fails (warned, never raised)."""
    store = shared_store(settings.history_target)
    if isinstance(store, HistoryStore):
        try:
            return use(store)
        except Exception as error:  # noqa: BLE001
            store = error
    history_unavailable(store, action)
    return None


def show_history_notice(slot: DeltaGenerator) -> None:
    """The history warning, at the top of the page, once."""
    notice = st.session_state.pop(HISTORY_NOTICE, None)
    if notice:
        slot.warning(notice, icon=":material/history:")


def session_owner() -> str:
    """Who asks: the signed-in user (Streamlit auth), else this browser session. History is kept per owner,
    so one user never sees another's questions, nor their unapproved verified answers."""
    try:
        if st.user.is_logged_in:
            return f"user:{st.user.get('email') or st.user.get('sub')}"
    except Exception:  # noqa: BLE001 - no authentication configured
        pass
    if OWNER not in st.session_state:
        st.session_state[OWNER] = f"session:{uuid.uuid4().hex}"
    return st.session_state[OWNER]


def fingerprint_of(db: Database) -> str | None:
    """The schema's fingerprint, or None if it cannot be read (the question then fails on its own)."""
    try:
        return schema_fingerprint(reflect_schema(db))
    except Exception as error:  # noqa: BLE001
        log.warning("no schema fingerprint: %s", redact(str(error)))
        return None


def similar_examples(question: str, fingerprint: str | None, db: Database, settings: Settings) -> list[tuple[str, str]]:
    """Verified pairs like ``question``: approved ones, and this user's own on this database."""
    if fingerprint is None:
        return []
    owner = session_owner()
    found = with_history(settings, "finding examples", lambda store: store.similar_examples(
        question, fingerprint, k=EXAMPLES_SHOWN, database=db.identity, owner=owner))
    return found or []


def question_status(turn: Turn) -> str:
    """``ok``, ``refused`` (the safety check turned the SQL away) or ``error``, as the log records it."""
    if turn.answer is None:
        return "error"
    return "ok" if turn.answer.ok else turn.answer.error_kind or "error"


def log_turn(turn: Turn, settings: Settings) -> None:
    """Every question goes to the log, whatever happened to it, for the History tab."""
    answer = turn.answer
    sql = (answer.chosen or answer.sql) if answer is not None else None
    error = answer.error if answer is not None else turn.problem and turn.problem.message
    owner = session_owner()
    with_history(settings, "logging the question", lambda store: store.log_question(
        turn.question, sql, question_status(turn), error, turn.fingerprint, database=turn.database, owner=owner))


def save_verified(turn: Turn, sql: str, source: str, settings: Settings) -> bool:
    """Store ``turn``'s question with ``sql`` as a verified pair for its schema; True once saved."""
    db = st.session_state[DB]
    if not turn.question or turn.answer is None or turn.fingerprint is None or db is None:
        return False
    owner = session_owner()
    saved = with_history(settings, "saving a verified answer", lambda store: store.add_verified(
        turn.question, sql, turn.answer.context, turn.fingerprint, db.display_name, source=source,
        database=db.identity, owner=owner))
    if saved is not None:
        turn.verified_sql = sql
    return saved is not None


def on_choose_alternative(turn: Turn, sql: str, settings: Settings) -> None:
    """"Did you mean …?": the answer the user picked becomes the question's verified answer."""
    save_verified(turn, sql, "alternative", settings)


def on_thumbs_up(turn: Turn, settings: Settings) -> None:
    """The model's own chosen SQL, as it wrote it: ``answer.sql`` may carry an automatic LIMIT."""
    if turn.answer is not None and turn.answer.chosen:
        save_verified(turn, turn.answer.chosen, "thumbs_up", settings)


def audit_turn(turn: Turn, db: Database, settings: Settings) -> None:
    """Who asked what (or ran which SQL), what executed and how many rows came back: the audit log."""
    answer = turn.answer or Answer(question=turn.question, error=turn.problem and turn.problem.message,
                                   error_kind="error")
    with_history(settings, "writing the audit log",
                 lambda store: audit.record(store, answer, db, st.session_state.get(USER)))
