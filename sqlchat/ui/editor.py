"""The SQL editor: run SQL through the engine's check and read-only executor; an answer's SQL loaded with
"Edit this SQL" and changed is the question's corrected answer, and the conversation's context from then on."""

from __future__ import annotations

import streamlit as st

from sqlchat import pipeline
from sqlchat.config import Settings
from sqlchat.sources.connection import Database
from sqlchat.ui.common import CONVERSATION, DB, EDITOR, EDIT_SOURCE, TURNS, Turn, problem_from
from sqlchat.ui.store import audit_turn, save_verified


def run_turn(sql: str, db: Database, settings: Settings) -> Turn:
    """Run SQL through the same check and read-only executor as the model's."""
    turn = Turn(question=None)
    try:
        turn.answer = pipeline.run_sql(sql, db, settings)
    except Exception as error:  # noqa: BLE001
        turn.problem = problem_from(error, "running your SQL")
    audit_turn(turn, db, settings)
    return turn


def normal_sql(sql: str) -> str:
    """SQL compared up to whitespace and a final semicolon."""
    return " ".join(sql.strip().rstrip(";").split())


def is_correction(origin: Turn, sql: str) -> bool:
    """Whether ``sql`` changes what ``origin`` answered (or last saved): running it unchanged verifies nothing."""
    answer = origin.answer
    if not origin.question or answer is None:
        return False
    known = {normal_sql(text) for text in (answer.sql, answer.chosen, origin.verified_sql) if text}
    return normal_sql(sql) not in known


def on_run_editor(settings: Settings) -> None:
    """Run the editor's SQL; if it corrects an answer and runs cleanly, keep it as that question's verified SQL,
    and as what that question stands for in the conversation: the next question follows the user's SQL."""
    sql = (st.session_state.get(EDITOR) or "").strip()
    db = st.session_state[DB]
    if not sql or db is None:
        return
    turn = run_turn(sql, db, settings)
    origin: Turn | None = st.session_state.get(EDIT_SOURCE)
    if origin is not None and turn.answer is not None and turn.answer.ok and is_correction(origin, sql):
        if save_verified(origin, sql, "edited", settings):
            turn.corrects = origin.question
        if origin.position is not None:
            st.session_state[CONVERSATION].edited(origin.position, turn.answer)
            turn.continues = origin.question
    st.session_state[TURNS].append(turn)


def load_editor(turn: Turn) -> None:
    """Put an answer's SQL in the editor; a changed version that runs is saved as the corrected answer."""
    st.session_state[EDITOR] = turn.answer.sql
    st.session_state[EDIT_SOURCE] = turn if turn.question else None


def render_editor(settings: Settings) -> None:
    with st.container(border=True):
        st.text_area("Write or edit SQL", key=EDITOR, height=110, placeholder="SELECT Name FROM Artist LIMIT 3")
        st.button("Run SQL", key="run_sql", on_click=on_run_editor, args=(settings,), type="primary")
        st.caption("Runs through the same safety check as the model's SQL: one read-only query, rows capped.")
