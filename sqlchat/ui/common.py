"""What every part of the page shares: session-state keys, a turn of the chat, failures as sentences, escaping.

A failure reaches the user as one plain sentence (:class:`Problem`) with the details in an expander,
redacted; text from the data or other users is escaped before it is rendered as Markdown.
"""

from __future__ import annotations

import logging
import re
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone

import streamlit as st

from sqlchat.conversation import Conversation
from sqlchat.errors import SqlchatError, redact, user_text
from sqlchat.pipeline import Answer
from sqlchat.sources.connection import Database

log = logging.getLogger("sqlchat.app")

# st.session_state keys
DB = "db"  # the open Database, or None
CONNECT_PROBLEM = "connect_problem"  # Problem from the last connection attempt, or None
TURNS = "turns"  # list[Turn]: the conversation's questions and answers, as shown
CONVERSATION = "conversation"  # sqlchat.conversation.Conversation: what the next question follows
EDITOR = "editor_sql"  # text of the SQL editor
URL_INPUT = "url_input"
UPLOADS = "uploads"
SCRIPT = "schema_script"
QUESTION = "question"
EDIT_SOURCE = "edit_source"  # the Turn whose SQL the editor was loaded with: a run that changes it corrects it
RERUN = "rerun"  # (log id, Turn) of the last Re-run on the History tab, or None
HISTORY_WARNED = "history_warned"  # the user was told the history store is unavailable (once a session)
HISTORY_NOTICE = "history_notice"  # that warning, waiting to be shown on this run
OWNER = "owner"  # who this browser session is, for the history store (see session_owner)
USER = "user"  # who is asking: the logged-in user's e-mail or name, or "anonymous" without a login

SCHEMA_ONLY_NOTE = (
    "This database has only a schema (from a CREATE TABLE script), so SQL is written and checked "
    "but cannot run without data."
)
SAVED_NOTE = "Saved as a verified answer: similar questions will use it as an example."
HISTORY_OFF = "History is unavailable right now: questions are still answered, but not remembered."
MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$])")
# In a sentence (an error message quoting a table name), what could make a link, an image or HTML.
SENTENCE_SPECIALS = re.compile(r"([\\`*_{}\[\]<>#|~$!])")


@dataclass(frozen=True)
class Problem:
    """A failure as a user sees it: one sentence, and technical details for an expander."""

    message: str
    detail: str | None = None


@dataclass
class Turn:
    """One exchange in the history: a question (or SQL from the editor) and what came back."""

    question: str | None  # None when the user ran SQL from the editor
    answer: Answer | None = None
    problem: Problem | None = None  # a failure outside the pipeline (model load, a bug)
    fingerprint: str | None = None  # schema the question was asked on: verified pairs are kept per schema
    database: str | None = None  # connection.Database.identity: history is kept per database and owner
    examples: list[tuple[str, str]] = field(default_factory=list)  # verified pairs the model was shown
    verified_sql: str | None = None  # the SQL saved as this question's verified answer, if any
    corrects: str | None = None  # editor runs: the question whose answer this SQL corrected (and was saved for)
    position: int | None = None  # questions: this turn's place in the Conversation (an edit of its SQL is added after)
    follows: str | None = None  # questions: the earlier question this one was asked after, if any
    continues: str | None = None  # editor runs: the question whose SQL this edit now stands for in the conversation


def problem_from(error: Exception, action: str) -> Problem:
    """Our errors carry their own sentence; anything else becomes a generic one, redacted."""
    if isinstance(error, SqlchatError):
        return Problem(error.message, error.detail)
    log.error("unexpected error while %s: %s", action, redact("".join(traceback.format_exception(error))))
    return Problem(f"Something went wrong while {action}.", redact(f"{type(error).__name__}: {error}"))


def plain(text: str) -> str:
    """``text`` escaped for st.markdown: a stored question from any user shows as typed, never as links or images."""
    return MARKDOWN_SPECIALS.sub(r"\\\1", text)


def sentence(text: str) -> str:
    """A message for st.error/st.caption: names quoted from the data cannot become links, images or HTML."""
    return SENTENCE_SPECIALS.sub(r"\\\1", text)


def utc_text(moment: datetime) -> str:
    """A stored time in UTC (SQLite hands back naive UTC, PostgreSQL an aware time)."""
    aware = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    return aware.strftime("%Y-%m-%d %H:%M UTC")


def show_problem(problem: Problem, typed: tuple[str | None, ...] = ()) -> None:
    """A failure as a sentence and its details; ``typed`` (the user's question and SQL) is echoed unmasked,
    as :func:`sqlchat.errors.user_text` explains."""
    with user_text(*typed):
        message, detail = redact(problem.message), redact(problem.detail) if problem.detail else None
    st.error(sentence(message), icon=":material/error:")
    if detail:
        with st.expander("Details"):
            st.code(detail, language="text", wrap_lines=True)


def fresh_session(db: Database | None) -> dict[str, object]:
    """Session state for a newly opened database: a new conversation, an empty editor, nothing to re-run."""
    return {DB: db, CONNECT_PROBLEM: None, **new_conversation(), RERUN: None}


def new_conversation() -> dict[str, object]:
    """Session state for starting over: no turns shown, nothing for the next question to follow, an empty editor."""
    return {TURNS: [], CONVERSATION: Conversation(), EDITOR: "", EDIT_SOURCE: None}


def seconds_text(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
