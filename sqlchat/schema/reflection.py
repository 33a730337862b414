"""Reflect a database's tables, views, columns, keys and row counts with SQLAlchemy's Inspector.

Types are simplified to the training data's vocabulary (INTEGER, VARCHAR, ...) and a database
with access rules gets only what they leave visible, so every caller is filtered by construction.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine.reflection import ObjectKind

from sqlchat.governance.access import visible_schema
from sqlchat.schema.model import Column, ForeignKey, Schema, Table

if TYPE_CHECKING:
    from sqlchat.sources.connection import Database

log = logging.getLogger(__name__)

MAX_COUNTED_TABLES = 200  # above this, row counts are skipped: reflection must stay quick
COUNT_BUDGET_S = 5.0  # total time spent on COUNT(*) queries before giving up on the rest
COUNT_TIMEOUT_MS = 2000  # per COUNT(*) on servers that support a statement timeout

_CACHE_KEY = "schema"
_fallback_cache: dict[int, tuple[Any, "Schema"]] = {}
_fallback_lock = threading.Lock()


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
    (:func:`sqlchat.governance.access.visible_schema`), so every caller is filtered by construction.
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
