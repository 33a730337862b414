"""sqlchat in the browser: connect a database, ask in plain English, see the SQL and the answer.

The page only calls the engine (``sqlchat.sources.connection``, ``schema``, ``pipeline``,
``backends``); it never runs code a model wrote, and every failure reaches the
user as one plain sentence with the details in an expander.

Run with: ``streamlit run streamlit_app.py``
"""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from sqlchat import pipeline
from sqlchat.charts import ChartChoice, chart_data, choose_chart
from sqlchat.config import DEMO_DATABASES, ModelConfig, Settings
from sqlchat.errors import ConnectionFailed, SqlchatError, redact, register_secret, secret_scope
from sqlchat.export import csv_bytes
from sqlchat.governance import audit
from sqlchat.governance.deployment import Deployment, load_deployment, settings_for
from sqlchat.governance.policy import permitted_examples
from sqlchat.history import AuditEntry, HistoryStore, LoggedQuestion, VerifiedPair, schema_fingerprint
from sqlchat.models import backends
from sqlchat.models.registry import DEFAULT_MODEL, MODELS
from sqlchat.models.urls import same_server
from sqlchat.pipeline import Answer
from sqlchat.schema.model import Schema, Table
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources import connection
from sqlchat.sources.connection import Database
from sqlchat.sources.named import open_named

log = logging.getLogger("sqlchat.app")
T = TypeVar("T")

# st.session_state keys
DB = "db"  # the open Database, or None
CONNECT_PROBLEM = "connect_problem"  # Problem from the last connection attempt, or None
TURNS = "turns"  # list[Turn]: this session's questions and answers
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
EXAMPLES_SHOWN = 3
HISTORY_ROWS = 50
MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$])")
# In a sentence (an error message quoting a table name), what could make a link, an image or HTML.
SENTENCE_SPECIALS = re.compile(r"([\\`*_{}\[\]<>#|~$!])")
MODEL_SETTINGS_OFF = "The model is set by the operator of this server."
STATUS_ICONS = {"ok": ":material/check_circle:", "error": ":material/error:", "refused": ":material/block:",
                "unanswerable": ":material/help:"}
CONFIDENCE_BADGES = {"high": ("green", ":material/verified:"), "medium": ("orange", ":material/help:"),
                     "low": ("red", ":material/warning:")}
LOW_NOTE = ("Not sure: the model's attempts disagreed or found little, so this may not answer your question. "
            "Read what the SQL does above, or pick one of the other answers it found.")
ALTERNATIVE_SAVED = "Saved as your verified answer: similar questions will use it as an example."
BACKEND_LABELS = {"local": "Embedded local model", "openai": "OpenAI-compatible server (e.g. vLLM)"}
UPLOAD_KINDS = {
    "sqlite": connection.SQLITE_SUFFIXES,
    "tabular": connection.TABULAR_SUFFIXES,
    "script": connection.SCRIPT_SUFFIXES,
}


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
    database: str | None = None  # sqlchat.sources.connection.Database.identity: history is kept per database and owner
    examples: list[tuple[str, str]] = field(default_factory=list)  # verified pairs the model was shown
    verified_sql: str | None = None  # the SQL saved as this question's verified answer, if any
    corrects: str | None = None  # editor runs: the question whose answer this SQL corrected (and was saved for)


# --------------------------------------------------------------------------- errors


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


def show_problem(problem: Problem) -> None:
    st.error(sentence(redact(problem.message)), icon=":material/error:")
    if problem.detail:
        with st.expander("Details"):
            st.code(redact(problem.detail), language="text", wrap_lines=True)


# --------------------------------------------------------------------------- connecting


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


def fresh_session(db: Database | None) -> dict[str, object]:
    """Session state for a newly opened database: no turns, an empty editor, nothing to re-run."""
    return {DB: db, CONNECT_PROBLEM: None, TURNS: [], EDITOR: "", EDIT_SOURCE: None, RERUN: None}


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
    if open_database(lambda: connection.connect(url, allow_paths=allow_paths), "connecting to the database"):
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


# --------------------------------------------------------------------------- model


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
            model = optional_text("Model", "model_path", env.model or f"{DEFAULT_MODEL} (embedded)",
                                  help=f"An embedded model ({', '.join(MODELS)}), a .gguf file, a Hugging Face "
                                       "folder or id. Blank: the default.")
            adapter = optional_text("Adapter", "adapter_path", env.adapter or "the model's published adapter, if any",
                                    help="A PEFT adapter folder (with adapter.gguf for llama.cpp) or a GGUF LoRA file; "
                                         "blank for the default, 'none' for the bare model.")
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


