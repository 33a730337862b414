"""Reflect a database's tables and render them as compact ``CREATE TABLE`` context.

The model is small (135M parameters, ~2k tokens of context) and was trained on
context shaped like ``CREATE TABLE head (age INTEGER, name VARCHAR)``, so types are
simplified to that vocabulary, constraints are rendered tersely, and
:func:`select_tables` keeps only the tables a question needs when the whole schema
would not fit the token budget.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine.reflection import ObjectKind

if TYPE_CHECKING:
    from sqlchat.connection import Database

log = logging.getLogger(__name__)

MAX_COUNTED_TABLES = 200  # above this, row counts are skipped: reflection must stay quick
COUNT_BUDGET_S = 5.0  # total time spent on COUNT(*) queries before giving up on the rest
COUNT_TIMEOUT_MS = 2000  # per COUNT(*) on servers that support a statement timeout
CHARS_PER_TOKEN = 3.5

_CACHE_KEY = "schema"
_fallback_cache: dict[int, tuple[Any, "Schema"]] = {}
_fallback_lock = threading.Lock()


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # simplified: INTEGER, REAL, NUMERIC, VARCHAR, TEXT, DATE, DATETIME, BOOLEAN...
    primary_key: bool = False
    nullable: bool = True


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]

    def __post_init__(self) -> None:
        # Accept lists from callers, keep tuples so the key stays hashable.
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "ref_columns", tuple(self.ref_columns))


@dataclass
class Table:
    name: str
    columns: list[Column]
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    row_count: int | None = None
    comment: str | None = None
    is_view: bool = False
    # True on PostgreSQL, which folds unquoted names to lower case: mixed-case names must be quoted.
    fold_case: bool = False

    @property
    def primary_key(self) -> list[str]:
        return [c.name for c in self.columns if c.primary_key]

    def column(self, name: str) -> Column | None:
        """The column called ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)

    def create_statement(self, keys: bool = True) -> str:
        """``CREATE TABLE t (a INTEGER, b VARCHAR, PRIMARY KEY (a), FOREIGN KEY (b) REFERENCES u(b))``.

        ``keys=False`` leaves out the key clauses, as in the training data's contexts. Names keep the
        database's spelling and are quoted only where any SQL needs it (spaces, reserved words), not
        for their letter case: the model then reads the same context for a PostgreSQL copy as for the
        SQLite original, and :mod:`sqlchat.names` quotes its SQL as the database needs.
        """
        q = lambda name: quote_identifier(prompt_text(name))  # noqa: E731
        parts = [f"{q(c.name)} {prompt_text(c.type)}".rstrip() for c in self.columns]
        if not keys:
            return f"CREATE TABLE {q(self.name)} ({', '.join(parts)})"
        if self.primary_key:
            parts.append(f"PRIMARY KEY ({', '.join(q(n) for n in self.primary_key)})")
        for fk in self.foreign_keys:
            ref = q(fk.ref_table) + (f"({', '.join(q(n) for n in fk.ref_columns)})" if fk.ref_columns else "")
            parts.append(f"FOREIGN KEY ({', '.join(q(n) for n in fk.columns)}) REFERENCES {ref}")
        return f"CREATE TABLE {q(self.name)} ({', '.join(parts)})"


@dataclass
class Schema:
    """All reflected tables (then views), with case-insensitive lookup by name."""

    tables: list[Table]

    def get(self, name: str) -> Table | None:
        exact = next((t for t in self.tables if t.name == name), None)
        if exact is not None:
            return exact
        lowered = name.lower()
        return next((t for t in self.tables if t.name.lower() == lowered), None)

    def __getitem__(self, name: str) -> Table:
        table = self.get(name)
        if table is None:
            raise KeyError(name)
        return table

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[Table]:
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tables]


# --------------------------------------------------------------------------- quoting

_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Words reserved in SQLite, PostgreSQL or MySQL that a schema might still use as a name.
RESERVED_WORDS = frozenset(
    """abort add all alter analyze and any array as asc between both by case cast check collate column
    constraint create cross current_date current_time current_timestamp current_user default deferrable
    delete desc distinct drop else end escape except exists false fetch for foreign from full glob grant
    group having if ilike in index inner insert intersect into is isnull join key lateral leading left
    like limit match natural not notnull null of offset on or order outer over partition placing primary
    range references regexp rename replace returning right row rows select session_user set some table
    then to trailing true union unique update user using values when where window with""".split()
)


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def prompt_text(name: str) -> str:
    """A name as the prompt shows it: control characters (new lines that fake instructions) dropped."""
    return _CONTROL_CHARACTERS.sub("", str(name))


def quote_identifier(name: str, *, fold_case: bool = False) -> str:
    """``name`` as is when plain, else in double quotes (reserved words, spaces, unicode, mixed case on PG)."""
    plain = _PLAIN_NAME.match(name) is not None and name.lower() not in RESERVED_WORDS
    if plain and not (fold_case and name != name.lower()):
        return name
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------- types


