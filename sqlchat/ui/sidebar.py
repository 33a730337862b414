"""The sidebar: connecting a database (demos, the operator's named connections, a URL, uploads, a schema
script) and the model settings the operator allows; one loaded model is shared by every session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from sqlchat.config import DEMO_DATABASES, ModelConfig, Settings
from sqlchat.errors import ConnectionFailed
from sqlchat.governance.deployment import Deployment
from sqlchat.models import backends
from sqlchat.models.registry import DEFAULT_MODEL, MODELS
from sqlchat.models.urls import same_server
from sqlchat.sources import connection
from sqlchat.sources.connection import Database
from sqlchat.sources.named import open_named
from sqlchat.ui.common import CONNECT_PROBLEM, DB, Problem, SCRIPT, UPLOADS, URL_INPUT, fresh_session, problem_from, sentence, show_problem


MODEL_SETTINGS_OFF = "The model is set by the operator of this server."
BACKEND_LABELS = {"local": "Embedded local model", "openai": "OpenAI-compatible server (e.g. vLLM)"}
UPLOAD_KINDS = {
    "sqlite": connection.SQLITE_SUFFIXES,
    "tabular": connection.TABULAR_SUFFIXES,
    "script": connection.SCRIPT_SUFFIXES,
}


def upload_kind(filename: str) -> str | None:
    suffix = Path(filename).suffix.lower()
    return next((kind for kind, suffixes in UPLOAD_KINDS.items() if suffix in suffixes), None)


def open_uploads(files: list[tuple[str, bytes]]) -> Database:
    """One SQLite file, one CREATE TABLE script, or any number of CSV/Excel files (a table each)."""
    kinds = {upload_kind(name) for name, _ in files}
    if kinds == {"sqlite"} and len(files) == 1:
        return connection.connect_sqlite_bytes(*files[0])
    if kinds == {"script"} and len(files) == 1:
        return connection.connect_schema_script(files[0][1].decode("utf-8", errors="replace"))
    if kinds == {"tabular"}:
        return connection.connect_tabular_files(files)
    raise ConnectionFailed(
        "Upload one SQLite file, one CREATE TABLE script, or CSV/Excel files, not a mix.",
        detail="Files: " + ", ".join(name for name, _ in files),
    )


def open_database(opener: Callable[[], Database], action: str) -> bool:
    """Swap in a new database (starting a fresh history); keep the old one if opening fails."""
    try:
        db = opener()
    except Exception as error:  # noqa: BLE001 - shown as a sentence, never a traceback
        st.session_state[CONNECT_PROBLEM] = problem_from(error, action)
        return False
    old = st.session_state.get(DB)
    if old is not None:
        old.close()
    st.session_state.update(fresh_session(db))
    return True


def on_demo(name: str) -> None:
    open_database(lambda: connection.connect(DEMO_DATABASES[name]), "opening the demo database")


def on_named(deployment: Deployment, name: str) -> None:
    """Open an operator's named connection: its rules travel with the Database, its URL is never shown."""
    open_database(lambda: open_named(deployment.connection(name)), "connecting to the database")


def on_url(deployment: Deployment) -> None:
    if not deployment.allow_urls:  # the expander is not shown; refuse a stale or forged callback too
        return
    url = (st.session_state.get(URL_INPUT) or "").strip()
    if not url:
        st.session_state[CONNECT_PROBLEM] = Problem("Type a database URL first.")
        return
    allow_paths = deployment.allow_sqlite_paths  # a file on this server is not the user's to open
    if open_database(lambda: connection.connect(url, allow_paths=allow_paths, typed=True), "connecting to the database"):
        st.session_state[URL_INPUT] = ""  # the raw URL does not linger in the page


def on_upload(deployment: Deployment) -> None:
    files = st.session_state.get(UPLOADS) or []
    if files and deployment.allow_uploads:
        data = [(f.name, f.getvalue()) for f in files]
        open_database(lambda: open_uploads(data), "reading the uploaded files")


def on_script(deployment: Deployment) -> None:
    script = st.session_state.get(SCRIPT) or ""
    if deployment.allow_uploads:
        open_database(lambda: connection.connect_schema_script(script), "reading the CREATE TABLE script")


def sidebar_connect(deployment: Deployment) -> None:
    st.header("Connect")
    if deployment.connections:  # the operator's connections replace the demos (which would bypass their rules)
        for name, named in deployment.connections.items():
            st.button(named.title, key=f"named:{name}", on_click=on_named, args=(deployment, name), width="stretch",
                      help=named.description or None)
    else:
        st.caption("Try a demo database in one click:")
        for name in DEMO_DATABASES:
            st.button(name, key=f"demo:{name}", on_click=on_demo, args=(name,), width="stretch")
    if deployment.allow_urls:
        sidebar_url(deployment)
    if deployment.allow_uploads:
        sidebar_uploads(deployment)
    if st.session_state[CONNECT_PROBLEM] is not None:
        show_problem(st.session_state[CONNECT_PROBLEM])
    elif st.session_state[DB] is not None:
        st.success(f"Connected to {sentence(st.session_state[DB].display_name)}")


