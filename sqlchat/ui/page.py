"""The page: login, the operator's file, the sidebar, and the Ask and History tabs.

The page only calls the engine (``sqlchat.sources.connection``, ``schema``, ``pipeline``, ``backends``); it never
runs code a model wrote, and every failure reaches the user as one plain sentence.
"""

from __future__ import annotations

import streamlit as st

from sqlchat.config import DEMO_DATABASES, Settings
from sqlchat.errors import SqlchatError, secret_scope
from sqlchat.governance import audit
from sqlchat.governance.deployment import Deployment, load_deployment, settings_for
from sqlchat.sources.connection import Database
from sqlchat.ui.common import DB, Problem, QUESTION, SCHEMA_ONLY_NOTE, USER, fresh_session, plain, sentence, show_problem
from sqlchat.ui.conversation import handle_question, render_conversation, render_new_conversation
from sqlchat.ui.editor import render_editor
from sqlchat.ui.history import render_history_page
from sqlchat.ui.schema_browser import render_schema_browser
from sqlchat.ui.sidebar import on_demo, on_named, sidebar_connect, sidebar_model_settings
from sqlchat.ui.store import show_history_notice


def render_welcome() -> None:
    st.info("Pick a demo database or connect your own in the sidebar, then ask a question in plain English.")


def init_state(deployment: Deployment) -> None:
    """Fresh sessions open on the operator's first connection, else the first demo (Chinook), ready to ask."""
    if DB in st.session_state:
        return
    st.session_state.update(fresh_session(None))
    if deployment.connections:
        on_named(deployment, next(iter(deployment.connections)))
    else:
        on_demo(next(iter(DEMO_DATABASES)))


def operator_file() -> Deployment:
    """The operator's secrets file; a mistake in it stops the page (its rules cannot be half applied)."""
    try:
        return load_deployment(Settings.from_env().secrets_path)
    except SqlchatError as error:
        show_problem(Problem(error.message, error.detail))
        st.stop()
        raise


def logged_in_user(deployment: Deployment) -> str:
    """Who is asking. With Streamlit's login configured, nothing else shows until the user has logged in."""
    info = st.user
    if "is_logged_in" not in info:  # no [auth] in Streamlit's secrets
        if deployment.auth:  # sqlchat's file asks for a login that Streamlit does not see: fail closed
            show_problem(Problem("Login is configured in the secrets file, but Streamlit does not read that file, "
                                 "so nobody can log in.", "Put the [auth] section in .streamlit/secrets.toml "
                                 "(see docs/security.md)."))
            st.stop()
        return audit.ANONYMOUS
    if not info.get("is_logged_in"):
        st.title(":material/forum: sqlchat")
        st.info("Please log in to ask questions about the company's data.")
        st.button("Log in", on_click=st.login, type="primary", icon=":material/login:")
        st.stop()
    return audit.user_name(info)


def render_ask_tab(question: str | None, db: Database, settings: Settings) -> None:
    schema_slot = st.container()  # filled last, so it shows the context of a question asked just now
    render_conversation(settings)
    if question:
        handle_question(question, db, settings)
    render_new_conversation()
    with schema_slot:
        render_schema_browser(db)
    render_editor(settings)


def main() -> None:
    st.set_page_config(page_title="sqlchat", page_icon="💬", layout="wide")
    deployment = operator_file()
    user = logged_in_user(deployment)
    init_state(deployment)
    st.session_state[USER] = user
    with st.sidebar:
        if user != audit.ANONYMOUS:
            st.caption(f":material/person: Logged in as **{plain(user)}**")
            st.button("Log out", on_click=st.logout, type="tertiary", icon=":material/logout:")
        sidebar_connect(deployment)
        settings = sidebar_model_settings(deployment)
    db: Database | None = st.session_state[DB]
    if db is not None:
        settings = settings_for(settings, deployment.connections.get(db.connection_name or ""))
    # This session's own secrets (its connection's password, the key it typed) are masked in what it sees;
    # another session's are not, so they cannot be guessed by what gets masked (errors.secret_scope).
    with secret_scope([*(db.secrets if db is not None else ()), settings.model.api_key or ""]):
        render_main(db, settings)


def render_main(db: Database | None, settings: Settings) -> None:
    st.title(":material/forum: sqlchat")
    question = st.chat_input(
        "Ask a question, e.g. How many customers are in each country?" if db else "Connect a database first",
        key=QUESTION, disabled=db is None,
    )
    if db is None:
        render_welcome()
        return
    st.caption(f"Connected to {sentence(db.display_name)} ({db.dialect}). Ask below; the SQL is always shown.")
    if not db.executable:
        st.warning(SCHEMA_ONLY_NOTE)
    notice_slot = st.empty()  # filled last, so a history failure anywhere in this run is told here
    ask_tab, history_tab = st.tabs(["Ask", "History"])
    with ask_tab:
        render_ask_tab(question, db, settings)
    with history_tab:
        render_history_page(db, settings)
    show_history_notice(notice_slot)