def simple_type(sql_type: Any) -> str:
    """The training-data name for a reflected SQLAlchemy type: INTEGER, REAL, NUMERIC, VARCHAR, ..."""
    checks: tuple[tuple[type, str], ...] = (
        (sa.Boolean, "BOOLEAN"),
        (sa.Integer, "INTEGER"),
        (sa.Float, "REAL"),
        (sa.Numeric, "NUMERIC"),
        (sa.DateTime, "DATETIME"),
        (sa.Date, "DATE"),
        (sa.Time, "TIME"),
        (sa.Interval, "INTERVAL"),
        (sa.Text, "TEXT"),
        (sa.String, "VARCHAR"),
        (sa.LargeBinary, "BLOB"),
        (sa.JSON, "JSON"),
        (sa.Uuid, "UUID"),
        (sa.ARRAY, "ARRAY"),
    )
    for kind, name in checks:
        if isinstance(sql_type, kind):
            return name
    if sql_type is None or isinstance(sql_type, sa.types.NullType):
        return "TEXT"
    visit = getattr(sql_type, "__visit_name__", "") or type(sql_type).__name__
    return str(visit).upper()


# --------------------------------------------------------------------------- reflection


def reflect_schema(db: "Database", *, refresh: bool = False) -> Schema:
    """Tables, views, columns, keys and row counts of ``db``; reflected once per Database, thread-safe.

    A Database with access rules (a named connection) gets only what they leave visible
    (:func:`sqlchat.access.visible_schema`), so every caller is filtered by construction.
    """
    cache = getattr(db, "cache", None)
    lock = getattr(db, "lock", None)
    if cache is None or lock is None:
        return _reflect_with_fallback_cache(db, refresh)
    with lock:
        if refresh or _CACHE_KEY not in cache:
            cache[_CACHE_KEY] = _reflect(db)
        return cache[_CACHE_KEY]


def _reflect_with_fallback_cache(db: Any, refresh: bool) -> Schema:
    """For Database look-alikes without a ``cache``: keyed by id, guarded against id reuse."""
    with _fallback_lock:
        hit = _fallback_cache.get(id(db))
        if hit is not None and hit[0] is db and not refresh:
            return hit[1]
        schema = _reflect(db)
        _fallback_cache[id(db)] = (db, schema)
        return schema


def _reflect(db: "Database") -> Schema:
    schema = _reflect_all(db)
    rules = getattr(db, "rules", None)
    if rules is None:
        return schema
    from sqlchat.access import visible_schema  # access builds on this module's model

    return visible_schema(db, schema, rules)


def _reflect_all(db: "Database") -> Schema:
    started = time.perf_counter()
    inspector = sa.inspect(db.engine)
    fold_case = db.engine.dialect.name == "postgresql"
    table_names = sorted(inspector.get_table_names())  # one order on every database: the same prompt for a copy
    view_names = sorted(v for v in _safe(inspector.get_view_names, []) if v not in set(table_names))
    columns = _multi(inspector, "get_multi_columns", "get_columns", table_names + view_names, ObjectKind.ANY)
    pks = _multi(inspector, "get_multi_pk_constraint", "get_pk_constraint", table_names, ObjectKind.TABLE)
    fks = _multi(inspector, "get_multi_foreign_keys", "get_foreign_keys", table_names, ObjectKind.TABLE)
    comments = _multi(inspector, "get_multi_table_comment", "get_table_comment", table_names, ObjectKind.TABLE)
    tables = []
    for name in table_names + view_names:
        pk_columns = (pks.get(name) or {}).get("constrained_columns") or []
        tables.append(Table(
            name=name,
            columns=[_column(c, pk_columns) for c in columns.get(name, [])],
            foreign_keys=[_foreign_key(fk) for fk in fks.get(name, []) if fk.get("referred_table")],
            comment=(comments.get(name) or {}).get("text"),
            is_view=name in view_names,
            fold_case=fold_case,
        ))
    _fill_implicit_references(tables)
    _attach_row_counts(db, tables)
    log.info("reflected %d tables of %s in %.2fs", len(tables), db.display_name, time.perf_counter() - started)
    return Schema(tables)


def _safe(call: Any, default: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, **kwargs)
    except (NotImplementedError, sa.exc.SQLAlchemyError) as exc:
        log.debug("reflection call %s failed: %s", getattr(call, "__name__", call), exc)
        return default