def sidebar_url(deployment: Deployment) -> None:
    with st.expander("Database URL"):
        st.text_input(
            "SQLAlchemy URL",
            key=URL_INPUT,
            type="password",
            placeholder="postgresql://user:password@host:5432/db",
            help="PostgreSQL, MySQL/MariaDB or SQLite. Opened read-only; the password is never shown.",
        )
        st.button("Connect", key="connect_url", on_click=on_url, args=(deployment,))


def sidebar_uploads(deployment: Deployment) -> None:
    with st.expander("Upload files"):
        st.file_uploader(
            "A SQLite file, CSV/Excel files (a table each) or a CREATE TABLE script",
            type=sorted(s.lstrip(".") for suffixes in UPLOAD_KINDS.values() for s in suffixes),
            accept_multiple_files=True,
            key=UPLOADS,
            on_change=on_upload,
            args=(deployment,),
        )
    with st.expander("Schema only (CREATE TABLE script)"):
        st.text_area("CREATE TABLE statements", key=SCRIPT, placeholder="CREATE TABLE orders (id INTEGER, ...);")
        st.button("Use this schema", key="connect_script", on_click=on_script, args=(deployment,))
        st.caption("SQL is written and checked, but cannot run without data.")


def optional_text(label: str, key: str, default: str | None, **kwargs) -> str | None:
    """A text box left blank to keep the environment's value (shown as the placeholder, never prefilled)."""
    value = st.text_input(label, key=key, placeholder=default or "", **kwargs)
    return (value or "").strip() or None


def model_settings_allowed(policy: Deployment, env: ModelConfig) -> bool:
    """The operator's ``allow_model_settings``; unset: only when the server holds no API key to misuse."""
    return policy.allow_model_settings if policy.allow_model_settings is not None else not env.api_key


def server_key_for(base_url: str | None, env: ModelConfig) -> str:
    """The server's API key goes only to the server's own model URL; anywhere else, no key ('')."""
    return (env.api_key or "") if same_server(base_url or env.base_url, env.base_url) else ""


def sidebar_model_settings(policy: Deployment) -> Settings:
    """The sidebar's choices over the environment's defaults (``Settings.from_env``), if the operator allows."""
    base = Settings.from_env()
    env = base.model
    if not model_settings_allowed(policy, env):
        st.caption(MODEL_SETTINGS_OFF)
        return base
    adapter = base_url = api_key = openai_api = None
    with st.expander("Model settings"):
        names = list(BACKEND_LABELS)
        backend = st.radio(
            "Backend", names, index=names.index(env.backend) if env.backend in names else 0,
            format_func=BACKEND_LABELS.__getitem__, key="model_backend",
        )
        if backend == "local":
            # Only names from `sqlchat models` and the operator's listed paths: a typed path or hub id would let a
            # user probe the server's files and make it contact the model hub (issue 29).
            models = [""] + list(MODELS) + [p for p in policy.model_paths if p not in MODELS]
            model = st.selectbox("Model", models, key="model_path",
                                 format_func=lambda m: m or f"{env.model or DEFAULT_MODEL} (default)",
                                 help="An embedded model (`sqlchat models`) or one the operator listed.") or None
            adapters = ["", "none", *policy.adapter_paths]
            adapter = st.selectbox("Adapter", adapters, key="adapter_path",
                                   format_func=lambda a: {"": "the model's published adapter, if any",
                                                          "none": "none (the bare model)"}.get(a, a),
                                   help="The default, none, or an adapter the operator listed.") or None
        else:
            base_url = optional_text("Server URL", "base_url",
                                     connection.mask_url(env.base_url) if env.base_url else "http://gpu-box:8000/v1")
            model = optional_text("Model name", "served_model", env.model or "sql")
            apis = ["completions", "chat"]
            openai_api = st.radio("API", apis, index=apis.index(env.openai_api) if env.openai_api in apis else 0,
                                  horizontal=True, key="openai_api",
                                  help="/completions sends the prompt as the model was trained on it; /chat/completions "
                                       "sends chat messages (Ollama, hosted services).")
            api_key = optional_text("API key", "api_key", None, type="password",
                                    help="Blank: the key from the environment, if any.")
        candidates = st.number_input(
            "SQL candidates", min_value=1, max_value=8, value=env.num_candidates, key="candidates",
            help="The model offers this many queries; the first that runs is the answer. More is slower.",
        )
    if backend == "openai":
        api_key = api_key or server_key_for(base_url, env)
    return base.with_model(backend=backend, model=model, adapter=adapter, base_url=base_url, api_key=api_key,
                           openai_api=openai_api, num_candidates=int(candidates))


@st.cache_resource(show_spinner=False, max_entries=2)
def shared_backend(model: ModelConfig) -> backends.Backend:
    """One loaded model per configuration, shared by every session: loading takes seconds."""
    return backends.load_backend(model)
