"""What users asked, and the answers they verified: few-shot examples now, training data later.

The store is three tables behind SQLAlchemy Core: ``verified_pairs`` (a question and the SQL a
user approved or corrected, for one schema), ``question_log`` (every question, for the
app's history page) and ``audit_log`` (who asked what on which connection, which statements
ran and how many rows came back: :meth:`HistoryStore.audit` and ``sqlchat audit``). By default it is a SQLite file (``Settings.history_target``); a
PostgreSQL URL lets several app instances share it.

Nothing secret is stored: every user-provided text goes through :func:`sqlchat.errors.redact`,
and the store never records a connection URL (``database_label`` is a display name).

Pairs are reused only on the schema they were verified on (:func:`schema_fingerprint`), and
:meth:`HistoryStore.similar_examples` ranks them by TF-IDF cosine between questions:
deterministic, no model, no new dependency. The pipeline never imports this module; the
CLI and the app retrieve examples here and pass them to :func:`sqlchat.pipeline.ask`.

On a shared server the schema is not enough: another upload with the same columns is another
user's data. So the app records each question and pair with the database's identity
(``connection.Database.identity``) and its owner (the signed-in user, else the browser session),
and reads back only its own questions; a verified pair is shown to other users only once an
operator approved it (:meth:`HistoryStore.approve`; imported pairs are approved). Without
``database``/``owner`` (the CLI, one local user) every pair of the schema counts, as before.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from sqlchat.config import SchemaConfig
from sqlchat.errors import ConfigError, ConnectionFailed, SqlchatError, redact, register_secret
from sqlchat.language import stemmed_words
from sqlchat.schema.context import render_context, select_tables
from sqlchat.schema.model import Schema
from sqlchat.sources.connection import with_default_driver

SOURCES = ("thumbs_up", "edited", "import", "alternative")  # alternative: chosen from "Did you mean …?"
STATUSES = ("ok", "error", "refused", "unanswerable")
MIN_SIMILARITY = 0.2  # cosine below this is an unrelated question: no example beats a misleading one
MAX_CANDIDATES = 5000  # newest verified pairs considered per schema (retrieval stays in milliseconds)
LABEL_CHARS = 200
OWNER_CHARS = 200

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
# Function and filler words ("show", "list"); "top", "count", "average" carry the question's intent and stay.
_RETRIEVAL_STOPWORDS = frozenset(
    """a about after all an and any are as at based be by can could did display do doe does find for from
    get give had has have how i in is it just let live look me much my of on or our please show
    tell than that the their them there these this those to us was we were what when where which who
    whose why will with would you your list""".split()
)
# Business words that ask the same thing: one canonical term each (applied after stemming).
_SYNONYMS = {
    **dict.fromkeys("each every per".split(), "per"),
    **dict.fromkeys("many number count".split(), "count"),
    **dict.fromkeys("most top highest largest biggest best greatest".split(), "most"),
    **dict.fromkeys("least fewest lowest smallest bottom worst".split(), "least"),
    **dict.fromkeys("revenue sale sell selling sold income earning turnover".split(), "sale"),
    **dict.fromkeys("spend spent spending".split(), "spend"),
    **dict.fromkeys("song tune".split(), "track"),
    **dict.fromkeys("client buyer".split(), "customer"),
    **dict.fromkeys("rep representative agent staff".split(), "employee"),
    **dict.fromkeys("band musician".split(), "artist"),
}
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve fifteen twenty fifty hundred".split()
)
NUMBER_TOKEN = "#"  # "top 5" and "top ten" are the same kind of question
YEAR_TOKEN = "#year"  # "sales in 2022" and "sales in 2024" too, but not "top 5"
NAME_TOKEN = "#name"  # "albums by AC/DC" and "albums by Metallica": a value, not a kind of question
_YEAR = re.compile(r"^(19|20)\d\d$")
_RAW_TOKEN = re.compile(r"[^\W_]+")

METADATA = sa.MetaData()
VERIFIED_PAIRS = sa.Table(
    "verified_pairs",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("sql", sa.Text, nullable=False),
    sa.Column("context", sa.Text, nullable=False, default=""),
    sa.Column("schema_fingerprint", sa.String(64), nullable=False, index=True),
    sa.Column("database_label", sa.String(LABEL_CHARS), nullable=False, default=""),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("database_key", sa.String(64), index=True),  # connection.Database.identity; None: not recorded
    sa.Column("owner", sa.String(OWNER_CHARS)),  # who verified it; None: the operator or a local user
    sa.Column("approved", sa.Boolean),  # an operator shared it with every user of the schema
)
QUESTION_LOG = sa.Table(
    "question_log",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("sql", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("schema_fingerprint", sa.String(64), index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("database_key", sa.String(64), index=True),
    sa.Column("owner", sa.String(OWNER_CHARS)),
)


AUDIT_LOG = sa.Table(  # added later than the others: create_all adds it to an existing store, nothing else changes
    "audit_log",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("connection", sa.String(LABEL_CHARS), nullable=False, index=True),  # a name or display name, never a URL
    sa.Column("user", sa.String(LABEL_CHARS), nullable=False),
    sa.Column("question", sa.Text),  # None: SQL a user ran from the editor
    sa.Column("sql", sa.Text),  # the statement whose rows were shown
    sa.Column("statements", sa.Text, nullable=False, default="[]"),  # JSON list: every statement executed
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("row_count", sa.Integer),
    sa.Column("error", sa.Text),
)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class VerifiedPair:
    id: int
    question: str
    sql: str
    context: str
    schema_fingerprint: str
    database_label: str
    source: str
    created_at: datetime
    database_key: str | None = None
    owner: str | None = None
    approved: bool | None = None

    def to_know_sql(self) -> dict[str, str]:
        """The training row: the same three fields as sql-create-context."""
        return {"question": self.question, "context": self.context, "answer": self.sql}


@dataclass(frozen=True)
class LoggedQuestion:
    id: int
    question: str
    sql: str | None
    status: str
    error: str | None
    schema_fingerprint: str | None
    created_at: datetime
    database_key: str | None = None
    owner: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    created_at: datetime
    connection: str
    user: str
    question: str | None
    sql: str | None
    statements: list[str]
    status: str
    row_count: int | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "created_at": _utc(self.created_at).isoformat()}


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC, PostgreSQL an aware time: always aware UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


# --------------------------------------------------------------------------- fingerprint


def schema_fingerprint(schema: Schema) -> str:
    """A stable hash of table and column names and types, independent of order and name case.

    Row counts, keys and comments are left out: new rows do not invalidate a verified answer,
    a renamed or retyped column does.
    """
    shape = sorted(
        [table.name.lower(), sorted([column.name.lower(), column.type] for column in table.columns)]
        for table in schema.tables
    )
    return hashlib.sha256(json.dumps(shape, separators=(",", ":")).encode()).hexdigest()[:32]


# --------------------------------------------------------------------------- retrieval


def question_terms(question: str) -> list[str]:
    """Content words of ``question``, stemmed and canonical, with values folded to one token each.

    Numbers become ``#`` (``top 5`` ~ ``top ten``), years ``#year``, and a run of capitalised
    words after the first word (``Let There Be Rock``, ``AC/DC``) one ``#name``: questions of one
    family differ in their values, not in their shape.
    """
    terms: list[str] = []
    for position, raw in enumerate(_RAW_TOKEN.findall(question)):
        if position > 0 and raw[0].isupper() and raw != "I":
            if not terms or terms[-1] != NAME_TOKEN:
                terms.append(NAME_TOKEN)
            continue
        terms.extend(_term(word) for word in stemmed_words(raw))
    return [term for term in terms if term]


def _term(word: str) -> str:
    """One stemmed word as a retrieval term; empty for a stopword."""
    if _YEAR.match(word):
        return YEAR_TOKEN
    if word.isdigit() or word in _NUMBER_WORDS:
        return NUMBER_TOKEN
    return "" if word in _RETRIEVAL_STOPWORDS else _SYNONYMS.get(word, word)


def _tfidf(terms: list[str], idf: dict[str, float]) -> dict[str, float]:
    counts = Counter(terms)
    return {term: (1.0 + math.log(n)) * idf.get(term, 0.0) for term, n in counts.items()}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(weight * b.get(term, 0.0) for term, weight in a.items())
    norm = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    return dot / norm if norm else 0.0


class _Candidate(Protocol):
    id: int
    question: str


C = TypeVar("C", bound=_Candidate)


def rank_similar(question: str, pairs: Sequence[C], k: int = 3, threshold: float = MIN_SIMILARITY) -> list[tuple[float, C]]:
    """The ``k`` pairs whose questions are most like ``question`` (TF-IDF cosine), best first.

    IDF comes from the pairs themselves plus the question (smoothed), so a word every verified
    question shares ("customers" in a customer-only database) counts little. One pair per
    distinct question, the newest; ties go to the newer pair, so the order is deterministic.
    """
    newest: dict[str, C] = {}
    for pair in sorted(pairs, key=lambda p: p.id):
        newest[" ".join(pair.question.lower().split())] = pair
    documents = [(question_terms(pair.question), pair) for pair in newest.values()]
    query = question_terms(question)
    if not query or not documents:
        return []
    total = len(documents) + 1
    frequency = Counter(term for terms, _ in documents for term in set(terms)) + Counter(set(query))
    idf = {term: math.log((1 + total) / (1 + n)) + 1.0 for term, n in frequency.items()}
    query_vector = _tfidf(query, idf)
    scored = [(_cosine(query_vector, _tfidf(terms, idf)), pair) for terms, pair in documents]
    ranked = sorted((item for item in scored if item[0] >= threshold), key=lambda item: (-item[0], -item[1].id))
    return ranked[:k]


# --------------------------------------------------------------------------- store


def _clean(text: str | None) -> str | None:
    """User-provided text as stored: secrets masked."""
    return None if text is None else redact(text)


def _choice(value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise ConfigError(f"Unknown {what} {value!r}: use one of {', '.join(allowed)}.")
    return value


def _now() -> datetime:
    return datetime.now(timezone.utc)


def is_url(target: str) -> bool:
    """Whether ``target`` is a SQLAlchemy URL rather than a file path."""
    return bool(_URL.match(target.strip()))


def _engine_for(target: str | os.PathLike) -> sa.Engine:
    """An engine for a URL, or for a SQLite file (its folder created)."""
    text = os.fspath(target)
    if is_url(text):
        url = with_default_driver(sa.make_url(text.strip()))  # mysql:// uses PyMySQL, as connections do
        register_secret(url.password)  # errors naming the URL stay clean
        return sa.create_engine(url, pool_pre_ping=True)
    path = Path(text).expanduser()
    _private_file(path)
    return sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 15})


def _private_file(path: Path) -> None:
    """Create the store's folder (0700) and file (0600) private: they hold every user's questions.

    SQLite gives its journal files the database file's mode, so they stay private too.
    """
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    try:
        if path.stat().st_mode & 0o077:  # a store made before this rule: tighten it
            path.chmod(0o600)
    except OSError:  # not ours to change; SQLite reports a real problem when it opens the file
        pass


def _add_missing_columns(engine: sa.Engine) -> None:
    """A store made by an older version gets the newer (nullable) columns; its old rows stay private."""
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for table in METADATA.sorted_tables:
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")


def _visible_pairs(query: sa.Select, database: str | None, owner: str | None) -> sa.Select:
    """Pairs this user may see: approved ones, and their own on this database (all, without ``database``)."""
    if database is None:
        return query
    pairs = VERIFIED_PAIRS.c
    own = sa.and_(pairs.database_key == database, pairs.owner == owner) if owner is not None else sa.false()
    imported = sa.and_(pairs.approved.is_(None), pairs.source == "import")  # seeded before approval existed
    return query.where(sa.or_(pairs.approved.is_(True), imported, own))


class HistoryStore:
    """Verified (question, SQL) pairs and the question log, in any SQLAlchemy database.

    Thread-safe (one engine, a connection per call), so one store can serve a whole app.
    """

    def __init__(self, url_or_path: str | os.PathLike):
        try:
            self.engine = _engine_for(url_or_path)
            METADATA.create_all(self.engine)
            _add_missing_columns(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            raise ConnectionFailed("The history store could not be opened.", detail=str(exc)) from exc
        except OSError as exc:
            raise ConnectionFailed("The history store's folder could not be created.", detail=str(exc)) from exc

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "HistoryStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, table: sa.Table, values: dict[str, Any]) -> int:
        try:
            with self.engine.begin() as conn:
                return int(conn.execute(sa.insert(table).values(**values)).inserted_primary_key[0])
        except sa.exc.SQLAlchemyError as exc:
            raise SqlchatError("The history store could not save this.", detail=str(exc)) from exc

    def _read(self, query: sa.Select) -> list[sa.Row]:
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(query))
        except sa.exc.SQLAlchemyError as exc:
            raise SqlchatError("The history store could not be read.", detail=str(exc)) from exc

    # -- verified pairs

    def add_verified(
        self, question: str, sql: str, context: str, fingerprint: str, label: str, source: str = "thumbs_up",
        *, database: str | None = None, owner: str | None = None,
    ) -> int:
        """Store a pair a user approved (``thumbs_up``), corrected (``edited``) or imported; returns its id.

        Imported pairs (the operator's) are approved for every user; a user's own stay theirs until approved.
        """
        if not question.strip() or not sql.strip():
            raise ConfigError("A verified answer needs both a question and SQL.")
        return self._write(VERIFIED_PAIRS, {
            "database_key": database,
            "owner": None if owner is None else owner[:OWNER_CHARS],
            "approved": source == "import",
            "question": _clean(question.strip()),
            "sql": _clean(sql.strip().rstrip(";").strip()),
            "context": _clean(context or ""),
            "schema_fingerprint": fingerprint,
            "database_label": _clean(label or "")[:LABEL_CHARS],
            "source": _choice(source, SOURCES, "source"),
            "created_at": _now(),
        })

    def approve(self, pair_id: int, approved: bool = True) -> None:
        """An operator shares a verified pair with every user of its schema (or withdraws it)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.update(VERIFIED_PAIRS).where(VERIFIED_PAIRS.c.id == pair_id).values(approved=approved))
        except sa.exc.SQLAlchemyError as exc:
            raise SqlchatError("The history store could not save this.", detail=str(exc)) from exc

    def verified_for(self, fingerprint: str | None, limit: int | None = None, *, database: str | None = None,
                     owner: str | None = None) -> list[VerifiedPair]:
        """Verified pairs of one schema (all schemas for None) that this user may see, newest first."""
        query = _visible_pairs(sa.select(VERIFIED_PAIRS).order_by(VERIFIED_PAIRS.c.id.desc()), database, owner)
        if fingerprint is not None:
            query = query.where(VERIFIED_PAIRS.c.schema_fingerprint == fingerprint)
        if limit is not None:
            query = query.limit(limit)
        return [VerifiedPair(**row._mapping) for row in self._read(query)]

    def similar_examples(self, question: str, fingerprint: str, k: int = 3, *, database: str | None = None,
                         owner: str | None = None) -> list[tuple[str, str]]:
        """Up to ``k`` verified (question, sql) pairs of this schema most like ``question``, best first."""
        if k <= 0 or not question.strip():
            return []
        pairs = VERIFIED_PAIRS.c
        query = (sa.select(pairs.id, pairs.question, pairs.sql).where(pairs.schema_fingerprint == fingerprint)
                 .order_by(pairs.id.desc()).limit(MAX_CANDIDATES))  # no context: it is large and not compared
        query = _visible_pairs(query, database, owner)
        ranked = rank_similar(question, self._read(query), k)
        return [(row.question, row.sql) for _, row in ranked]

    def export_know_sql(self, path: str | os.PathLike, fingerprint: str | None = None) -> int:
        """Write verified pairs as know_sql JSONL (question, context, answer), oldest first; returns rows.

        Pairs without context cannot teach the model and are skipped; duplicates are written once.
        """
        seen: set[tuple[str, str, str]] = set()
        rows = []
        for pair in reversed(self.verified_for(fingerprint)):
            key = (pair.question, pair.context, pair.sql)
            if pair.context.strip() and key not in seen:
                seen.add(key)
                rows.append(json.dumps(pair.to_know_sql(), ensure_ascii=False))
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")
        return len(rows)

    # -- question log

    def log_question(
        self, question: str, sql: str | None, status: str, error: str | None = None, fingerprint: str | None = None,
        *, database: str | None = None, owner: str | None = None,
    ) -> int:
        """Record one question and how it went (``ok``, ``error``, ``refused``); returns its id."""
        return self._write(QUESTION_LOG, {
            "database_key": database,
            "owner": None if owner is None else owner[:OWNER_CHARS],
            "question": _clean(question),
            "sql": _clean(sql),
            "status": _choice(status, STATUSES, "status"),
            "error": _clean(error),
            "schema_fingerprint": fingerprint,
            "created_at": _now(),
        })

    def recent_questions(self, limit: int = 50, *, database: str | None = None,
                         owner: str | None = None) -> list[LoggedQuestion]:
        """The last ``limit`` logged questions, newest first; given ``database``, only ``owner``'s on it."""
        query = sa.select(QUESTION_LOG).order_by(QUESTION_LOG.c.id.desc()).limit(limit)
        if database is not None:
            log = QUESTION_LOG.c
            query = query.where(log.database_key == database, log.owner == owner)
        return [LoggedQuestion(**row._mapping) for row in self._read(query)]


    # -- audit log

    def audit(self, connection: str, user: str, question: str | None, sql: str | None, statements: Sequence[str],
              status: str, row_count: int | None = None, error: str | None = None) -> int:
        """Record who asked what (or ran which SQL) on ``connection``, what executed and what came back."""
        return self._write(AUDIT_LOG, {
            "created_at": _now(),
            "connection": _clean(connection)[:LABEL_CHARS],
            "user": _clean(user or "anonymous")[:LABEL_CHARS],
            "question": _clean(question),
            "sql": _clean(sql),
            "statements": json.dumps([_clean(s) for s in statements]),
            "status": _choice(status, STATUSES, "status"),
            "row_count": row_count,
            "error": _clean(error),
        })

    def audit_entries(self, connection: str | None = None, since: datetime | None = None,
                      limit: int | None = None) -> list[AuditEntry]:
        """Audit entries, newest first: of one connection (all for None), from ``since`` on."""
        log = AUDIT_LOG.c
        query = sa.select(AUDIT_LOG).order_by(log.id.desc())
        if connection is not None:
            query = query.where(log.connection == connection)
        if since is not None:
            query = query.where(log.created_at >= _utc(since))
        if limit is not None:
            query = query.limit(limit)
        return [AuditEntry(**{**row._mapping, "statements": json.loads(row.statements or "[]")})
                for row in self._read(query)]


