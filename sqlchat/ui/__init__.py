"""The web app's page, in parts: ``page`` (login, tabs), ``sidebar`` (connections, model settings),
``conversation`` (the chat), ``answer`` (one answer's card), ``editor`` (SQL editor), ``schema_browser``,
``history`` (the History tab), ``store`` (history store access) and ``common`` (state keys, sentences).

Only these modules and ``streamlit_app.py`` import streamlit; they call the engine, which never imports them.
"""
