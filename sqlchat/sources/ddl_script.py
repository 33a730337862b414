"""Turn a ``CREATE TABLE`` script from any common dialect into plain SQLite DDL.

Split out of ``connection.py``, which owns the temporary folder and reopens the result
read-only (and not executable: the tables are empty). Users paste PostgreSQL, MySQL or
SQL Server schemas, so the script is parsed with sqlglot in several dialects, and each
table is rebuilt from scratch (training-data types such as ``BIGSERIAL`` -> INTEGER,
NOT NULL, primary and foreign keys) so SQLite accepts it whatever the source dialect.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import sqlglot
from sqlglot import exp

from sqlchat.errors import ConnectionFailed

log = logging.getLogger(__name__)

_SCRIPT_DIALECTS = ("sqlite", "postgres", "mysql", "tsql")


def parse_create_tables(script: str, dialect: str | None = None) -> list[exp.Create]:
    """CREATE TABLE statements of the script, read with the first dialect that understands it.

    Other statements (INSERT, CREATE INDEX, ...) are ignored. If no dialect parses the
    whole script, each statement is tried on its own so one exotic line does not sink the rest.
    """
    if not script or not script.strip():
        raise ConnectionFailed("The schema script is empty; paste CREATE TABLE statements.")
    dialects = [dialect] + [d for d in _SCRIPT_DIALECTS if d != dialect] if dialect else list(_SCRIPT_DIALECTS)
    problems = []
    for name in dialects:
        try:
            creates = _creates_in(sqlglot.parse(script, read=name))
        except Exception as exc:  # sqlglot raises ParseError, TokenError, ValueError...
            problems.append(f"{name}: {exc}")
            continue
        if creates:
            return creates
    creates = _creates_statement_by_statement(script, dialects)
    if creates:
        return creates
    raise ConnectionFailed(
        "The script contains no CREATE TABLE statement that sqlchat could read.",
        detail="\n".join(problems)[:4000] or None,
    )


def _creates_in(statements: list[exp.Expression | None]) -> list[exp.Create]:
    return [s for s in statements
            if isinstance(s, exp.Create) and str(s.args.get("kind", "")).upper() == "TABLE"
            and isinstance(s.this, exp.Schema)]


def _creates_statement_by_statement(script: str, dialects: list[str]) -> list[exp.Create]:
    creates = []
    for piece in script.split(";"):
        if not re.search(r"\bcreate\b", piece, re.I):
            continue
        for name in dialects:
            try:
                found = _creates_in(sqlglot.parse(piece, read=name))
            except Exception:
                continue
            creates.extend(found)
            if found:
                break
    return creates


def build_schema_database(path: Path, creates: list[exp.Create]) -> int:
    """Create each table in a new SQLite file at ``path``; returns how many were created.

    A table SQLite rejects is skipped with a warning, so one odd statement does not sink the rest.
    """
    conn = sqlite3.connect(path)
    created, failures, seen = 0, [], set()
    try:
        for create in creates:
            table, ddl = _sqlite_ddl(create)
            if table.lower() in seen:
                continue
            try:
                conn.execute(ddl)
            except sqlite3.Error as exc:
                failures.append(f"{table}: {exc}")
                continue
            seen.add(table.lower())
            created += 1
        conn.commit()
    finally:
        conn.close()
    if not created:
        raise ConnectionFailed("None of the script's CREATE TABLE statements could be built.",
                               detail="\n".join(failures)[:4000] or None)
    for failure in failures:
        log.warning("skipped a table of the schema script: %s", failure)
    return created


def _sqlite_ddl(create: exp.Create) -> tuple[str, str]:
    """A plain SQLite ``CREATE TABLE`` (simple types, NOT NULL, PRIMARY KEY, FOREIGN KEY) for ``create``."""
    schema = create.this
    table = schema.this.name
    columns: list[str] = []
    primary_key: list[str] = []
    foreign_keys: list[tuple[list[str], str, list[str]]] = []
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            columns.append(_column_ddl(item, primary_key, foreign_keys))
        for constraint in _table_constraints(item):
            if isinstance(constraint, exp.PrimaryKey):
                primary_key = [_ident(e) for e in constraint.expressions]
            elif isinstance(constraint, exp.ForeignKey):
                foreign_keys.append(_foreign_key(constraint))
    parts = columns
    if primary_key:
        parts.append(f"PRIMARY KEY ({', '.join(_q(c) for c in primary_key)})")
    for cols, ref_table, ref_cols in foreign_keys:
        ref = f"{_q(ref_table)} ({', '.join(_q(c) for c in ref_cols)})" if ref_cols else _q(ref_table)
        parts.append(f"FOREIGN KEY ({', '.join(_q(c) for c in cols)}) REFERENCES {ref}")
    return table, f"CREATE TABLE {_q(table)} ({', '.join(parts)})"


def _table_constraints(item: exp.Expression) -> list[exp.Expression]:
    if isinstance(item, (exp.PrimaryKey, exp.ForeignKey)):
        return [item]
    if isinstance(item, exp.Constraint):
        return [e for e in item.expressions if isinstance(e, (exp.PrimaryKey, exp.ForeignKey))]
    return []


def _column_ddl(column: exp.ColumnDef, primary_key: list[str], foreign_keys: list) -> str:
    name = column.name
    not_null = False
    for constraint in column.args.get("constraints") or []:
        kind = constraint.args.get("kind")
        if isinstance(kind, exp.PrimaryKeyColumnConstraint):
            primary_key.append(name)
        elif isinstance(kind, exp.NotNullColumnConstraint) and not kind.args.get("allow_null"):
            not_null = True
        elif isinstance(kind, exp.Reference):
            ref_table, ref_cols = _reference(kind)
            foreign_keys.append(([name], ref_table, ref_cols))
    return f"{_q(name)} {_simple_type(column.args.get('kind'))}{' NOT NULL' if not_null else ''}"


def _foreign_key(fk: exp.ForeignKey) -> tuple[list[str], str, list[str]]:
    ref_table, ref_cols = _reference(fk.args.get("reference"))
    return [_ident(e) for e in fk.expressions], ref_table, ref_cols


def _reference(ref: exp.Expression | None) -> tuple[str, list[str]]:
    """(table, columns) of a REFERENCES clause; the schema qualifier is dropped (SQLite has none)."""
    target = ref.this if ref is not None else None
    if isinstance(target, exp.Schema):
        return target.this.name, [_ident(e) for e in target.expressions]
    return (target.name if target is not None else ""), []


def _ident(node: exp.Expression) -> str:
    if isinstance(node, exp.Identifier):
        return node.name
    found = node.find(exp.Identifier)
    return found.name if found is not None else node.sql()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_TYPE_GROUPS = {
    "INTEGER": {"INT", "TINYINT", "SMALLINT", "MEDIUMINT", "BIGINT", "INT128", "INT256", "UINT", "UTINYINT",
                "USMALLINT", "UMEDIUMINT", "UBIGINT", "UINT128", "UINT256", "SERIAL", "SMALLSERIAL", "BIGSERIAL",
                "YEAR"},
    "REAL": {"FLOAT", "DOUBLE", "UDOUBLE"},
    "NUMERIC": {"DECIMAL", "BIGDECIMAL", "DECIMAL32", "DECIMAL64", "DECIMAL128", "DECIMAL256", "UDECIMAL",
                "DECFLOAT", "MONEY", "SMALLMONEY", "BIGNUM"},
    "VARCHAR": {"VARCHAR", "NVARCHAR", "CHAR", "NCHAR", "BPCHAR", "FIXEDSTRING", "NAME"},
    "DATE": {"DATE", "DATE32"},
    "DATETIME": {"DATETIME", "DATETIME2", "DATETIME64", "SMALLDATETIME", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMPLTZ",
                 "TIMESTAMPNTZ", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"},
    "TIME": {"TIME", "TIMETZ", "TIME_NS"},
    "BOOLEAN": {"BOOLEAN", "BIT"},
    "JSON": {"JSON", "JSONB"},
    "BLOB": {"BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "BINARY", "VARBINARY", "IMAGE", "ROWVERSION"},
}
_TYPE_BY_NAME = {name: group for group, names in _TYPE_GROUPS.items() for name in names}


def _simple_type(data_type: exp.Expression | None) -> str:
    """The training-data type for a parsed column type (``BIGSERIAL`` -> INTEGER); TEXT when unsure."""
    if not isinstance(data_type, exp.DataType):
        return "TEXT"
    return _TYPE_BY_NAME.get(data_type.this.name, "TEXT")
