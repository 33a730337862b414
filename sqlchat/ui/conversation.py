"""The chat as a conversation: each question is asked after the turns before it (``sqlchat.conversation``),
so "And to France?" follows "How many invoices went to Germany?"; "New conversation" starts over."""

from __future__ import annotations

from collections.abc import Iterator

import streamlit as st

from sqlchat import pipeline
from sqlchat.config import Settings
from sqlchat.conversation import Conversation
from sqlchat.governance.policy import permitted_examples
from sqlchat.prompt import Turn as Said
from sqlchat.sources.connection import Database
from sqlchat.pipeline import Answer
from sqlchat.ui.answer import render_reply, render_rows_while_checking, render_user
from sqlchat.ui.common import CONVERSATION, TURNS, Turn, new_conversation, problem_from
from sqlchat.ui.editor import load_editor
from sqlchat.ui.sidebar import shared_backend
from sqlchat.ui.store import audit_turn, fingerprint_of, log_turn, similar_examples


def ask_question(question: str, db: Database, settings: Settings) -> Turn:
    """Load the model (first time only) and answer after the conversation so far; failures become a Problem,
    never a traceback. The answer (or the failure) becomes the conversation's latest turn and the chat's, even
    when a new question stops this run while the rows are being checked: the turn keeps the rows shown."""
    conversation: Conversation = st.session_state[CONVERSATION]
    earlier = list(conversation.turns)
    turn = Turn(question, fingerprint=fingerprint_of(db), database=db.identity, follows=follows(settings))
    answers: Iterator[Answer] = iter(())
    try:
        turn.examples = permitted_examples(similar_examples(question, turn.fingerprint, db, settings), db) or []
        with st.spinner("Loading the model (the first time takes a little while)…"):
            backend = shared_backend(settings.model)
        with st.spinner("Writing the SQL and running it…"):
            answers = pipeline.answers(question, db, backend, settings, examples=turn.examples or None, earlier=earlier)
            turn.answer = next(answers)
    except Exception as error:  # noqa: BLE001
        turn.problem = problem_from(error, "answering your question")
    try:
        if turn.answer is not None and turn.answer.checking:
            settle_after_showing(turn, answers)
    finally:
        _record(turn, conversation, db, settings)
    return turn


def settle_after_showing(turn: Turn, later: Iterator[Answer]) -> None:
    """Show an unsure answer's rows at once and check how sure it is under a spinner: the settled answer (its
    confidence, the other results found) then takes the rows' place. The turn holds each answer before the page
    is touched again, so a run stopped by a new question keeps the latest."""
    early = st.empty()
    with early.container():
        render_rows_while_checking(turn.answer)
    with st.spinner("Checking how sure this answer is…"):
        for turn.answer in later:
            pass
    early.empty()


def _record(turn: Turn, conversation: Conversation, db: Database, settings: Settings) -> None:
    """The turn joins the conversation (what a follow-up is asked after) and the chat, and is logged and audited."""
    if turn.answer is not None:
        conversation.add(turn.question, turn.answer)
    else:
        conversation.turns.append(Said(turn.question, None, ok=False, error=turn.problem.message))
    turn.position = len(conversation) - 1
    st.session_state[TURNS].append(turn)
    log_turn(turn, settings)
    audit_turn(turn, db, settings)


def follows(settings: Settings) -> str | None:
    """The question the next one is asked after, if the conversation has one and follow-ups are on."""
    turns = st.session_state[CONVERSATION].turns
    return turns[-1].question if turns and settings.conversation.turns > 0 else None


def handle_question(question: str, db: Database, settings: Settings) -> None:
    turn = Turn(question, follows=follows(settings))
    render_user(turn)
    with st.chat_message("assistant"):
        turn = ask_question(question, db, settings)
        render_reply(turn, str(len(st.session_state[TURNS]) - 1), settings)
    if turn.answer is not None and turn.answer.sql:
        load_editor(turn)
    if turn.answer is not None:  # the model loaded: while the user reads, it reads what a follow-up begins with
        pipeline.read_ahead_in_background(db, shared_backend(settings.model), settings,
                                          st.session_state[CONVERSATION].turns)


def on_new_conversation() -> None:
    """Start over: the chat empties and the next question stands alone (past questions stay on the History tab)."""
    st.session_state.update(new_conversation())


def render_new_conversation() -> None:
    """The "New conversation" button, once there is a conversation to leave."""
    if st.session_state[TURNS]:
        st.button("New conversation", key="new_conversation", on_click=on_new_conversation, icon=":material/add_comment:",
                  help="Forget the questions so far: the next one is answered on its own.")


def render_conversation(settings: Settings) -> None:
    for index, turn in enumerate(st.session_state[TURNS]):
        render_user(turn)
        with st.chat_message("assistant"):
            render_reply(turn, str(index), settings)
