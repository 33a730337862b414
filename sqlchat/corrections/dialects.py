"""Functions of another SQL dialect, translated by sqlglot into the connection's own.

Small models write whatever dialect they saw most: MySQL's ``YEAR(d)``, ``DATE_FORMAT``, ``CURDATE()``,
``DATEDIFF``, ``NOW() - INTERVAL 30 DAY``; PostgreSQL's ``EXTRACT``, ``d::date``, ``date_trunc``,
``INTERVAL '30 days'``; SQLite's ``strftime`` and ``julianday``. Each means one thing, but the connection's
database does not know it (``function curdate() does not exist``, ``no such function: YEAR``).

The query is read in the connection's dialect; each function call that dialect does not know (a call sqlglot
reads as an unknown function) is written in the other dialects (MySQL, PostgreSQL, SQLite), and the first
whose reader knows the function gives its meaning, which sqlglot then writes in the connection's dialect
(``CURDATE()`` → PostgreSQL's ``CURRENT_DATE``, ``DATE_FORMAT(d, '%Y-%m')`` → ``TO_CHAR(CAST(d AS TIMESTAMP),
'YYYY-MM')``, ``strftime('%Y', d)`` → MySQL's ``DATE_FORMAT(d, '%Y')``). Only those calls change; the rest of
the query keeps its names and quotes. ``julianday(a) - julianday(b)`` is a difference in days on every
dialect. SQLite has no interval type and no ``date_trunc``: ``d - INTERVAL 30 DAY`` becomes
``DATE(d, '-30 day')`` and ``date_trunc('month', d)`` ``DATE(d, 'start of month')``; SQLite's date
parts keep :mod:`sqlchat.corrections.dates` (a number, as in MySQL). SQL that cannot be read in any of the
dialects comes back unchanged, and so does SQL whose functions the connection's dialect knows.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from sqlchat.corrections.dates import sqlite_dates

DIALECTS = ("mysql", "postgres", "sqlite")
"""The dialects read for a function the connection's does not know, in this order."""

UNITS = {"YEAR": "year", "YEARS": "year", "MONTH": "month", "MONTHS": "month", "DAY": "day", "DAYS": "day",
         "WEEK": "week", "WEEKS": "week", "HOUR": "hour", "HOURS": "hour", "MINUTE": "minute", "MINUTES": "minute",
         "SECOND": "second", "SECONDS": "second"}
TRUNCATED = {"year": "start of year", "month": "start of month", "day": None}
_ERRORS = (SqlglotError, ValueError, TypeError, AttributeError, KeyError, RecursionError)


def in_dialect(sql: str, dialect: str) -> str:
    """``sql`` with the functions of other dialects written in ``dialect``'s; unchanged when it has none."""
    if not sql or not sql.strip() or dialect not in DIALECTS:
        return sql
    text = sqlite_dates(sql, dialect) if dialect == "sqlite" else sql
    changed = False
    try:
        if dialect == "mysql" and _concatenates(text):  # ``a || b``: MySQL reads an OR, the model meant a string
            tree, changed = sqlglot.parse_one(text, read="sqlite"), True
        else:
            tree = sqlglot.parse_one(text, read=dialect)
    except _ERRORS:
        tree = _read_elsewhere(text, dialect)
        if tree is None:
            return sql
        text = ""  # read in another dialect: written again in this one
    if tree is None:
        return sql

    def translate(node: exp.Expression) -> exp.Expression:
        nonlocal changed
        replacement = _translated(node, dialect)
        if replacement is None:
            return node
        changed = True
        return replacement

    try:
        tree = tree.transform(translate)
        if not changed and text:
            return text
        out = tree.sql(dialect=dialect)
        sqlglot.parse_one(out, read=dialect)
    except _ERRORS:
        return sql
    return out


def _concatenates(sql: str) -> bool:
    try:
        return any(token.token_type == TokenType.DPIPE for token in sqlglot.tokenize(sql, read="sqlite"))
    except _ERRORS:
        return False


def _read_elsewhere(sql: str, dialect: str) -> exp.Expression | None:
    """``sql`` read by the first other dialect that can (the connection's own cannot)."""
    for source in DIALECTS:
        if source == dialect:
            continue
        try:
            tree = sqlglot.parse_one(sql, read=source)
        except _ERRORS:
            continue
        if tree is not None:
            return tree
    return None


def _translated(node: exp.Expression, dialect: str) -> exp.Expression | None:
    """``node`` in ``dialect``'s own functions; None when it is one already (or nothing knows it)."""
    if isinstance(node, exp.Sub) and _julianday(node.this) is not None and _julianday(node.expression) is not None:
        days = exp.DateDiff(this=_julianday(node.this), expression=_julianday(node.expression), unit=exp.var("DAY"))
        return None if dialect == "sqlite" else _reread(days, dialect)
    if dialect == "sqlite":
        return _sqlite_form(node)
    if dialect == "mysql" and isinstance(node, (exp.DateAdd, exp.DateSub)) and node.args.get("unit") is not None:
        # MySQL's own DATE_SUB(d, INTERVAL n YEAR), written as d - INTERVAL n YEAR: the same, and it survives
        # being read as SQLite by the safety check (which reads DATE_SUB's interval as a count of days)
        interval = exp.Interval(this=node.expression.copy(), unit=node.args["unit"].copy())
        operation = exp.Sub if isinstance(node, exp.DateSub) else exp.Add
        return exp.paren(operation(this=node.this.copy(), expression=interval), copy=False)
    if isinstance(node, exp.Anonymous):
        return _known_elsewhere(node, dialect)
    return None


