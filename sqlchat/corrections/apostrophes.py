"""Apostrophes inside a string, written as the connection's SQL reads them.

Names and values hold apostrophes: ``O'Brien``, ``Girl's Dress``, ``McDonald's``. Small models write them as
MySQL does, ``'Girl\\'s Dress'``, or not escaped at all, ``'red girl's dress'``. SQL's own way is a doubled
quote, ``'Girl''s Dress'``: SQLite and PostgreSQL read a backslash as an ordinary character, so the first
ends the string after ``Girl\\`` and the second after ``girl``, and neither query can be read ("The SQL
could not be understood").

:func:`escape_apostrophes` writes each such quote doubled. It changes a query only when the query as written
does not parse in the connection's dialect and the mended one does, so a query that reads already (a string
that really ends in a backslash, ``'C:\\'``) keeps its meaning. An unescaped apostrophe is one between two
letters inside a string (``girl's``, ``O'Brien``): a closing quote is never followed by a letter in a query
that reads. On MySQL a backslash escapes the quote already, so only unescaped apostrophes change there.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot.errors import SqlglotError

_ERRORS = (SqlglotError, ValueError, TypeError, AttributeError, KeyError, RecursionError)
_NAME_QUOTES = {'"': '"', "`": "`", "[": "]"}
_COMMENTS = {"--": "\n", "/*": "*/"}
_SUSPECT = re.compile(r"\\'|[^\W\d_]'[^\W\d_]")  # what the mending would change: no parse is spent on other SQL


def escape_apostrophes(sql: str, dialect: str = "sqlite") -> str:
    """``sql`` with the apostrophes inside its strings doubled; unchanged unless that makes it readable."""
    if not sql or not _SUSPECT.search(sql) or _reads(sql, dialect):
        return sql
    mended = _doubled(sql, backslash_escapes=dialect == "mysql")
    return mended if mended != sql and _reads(mended, dialect) else sql


def _doubled(sql: str, backslash_escapes: bool) -> str:
    """``sql`` with ``\\'`` (unless the dialect's ``backslash_escapes``, as MySQL's does) and a quote between two
    letters, inside a string, written ``''``. Quoted names (``"..."``, backticks, brackets) and comments are copied
    as they are."""
    out: list[str] = []
    index, length = 0, len(sql)
    while index < length:
        char = sql[index]
        closing = _NAME_QUOTES.get(char) or _COMMENTS.get(sql[index:index + 2])
        if closing:
            end = sql.find(closing, index + 1 if char in _NAME_QUOTES else index + 2)
            end = length if end < 0 else end + len(closing)
            out.append(sql[index:end])
            index = end
            continue
        if char != "'":
            out.append(char)
            index += 1
            continue
        out.append("'")  # a string starts
        index += 1
        while index < length:
            char = sql[index]
            following = sql[index + 1] if index + 1 < length else ""
            if char == "\\" and following == "'" and not backslash_escapes:
                out.append("''")
                index += 2
            elif char == "\\" and backslash_escapes:
                out.append(sql[index:index + 2])  # MySQL: a backslash escapes the character after it
                index += 2
            elif char == "'" and following == "'":
                out.append("''")
                index += 2
            elif char == "'" and following.isalpha() and index > 0 and sql[index - 1].isalpha():
                out.append("''")
                index += 1
            elif char == "'":
                out.append("'")  # the string ends
                index += 1
                break
            else:
                out.append(char)
                index += 1
    return "".join(out)


def _reads(sql: str, dialect: str) -> bool:
    try:
        return all(statement is not None for statement in sqlglot.parse(sql, read=dialect))
    except _ERRORS:
        return False