def _multi(inspector: sa.Inspector, multi: str, single: str, names: list[str], kind: ObjectKind) -> dict[str, Any]:
    """One bulk Inspector call (one query on PostgreSQL), else one call per table; keyed by table name."""
    if not names:
        return {}
    try:
        found = getattr(inspector, multi)(kind=kind, filter_names=names)
        return {key[1]: value for key, value in found.items()}
    except (NotImplementedError, sa.exc.SQLAlchemyError) as exc:
        log.debug("%s failed (%s); reflecting table by table", multi, exc)
    result = {}
    for name in names:
        value = _safe(getattr(inspector, single), None, name)
        if value is not None:
            result[name] = value
    return result


def _column(info: dict[str, Any], pk_columns: list[str]) -> Column:
    return Column(
        name=info["name"],
        type=simple_type(info.get("type")),
        primary_key=info["name"] in pk_columns,
        nullable=bool(info.get("nullable", True)),
    )


def _foreign_key(info: dict[str, Any]) -> ForeignKey:
    return ForeignKey(
        columns=tuple(info.get("constrained_columns") or ()),
        ref_table=info["referred_table"],
        ref_columns=tuple(c for c in info.get("referred_columns") or () if c),
    )


def _fill_implicit_references(tables: list[Table]) -> None:
    """``REFERENCES artist`` without columns means artist's primary key: spell it out."""
    by_name = {t.name.lower(): t for t in tables}
    for table in tables:
        for i, fk in enumerate(table.foreign_keys):
            target = by_name.get(fk.ref_table.lower())
            if not fk.ref_columns and target is not None and target.primary_key:
                table.foreign_keys[i] = ForeignKey(fk.columns, fk.ref_table, tuple(target.primary_key))


def _attach_row_counts(db: "Database", tables: list[Table]) -> None:
    """COUNT(*) per table (not views), with a per-query timeout and a total time budget; None on failure."""
    base_tables = [t for t in tables if not t.is_view]
    if not base_tables or len(tables) > MAX_COUNTED_TABLES:
        return
    deadline = time.perf_counter() + COUNT_BUDGET_S
    preparer = db.engine.dialect.identifier_preparer
    try:
        with db.engine.connect() as conn:
            for table in base_tables:
                if time.perf_counter() > deadline:
                    break
                table.row_count = _count_rows(conn, preparer.quote(table.name))
    except sa.exc.SQLAlchemyError as exc:
        log.debug("row counts skipped: %s", exc)


def _count_rows(conn: sa.Connection, quoted: str) -> int | None:
    dialect = conn.dialect
    sql = f"SELECT COUNT(*) FROM {quoted}"
    try:
        if dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {COUNT_TIMEOUT_MS}")
        elif dialect.name in ("mysql", "mariadb"):
            sql = (f"SET STATEMENT max_statement_time={COUNT_TIMEOUT_MS / 1000:g} FOR {sql}"
                   if getattr(dialect, "is_mariadb", False)
                   else f"SELECT /*+ MAX_EXECUTION_TIME({COUNT_TIMEOUT_MS}) */ COUNT(*) FROM {quoted}")
        return int(conn.exec_driver_sql(sql).scalar() or 0)
    except sa.exc.SQLAlchemyError as exc:
        log.debug("COUNT(*) failed on %s: %s", quoted, exc)
        return None
    finally:
        conn.rollback()


# --------------------------------------------------------------------------- context


def render_context(tables: Sequence[Table], keys: bool = True) -> str:
    """The prompt's schema context: one ``CREATE TABLE`` per table, joined by ``"; "``."""
    return "; ".join(t.create_statement(keys=keys) for t in tables)


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (~3.5 characters per token for SQL DDL)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


_STOPWORDS = frozenset(
    """a an and are as at be by can do does for from give has have how i in is it list many me much my
    of on or per show tell than that the their there these this those to was were what when where which
    who whose why with all each every number total count find get average avg sum most least top""".split()
)


def _stem(word: str) -> str:
    """Just enough stemming to match plural question words with singular names."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "uses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    """Lower-cased, stemmed words; snake_case and CamelCase are split (``InvoiceLine`` -> invoice, line)."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    return [_stem(w) for w in re.findall(r"[^\W_]+", text.lower())]


def _question_terms(question: str) -> set[str]:
    words = [w for w in _words(question) if w not in _STOPWORDS]
    joined = {_stem(a + b) for a, b in zip(words, words[1:])}  # "order items" matches "orderitems"
    return set(words) | joined


def _name_terms(name: str) -> set[str]:
    words = _words(name)
    return set(words) | {_stem("".join(words))}


def _score(table: Table, terms: set[str]) -> float:
    """Question words found in the table name weigh 3, in its column names 1 each."""
    name_terms = _name_terms(table.name)
    column_terms = set().union(*(_name_terms(c.name) for c in table.columns)) - name_terms
    return 3.0 * len(terms & name_terms) + len(terms & column_terms)