# --------------------------------------------------------------------------- history store


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


# --------------------------------------------------------------------------- asking


def ask_question(question: str, db: Database, settings: Settings) -> Turn:
    """Load the model (first time only) and answer; failures become a Problem, never a traceback."""
    turn = Turn(question, fingerprint=fingerprint_of(db), database=db.identity)
    try:
        turn.examples = permitted_examples(similar_examples(question, turn.fingerprint, db, settings), db) or []
        with st.spinner("Loading the model (the first time takes a little while)…"):
            backend = shared_backend(settings.model)
        with st.spinner("Writing the SQL and running it…"):
            turn.answer = pipeline.ask(question, db, backend, settings, examples=turn.examples or None)
    except Exception as error:  # noqa: BLE001
        turn.problem = problem_from(error, "answering your question")
    log_turn(turn, settings)
    audit_turn(turn, db, settings)
    return turn


def run_turn(sql: str, db: Database, settings: Settings) -> Turn:
    """Run SQL through the same check and read-only executor as the model's."""
    turn = Turn(question=None)
    try:
        turn.answer = pipeline.run_sql(sql, db, settings)
    except Exception as error:  # noqa: BLE001
        turn.problem = problem_from(error, "running your SQL")
    audit_turn(turn, db, settings)
    return turn


def audit_turn(turn: Turn, db: Database, settings: Settings) -> None:
    """Who asked what (or ran which SQL), what executed and how many rows came back: the audit log."""
    answer = turn.answer or Answer(question=turn.question, error=turn.problem and turn.problem.message,
                                   error_kind="error")
    with_history(settings, "writing the audit log",
                 lambda store: audit.record(store, answer, db, st.session_state.get(USER)))


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
    """Run the editor's SQL; if it corrects an answer and runs cleanly, keep it as that question's verified SQL."""
    sql = (st.session_state.get(EDITOR) or "").strip()
    db = st.session_state[DB]
    if not sql or db is None:
        return
    turn = run_turn(sql, db, settings)
    origin: Turn | None = st.session_state.get(EDIT_SOURCE)
    if (origin is not None and turn.answer is not None and turn.answer.ok and is_correction(origin, sql)
            and save_verified(origin, sql, "edited", settings)):
        turn.corrects = origin.question
    st.session_state[TURNS].append(turn)


def load_editor(turn: Turn) -> None:
    """Put an answer's SQL in the editor; a changed version that runs is saved as the corrected answer."""
    st.session_state[EDITOR] = turn.answer.sql
    st.session_state[EDIT_SOURCE] = turn if turn.question else None


def handle_question(question: str, db: Database, settings: Settings) -> None:
    turn = Turn(question)
    render_user(turn)
    with st.chat_message("assistant"):
        turn = ask_question(question, db, settings)
        render_reply(turn, str(len(st.session_state[TURNS])), settings)
    st.session_state[TURNS].append(turn)
    if turn.answer is not None and turn.answer.sql:
        load_editor(turn)


# --------------------------------------------------------------------------- rendering answers