def _julianday(node: exp.Expression) -> exp.Expression | None:
    if isinstance(node, exp.Anonymous) and node.name.upper() == "JULIANDAY" and len(node.expressions) == 1:
        return node.expressions[0].copy()
    return None


def _known_elsewhere(node: exp.Anonymous, dialect: str) -> exp.Expression | None:
    """An unknown call, read by the first dialect that knows it and written in ``dialect``."""
    name = node.name.upper()
    for source in DIALECTS:
        if source == dialect:
            continue
        try:
            meant = sqlglot.parse_one(node.sql(dialect=source), read=source)
        except _ERRORS:
            continue
        if meant is None or any(call.name.upper() == name for call in meant.find_all(exp.Anonymous)):
            continue  # that dialect does not know it either
        written = _reread(meant, dialect)
        if written is not None and not any(call.name.upper() == name for call in written.find_all(exp.Anonymous)):
            return written
    return None


def _reread(node: exp.Expression, dialect: str) -> exp.Expression | None:
    """``node`` as ``dialect`` writes it, read back (so it is that dialect's tree)."""
    try:
        return sqlglot.parse_one(node.sql(dialect=dialect), read=dialect)
    except _ERRORS:
        return None


def _sqlite_form(node: exp.Expression) -> exp.Expression | None:
    """SQLite's own form of intervals, truncation and other dialects' unknown calls."""
    if isinstance(node, (exp.Add, exp.Sub)) and isinstance(node.expression, exp.Interval):
        modifier = _modifier(node.expression, negative=isinstance(node, exp.Sub))
        return None if modifier is None else _shifted(node.this, modifier)
    if isinstance(node, (exp.DateAdd, exp.DateSub)) and (
            node.args.get("unit") is not None or isinstance(node.expression, exp.Interval)):
        interval = node.expression.copy() if isinstance(node.expression, exp.Interval) else exp.Interval(
            this=node.expression.copy(), unit=node.args["unit"].copy())
        modifier = _modifier(interval, negative=isinstance(node, exp.DateSub))
        return None if modifier is None else _shifted(node.this, modifier)
    if isinstance(node, (exp.DateTrunc, exp.TimestampTrunc)):
        unit = UNITS.get(_unit_name(node.args.get("unit")))
        if unit not in TRUNCATED:
            return None
        start = TRUNCATED[unit]
        value = node.this.copy()
        return exp.func("DATE", value) if start is None else exp.func("DATE", value, exp.Literal.string(start))
    if isinstance(node, exp.Anonymous) and node.name.upper() in ("DATE_TRUNC",) and len(node.expressions) == 2:
        unit = UNITS.get(node.expressions[0].name.upper()) if isinstance(node.expressions[0], exp.Literal) else None
        if unit not in TRUNCATED:
            return None
        start = TRUNCATED[unit]
        value = node.expressions[1].copy()
        return exp.func("DATE", value) if start is None else exp.func("DATE", value, exp.Literal.string(start))
    if isinstance(node, exp.DateDiff) and not (isinstance(node.this, exp.Column) and node.this.name.upper() in UNITS):
        return _reread(node, "sqlite")  # MySQL's DATEDIFF(a, b): days between, as JULIANDAY(a) - JULIANDAY(b)
    if isinstance(node, exp.Concat) and len(node.expressions) >= 2:  # SQLite before 3.44 has no CONCAT
        parts = [part.copy() for part in node.expressions]
        joined = parts[0]
        for part in parts[1:]:
            joined = exp.DPipe(this=joined, expression=part)
        return exp.paren(joined, copy=False)
    if isinstance(node, exp.Anonymous):
        translated = _known_elsewhere(node, "sqlite")
        return None if translated is None or isinstance(translated, exp.Anonymous) else translated
    return None


def _unit_name(unit: exp.Expression | None) -> str:
    if unit is None:
        return ""
    return (unit.name if isinstance(unit, (exp.Var, exp.Literal, exp.Identifier, exp.Column)) else unit.sql()).upper()


def _modifier(interval: exp.Interval, negative: bool) -> str | None:
    """SQLite's date modifier for ``interval`` (``'-30 day'``); None when it is not a plain count of one unit."""
    amount, unit = interval.this, _unit_name(interval.args.get("unit"))
    text = amount.name if isinstance(amount, exp.Literal) else ""
    if not unit:  # PostgreSQL's INTERVAL '30 days'
        parts = text.split()
        if len(parts) != 2:
            return None
        text, unit = parts[0], parts[1].upper()
    unit = UNITS.get(unit, "")
    try:
        count = float(text)
    except ValueError:
        return None
    if not unit:
        return None
    if unit == "week":
        count, unit = count * 7, "day"
    count = -count if negative else count
    number = int(count) if count == int(count) else count
    return f"{'+' if number >= 0 else ''}{number} {unit}"


def _shifted(value: exp.Expression, modifier: str) -> exp.Expression:
    """``DATE(value, modifier)``, or ``DATETIME`` for a moment with a time of day."""
    timed = isinstance(value, (exp.CurrentTimestamp, exp.CurrentDatetime)) or (
        isinstance(value, exp.Anonymous) and value.name.upper() in ("NOW", "DATETIME"))
    return exp.func("DATETIME" if timed else "DATE", value.copy(), exp.Literal.string(modifier))