def open_existing_store(target: str | os.PathLike) -> HistoryStore | None:
    """The store at ``target`` if there is one (any URL, or an existing file); None, never creating a file."""
    text = os.fspath(target)
    if not is_url(text) and not Path(text).expanduser().is_file():
        return None
    return HistoryStore(text)


def load_pairs_file(path: str | os.PathLike, split: str | None = None) -> list[dict[str, str]]:
    """Rows of a hand-written verified-pairs JSONL file (question, sql, family, split), optionally one split."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not row["question"] or not row["sql"]:
                raise ValueError("empty question or sql")
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"Line {number} of {Path(path).name} is not a verified pair.", detail=str(exc)) from exc
        if split is None or row.get("split") == split:
            rows.append(row)
    return rows


def seed_from_file(
    store: HistoryStore, path: str | os.PathLike, schema: Schema, label: str, schema_config: SchemaConfig,
    split: str | None = "seen",
) -> int:
    """Import a verified-pairs file for ``schema`` (e.g. the demo's), each with the context its prompt gets.

    Idempotent: pairs already stored for this schema are skipped, so an app may seed at every start.
    Returns how many pairs were added.
    """
    fingerprint = schema_fingerprint(schema)
    known = {(pair.question, pair.sql) for pair in store.verified_for(fingerprint)}
    added = 0
    for row in load_pairs_file(path, split):
        question, sql = row["question"].strip(), row["sql"].strip().rstrip(";").strip()
        if (question, sql) in known:
            continue
        tables = select_tables(schema, question, schema_config.token_budget, focus=schema_config.focus)
        context = render_context(tables, keys=schema_config.include_keys)
        store.add_verified(question, sql, context, fingerprint, label, source="import")
        known.add((question, sql))
        added += 1
    return added