def seconds_text(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def result_summary(answer: Answer) -> str:
    rows = len(answer.frame)
    parts = [f"{rows} row{'' if rows == 1 else 's'}"]
    if answer.retried:
        parts.append("the first SQL found nothing, so the model was asked for more candidates")
    if answer.repaired:
        parts.append("the model's SQL was corrected to the schema's names, foreign keys and stored values")
    if answer.columns_added:
        parts.append("name and measure columns were added so the rows read on their own")
    if answer.limit_added:
        parts.append("a LIMIT was added because the query had none")
    if answer.capped:
        parts.append(f"capped: only the first {rows} rows were fetched")
    if answer.cap_note:
        parts.append(answer.cap_note)
    return " · ".join(parts)


def render_chart(frame: pd.DataFrame, choice: ChartChoice) -> None:
    """Bar or line chart from a fixed Altair spec: declarative, no model-written code."""
    data = chart_data(frame, choice)
    if choice.kind == "bar":
        chart = alt.Chart(data).mark_bar().encode(
            y=alt.Y("label:N", sort="-x", title=choice.x),
            x=alt.X("value:Q", title=choice.y),
            tooltip=[alt.Tooltip("label:N", title=choice.x), alt.Tooltip("value:Q", title=choice.y)],
        ).properties(height=max(160, 36 * len(data)))
    else:
        chart = alt.Chart(data).mark_line(point=True).encode(
            x=alt.X("label:T", title=choice.x),
            y=alt.Y("value:Q", title=choice.y),
            tooltip=[alt.Tooltip("label:T", title=choice.x), alt.Tooltip("value:Q", title=choice.y)],
        )
    st.altair_chart(chart, width="stretch")


def render_result(answer: Answer, key: str) -> None:
    frame = answer.frame
    st.caption(result_summary(answer))
    choice = choose_chart(frame)
    table, chart = st.columns([3, 2]) if choice else (st.container(), None)
    with table:
        st.dataframe(frame, hide_index=True)
    if chart is not None:
        with chart:
            render_chart(frame, choice)
    st.download_button(
        "Download CSV", csv_bytes(frame), file_name=f"sqlchat-answer-{key}.csv",
        mime="text/csv", key=f"csv:{key}", on_click="ignore", icon=":material/download:",
    )


def render_examples(examples: list[tuple[str, str]]) -> None:
    """Which verified answers the model was shown, so a user can tell where its SQL came from."""
    with st.expander(f"Verified examples shown to the model ({len(examples)})", icon=":material/school:"):
        for question, sql in examples:
            st.markdown(f"**{plain(question)}**")
            st.code(sql, language="sql", wrap_lines=True)


def render_feedback(turn: Turn, key: str, settings: Settings) -> None:
    """Edit the SQL; approve a model's answer (thumbs up); say when an answer was saved as verified."""
    answer = turn.answer
    with st.container(horizontal=True):
        if answer.sql:
            st.button("Edit this SQL", key=f"edit:{key}", on_click=load_editor, args=(turn,),
                      icon=":material/edit:", type="tertiary")
        if turn.question and answer.ok and answer.chosen:
            st.button("Good answer", key=f"up:{key}", on_click=on_thumbs_up, args=(turn, settings),
                      icon=":material/thumb_up:", type="tertiary", disabled=turn.verified_sql is not None,
                      help="Save this question and SQL as a verified answer: similar questions will use it.")
    if turn.verified_sql is not None or turn.corrects:
        st.caption(f":material/verified: {SAVED_NOTE}")


def render_footer(turn: Turn, key: str, settings: Settings) -> None:
    """Time of each step, the tables and examples sent to the model, and the feedback buttons."""
    answer = turn.answer
    steps = " · ".join(f"{step} {seconds_text(s)}" for step, s in answer.timings.items())
    tables = f" · tables sent to the model: {sentence(', '.join(answer.tables))}" if answer.tables else ""
    st.caption(f":material/timer: {steps}{tables}")
    if turn.examples:
        render_examples(turn.examples)
    render_feedback(turn, key, settings)


def render_trust(turn: Turn, key: str, settings: Settings) -> None:
    """What the SQL does and how sure the answer is, above the result; on low confidence, a plain warning."""
    answer = turn.answer
    if answer.explanation:
        st.markdown(f":material/info: {plain(answer.explanation)}")
    if answer.confidence in CONFIDENCE_BADGES:
        color, icon = CONFIDENCE_BADGES[answer.confidence]
        st.badge(f"Confidence: {answer.confidence}", color=color, icon=icon)
    if answer.confidence == "low":
        st.warning(LOW_NOTE, icon=":material/warning:")


def render_alternatives(turn: Turn, key: str, settings: Settings) -> None:
    """On low confidence, under the result: the other answers the candidates found, each with what it does."""
    if turn.answer.confidence != "low" or not turn.answer.alternatives or not turn.question:
        return
    with st.container(border=True, key=f"alternatives:{key}"):
        st.markdown("**Did you mean …?**")
        for index, alternative in enumerate(turn.answer.alternatives):
            st.markdown(plain(alternative.explanation or alternative.sql))
            st.dataframe(alternative.preview, hide_index=True)
            st.button("Use this answer", key=f"alt:{key}:{index}", on_click=on_choose_alternative,
                      args=(turn, alternative.sql, settings), icon=":material/check:", type="tertiary",
                      disabled=turn.verified_sql is not None)
            if turn.verified_sql == alternative.sql:
                st.caption(f":material/verified: {ALTERNATIVE_SAVED}")


def render_answer(turn: Turn, key: str, settings: Settings) -> None:
    answer = turn.answer
    if answer.sql:
        st.code(answer.sql, language="sql", wrap_lines=True)
    if answer.error_kind == "unanswerable":
        st.warning(answer.error, icon=":material/help:")
    elif answer.error:
        show_problem(Problem(answer.error, answer.error_detail))
        if answer.question:
            st.caption("Try rephrasing the question, or fix the SQL in the editor below and run it.")
    else:
        render_trust(turn, key, settings)
        if answer.frame is not None:
            render_result(answer, key)
        else:
            st.info(SCHEMA_ONLY_NOTE)
        render_alternatives(turn, key, settings)
    render_footer(turn, key, settings)


def render_user(turn: Turn) -> None:
    with st.chat_message("user"):
        if turn.question:
            st.markdown(turn.question)
        elif turn.corrects:
            st.markdown(f"*Ran SQL from the editor, correcting:* {plain(turn.corrects)}")
        else:
            st.markdown("*Ran SQL from the editor*")


def render_reply(turn: Turn, key: str, settings: Settings) -> None:
    if turn.problem is not None:
        show_problem(turn.problem)
    elif turn.answer is not None:
        render_answer(turn, key, settings)


def render_conversation(settings: Settings) -> None:
    for index, turn in enumerate(st.session_state[TURNS]):
        render_user(turn)
        with st.chat_message("assistant"):
            render_reply(turn, str(index), settings)


# --------------------------------------------------------------------------- schema browser


def table_overview(schema: Schema) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table": [t.name + (" (view)" if t.is_view else "") for t in schema],
            "rows": [t.row_count for t in schema],
            "columns": [len(t.columns) for t in schema],
        }
    )


