"""Date functions of other dialects written the way SQLite spells them.

Small models learn SQL mostly from MySQL-flavoured text and write ``YEAR(InvoiceDate) = 2024`` or
``DATE_FORMAT(d, '%Y-%m')`` whatever the database; SQLite has neither, so the query fails
("no such function: YEAR") although its meaning is clear. SQLite keeps dates as ISO text, which its
``STRFTIME`` reads, so each such call has one faithful rewrite:

- ``YEAR(d)``, ``MONTH(d)``, ``DAY(d)``, ``EXTRACT(YEAR FROM d)`` → ``CAST(STRFTIME('%Y', d) AS INTEGER)`` (a number,
  as in MySQL, so ``= 2024`` and ``= '2024'`` both still compare);
- ``DATE_FORMAT(d, '%Y-%m')`` → ``STRFTIME('%Y-%m', d)``, with MySQL's format letters mapped to SQLite's;
- ``NOW()`` / ``CURDATE()`` → ``DATETIME('now')`` / ``DATE('now')``.

Any other dialect, or SQL with none of these, comes back unchanged.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

PARTS = {exp.Year: "%Y", exp.Month: "%m", exp.Day: "%d"}
EXTRACTED = {"YEAR": "%Y", "MONTH": "%m", "DAY": "%d", "HOUR": "%H", "MINUTE": "%M", "SECOND": "%S"}
# MySQL's DATE_FORMAT letters that differ from, or mean the same in, SQLite's STRFTIME.
MYSQL_FORMAT = {"%Y": "%Y", "%m": "%m", "%d": "%d", "%H": "%H", "%i": "%M", "%s": "%S", "%S": "%S",
                "%c": "%m", "%e": "%d", "%j": "%j", "%w": "%w", "%T": "%H:%M:%S", "%%": "%%"}
NOW = {"NOW": "DATETIME('now')", "CURDATE": "DATE('now')", "CURRENT_DATE": "DATE('now')"}


def sqlite_dates(sql: str, dialect: str = "sqlite") -> str:
    """``sql`` with other dialects' date functions written as SQLite's; unchanged unless there were any."""
    if dialect != "sqlite" or not sql or "(" not in sql:
        return sql
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError:
        return sql
    if tree is None:
        return sql
    changed = False

    def rewrite(node: exp.Expression) -> exp.Expression:
        nonlocal changed
        replacement = _sqlite_form(node)
        if replacement is None:
            return node
        changed = True
        return replacement

    rewritten = tree.transform(rewrite)
    return rewritten.sql("sqlite") if changed else sql


def _sqlite_form(node: exp.Expression) -> exp.Expression | None:
    for kind, letter in PARTS.items():
        if type(node) is kind:
            return _number(letter, node.this)
    if isinstance(node, exp.Extract):
        part = node.this.name.upper() if isinstance(node.this, (exp.Var, exp.Identifier, exp.Column)) else ""
        return _number(EXTRACTED[part], node.expression) if part in EXTRACTED else None
    if isinstance(node, exp.Anonymous):
        name = node.name.upper()
        if name == "DATE_FORMAT" and len(node.expressions) == 2 and isinstance(node.expressions[1], exp.Literal):
            value, pattern = node.expressions
            letters = _mapped_format(pattern.this)
            return None if letters is None else exp.func("STRFTIME", exp.Literal.string(letters), value)
        if name in NOW and not node.expressions:
            return sqlglot.parse_one(NOW[name], read="sqlite")
    return None


def _number(letter: str, value: exp.Expression) -> exp.Expression:
    return exp.cast(exp.func("STRFTIME", exp.Literal.string(letter), value), "INTEGER")


def _mapped_format(pattern: str) -> str | None:
    """MySQL's format string in SQLite's letters; None when it uses one SQLite has no equal for (month names...)."""
    out, index = [], 0
    while index < len(pattern):
        if pattern[index] == "%" and index + 1 < len(pattern):
            letter = MYSQL_FORMAT.get(pattern[index:index + 2])
            if letter is None:
                return None
            out.append(letter)
            index += 2
        else:
            out.append(pattern[index])
            index += 1
    return "".join(out)
