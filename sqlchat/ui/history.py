"""The History tab: this user's past questions on this database (each can be re-run), the verified answers
of its schema. The audit log holds every user's questions and is the operator's (``sqlchat audit``): a web
user sees only their own entries (issue 29)."""

from __future__ import annotations


import pandas as pd
import streamlit as st

from sqlchat.config import Settings
from sqlchat.history.examples import VerifiedPair
from sqlchat.history.question_log import LoggedQuestion
from sqlchat.history.store import HistoryStore
from sqlchat.sources.connection import Database
from sqlchat.ui.answer import render_reply
from sqlchat.ui.common import DB, HISTORY_OFF, RERUN, plain, utc_text
from sqlchat.ui.editor import run_turn
from sqlchat.ui.store import fingerprint_of, session_owner, with_history


HISTORY_ROWS = 50
STATUS_ICONS = {"ok": ":material/check_circle:", "error": ":material/error:", "refused": ":material/block:",
                "unanswerable": ":material/help:"}


def on_rerun(entry_id: int, sql: str, settings: Settings) -> None:
    """Run a logged question's SQL again on the connected database; the result shows under its row."""
    db = st.session_state[DB]
    if db is not None:
        st.session_state[RERUN] = (entry_id, run_turn(sql, db, settings))


def render_logged(entry: LoggedQuestion, settings: Settings) -> None:
    with st.container(border=True):
        st.markdown(f"{STATUS_ICONS.get(entry.status, '')} {plain(entry.question)}")
        error = f" · {plain(entry.error)}" if entry.error else ""
        st.caption(f"{entry.status} · {utc_text(entry.created_at)}{error}")
        if entry.sql:
            st.code(entry.sql, language="sql", wrap_lines=True)
            st.button("Re-run", key=f"rerun:{entry.id}", on_click=on_rerun, args=(entry.id, entry.sql, settings),
                      icon=":material/replay:")
        rerun = st.session_state.get(RERUN)
        if rerun is not None and rerun[0] == entry.id:
            render_reply(rerun[1], f"rerun-{entry.id}", settings)


def verified_table(pairs: list[VerifiedPair]) -> pd.DataFrame:
    return pd.DataFrame({
        "question": [p.question for p in pairs],
        "sql": [p.sql for p in pairs],
        "source": [p.source for p in pairs],
        "saved": [utc_text(p.created_at) for p in pairs],
    })


def history_of(store: HistoryStore, fingerprint: str, db: Database) -> tuple[list[LoggedQuestion], list[VerifiedPair]]:
    """This user's latest questions on this database (and schema), and the verified pairs they may see."""
    owner = session_owner()
    logged = [entry for entry in store.recent_questions(HISTORY_ROWS * 4, database=db.identity, owner=owner)
              if entry.schema_fingerprint == fingerprint]
    return logged[:HISTORY_ROWS], store.verified_for(fingerprint, HISTORY_ROWS, database=db.identity, owner=owner)


def render_history_page(db: Database, settings: Settings) -> None:
    """Past questions on this schema (newest first, each can be re-run) and its verified answers."""
    fingerprint = fingerprint_of(db)
    found = None if fingerprint is None else with_history(settings, "reading the history",
                                                          lambda store: history_of(store, fingerprint, db))
    if found is None:
        st.info(HISTORY_OFF)
        return
    entries, pairs = found
    st.subheader("Questions asked on this database")
    if not entries:
        st.caption("No questions yet: ask one on the Ask tab.")
    for entry in entries:
        render_logged(entry, settings)
    st.subheader("Verified answers")
    st.caption("Shown to the model as examples when a similar question is asked; exported as training data.")
    if pairs:
        st.dataframe(verified_table(pairs), hide_index=True)
    else:
        st.caption("None yet: approve a good answer, or correct its SQL in the editor.")
    # The audit log (every user's questions and SQL) is the operator's: `sqlchat audit`, never shown here.