def column_details(table: Table) -> pd.DataFrame:
    references = {col: f"→ {fk.ref_table}" for fk in table.foreign_keys for col in fk.columns}
    return pd.DataFrame(
        {
            "column": [c.name for c in table.columns],
            "type": [c.type for c in table.columns],
            "key": [" ".join(filter(None, ["PK" if c.primary_key else "", references.get(c.name, "")]))
                    for c in table.columns],
            "nullable": [c.nullable for c in table.columns],
        }
    )


def names_preview(names: list[str], shown: int = 12) -> str:
    """The first few table names, so the expander's label stays one line."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def last_question() -> Answer | None:
    asked = [t.answer for t in st.session_state[TURNS] if t.question and t.answer is not None]
    return asked[-1] if asked else None


def render_schema_browser(db: Database) -> None:
    try:
        schema = reflect_schema(db)
    except Exception as error:  # noqa: BLE001
        show_problem(problem_from(error, "reading the tables"))
        return
    with st.expander(f"Tables: {sentence(names_preview(schema.names))}", icon=":material/table_view:"):
        overview, details = st.columns([2, 3])
        with overview:
            st.dataframe(table_overview(schema), hide_index=True)
        with details:
            name = st.selectbox("Columns of", schema.names, key="schema_table")
            st.dataframe(column_details(schema[name]), hide_index=True)
        answer = last_question()
        if answer is not None:
            st.markdown(f"**Sent to the model for the last question** "
                        f"(tables: {sentence(', '.join(answer.tables)) or 'none'})")
            st.code(answer.context, language="sql", wrap_lines=True)


# --------------------------------------------------------------------------- history page


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


def audit_table(entries: list[AuditEntry]) -> pd.DataFrame:
    return pd.DataFrame({
        "time": [utc_text(e.created_at) for e in entries],
        "user": [e.user for e in entries],
        "question": [e.question or "(SQL from the editor)" for e in entries],
        "sql": [e.sql for e in entries],
        "status": [e.status for e in entries],
        "rows": [e.row_count for e in entries],
    })


def render_audit_log(db: Database, settings: Settings) -> None:
    """A named connection's audit log: who asked what, which SQL ran, how many rows came back.

    Ad-hoc databases are audited too (``sqlchat audit``), but their page keeps to the question log above.
    """
    if db.connection_name is None:
        return
    entries = with_history(settings, "reading the audit log",
                           lambda store: store.audit_entries(audit.connection_label(db), limit=HISTORY_ROWS))
    if entries:
        st.subheader("Audit log")
        st.caption(f"Everything asked and run on {db.display_name}, newest first "
                   f"(`sqlchat audit --db {audit.connection_label(db)}` exports it all).")
        st.dataframe(audit_table(entries), hide_index=True)


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
    render_audit_log(db, settings)


# --------------------------------------------------------------------------- page


def render_editor(settings: Settings) -> None:
    with st.container(border=True):
        st.text_area("Write or edit SQL", key=EDITOR, height=110, placeholder="SELECT Name FROM Artist LIMIT 3")
        st.button("Run SQL", key="run_sql", on_click=on_run_editor, args=(settings,), type="primary")
        st.caption("Runs through the same safety check as the model's SQL: one read-only query, rows capped.")


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


main()