def focus_tables(tables: Sequence[Table], question: str) -> list[Table]:
    """The tables ``question`` mentions and the tables that join two of them by foreign keys
    (``Album`` between ``Artist`` and ``Track``); empty when it mentions none.

    A word names a table when it is the table's whole name (``tracks`` → ``Track``), else when it
    is part of names (``line`` → ``InvoiceLine``); a word naming no table picks the tables with such
    a column, unless a table already chosen has one. When only one table is named, its foreign-key
    neighbours come too (on Spider dev: 2.5 tables sent instead of 4.5, all the gold query's tables
    for 96.5 % of questions). A small model confuses itself with every
    table it is shown; docs/benchmarks.md measures what this costs and gains on Spider dev.
    """
    terms = _question_terms(question)
    whole = [_stem("".join(_words(t.name))) for t in tables]
    parts = [set(_words(t.name)) for t in tables]
    columns = [set().union(*(_name_terms(c.name) for c in t.columns)) if t.columns else set() for t in tables]
    chosen: set[int] = set()
    unnamed = set()
    for term in terms:
        hits = {i for i, name in enumerate(whole) if name == term} or {i for i, p in enumerate(parts) if term in p}
        chosen |= hits
        if not hits:
            unnamed.add(term)
    for term in sorted(unnamed):
        if not any(term in columns[i] for i in chosen):
            chosen |= {i for i, c in enumerate(columns) if term in c}
    if not chosen:
        return []
    if len(chosen) == 1:  # "flights from Aberdeen": the value may live in a table joined to it
        return [tables[i] for i in sorted(chosen | _neighbours(list(tables), chosen))]
    links: dict[int, set[int]] = {}
    for i, j in _fk_pairs(list(tables)):
        links.setdefault(i, set()).add(j)
        links.setdefault(j, set()).add(i)
    bridges = {k for k in range(len(tables)) if k not in chosen and len(links.get(k, set()) & chosen) >= 2}
    return [tables[i] for i in sorted(chosen | bridges)]


def select_tables(schema: Schema, question: str, token_budget: int, focus: bool = False) -> list[Table]:
    """The tables to show the model for ``question``, within ``token_budget`` (estimated) tokens.

    With ``focus``, only the tables :func:`focus_tables` finds (all of them when it finds none).
    Then everything when it fits; otherwise the tables whose names match the question, then the
    tables joined to those by foreign keys, then tables matching only by column names.
    Never empty when the schema has tables; the result keeps schema order and is deterministic.
    """
    tables = list(schema.tables)
    if focus:
        tables = focus_tables(tables, question) or tables
    if not tables or estimate_tokens(render_context(tables)) <= token_budget:
        return tables
    picker = _Picker(tables, token_budget)
    terms = _question_terms(question)
    scores = [_score(t, terms) for t in tables]
    name_hits = [i for i, t in enumerate(tables) if terms & _name_terms(t.name)]
    picker.add_all(sorted(name_hits, key=lambda i: (-scores[i], i)))
    picker.add_all(sorted(_neighbours(tables, picker.chosen), key=lambda i: (-scores[i], i)))
    picker.add_all(sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: (-scores[i], i)))
    if not picker.chosen:
        degree = _degrees(tables)
        order = sorted(range(len(tables)), key=lambda i: (-scores[i], -degree[i], i))
        picker.force(order[0])
        picker.add_all(order[1:])
    return [tables[i] for i in sorted(picker.chosen)]


class _Picker:
    """Adds tables while the rendered context stays within the budget."""

    def __init__(self, tables: list[Table], token_budget: int):
        self.tables = tables
        self.max_chars = token_budget * CHARS_PER_TOKEN
        self.chosen: set[int] = set()
        self.chars = 0

    def _cost(self, i: int) -> int:
        return len(self.tables[i].create_statement()) + (2 if self.chosen else 0)  # "; " separator

    def add_all(self, indices: Iterable[int]) -> None:
        for i in indices:
            if i not in self.chosen and self.chars + self._cost(i) <= self.max_chars:
                self.force(i)

    def force(self, i: int) -> None:
        self.chars += self._cost(i)
        self.chosen.add(i)


def _fk_pairs(tables: list[Table]) -> Iterator[tuple[int, int]]:
    index = {t.name.lower(): i for i, t in enumerate(tables)}
    for i, table in enumerate(tables):
        for fk in table.foreign_keys:
            j = index.get(fk.ref_table.lower())
            if j is not None and j != i:
                yield i, j


def _neighbours(tables: list[Table], chosen: set[int]) -> set[int]:
    """Tables that reference, or are referenced by, a chosen table."""
    found = set()
    for i, j in _fk_pairs(tables):
        if i in chosen:
            found.add(j)
        if j in chosen:
            found.add(i)
    return found - chosen


def _degrees(tables: list[Table]) -> list[int]:
    degree = [0] * len(tables)
    for i, j in _fk_pairs(tables):
        degree[i] += 1
        degree[j] += 1
    return degree
