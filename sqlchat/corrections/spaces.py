"""Names with spaces that the model wrote without quotes, quoted as the database needs them.

Northwind has a table ``Order Details``; small models write ``FROM Order Details od``, which no SQL
parser reads as one name (SQLite: 'near "Order": syntax error'). A run of words that spells a table or
column of the schema with spaces, outside any string or quoted name, is put in the dialect's quotes
(``"Order Details"``; backticks on MySQL). The longest names are tried first, so ``Order Details
Extended`` is not cut to ``Order Details``. SQL with nothing of the kind comes back unchanged.

The same models also quote a whole column reference as one name, ``"Order Details.Quantity"`` (or in
brackets or backticks): SQLite reads it as a column that does not exist, then as a string, and sums
the string to 0. When the part before a dot is a table (or an alias) the query reads and the part after
it one of that table's columns, :func:`split_dotted_names` writes ``"Order Details"."Quantity"``.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

# A string or an already quoted name: left as it is.
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]")


def quote_spaced_names(sql: str, names: Iterable[str], dialect: str = "sqlite") -> str:
    """``sql`` with every bare mention of a spaced name from ``names`` quoted; unchanged when there is none."""
    spaced = sorted({name for name in names if " " in name.strip()}, key=len, reverse=True)
    if not sql or not spaced:
        return sql
    pattern = re.compile(
        r"(?<![\w.])(" + "|".join(r"\s+".join(map(re.escape, name.split())) for name in spaced) + r")(?!\w)",
        re.IGNORECASE)
    canonical = {" ".join(name.split()).lower(): name for name in spaced}

    def quoted(match: re.Match) -> str:
        return _quoted(canonical[" ".join(match.group(1).split()).lower()], dialect)

    pieces, last = [], 0
    for literal in _QUOTED.finditer(sql):
        pieces.append(pattern.sub(quoted, sql[last:literal.start()]))
        pieces.append(literal.group(0))
        last = literal.end()
    pieces.append(pattern.sub(quoted, sql[last:]))
    return "".join(pieces)


def split_dotted_names(sql: str, names: Mapping[str, Sequence[str]], dialect: str = "sqlite") -> str:
    """``sql`` with each quoted ``"table.column"`` naming a column of ``names`` (``{table: [column, ...]}``)
    written ``"table"."column"``; a real name with a dot, a string and anything unknown stay as written.

    A table the query reads under one alias is written as that alias, the only name SQL then accepts.
    """
    if not any("." in quoted and quoted[0] != "'" for quoted in _QUOTED.findall(sql or "")):
        return sql  # nothing to split: no query is parsed for its aliases
    tables = {table.lower(): (table, {column.lower(): column for column in columns})
              for table, columns in names.items()}
    real = set(tables) | {column for _, columns in tables.values() for column in columns}
    aliases, only_alias = _aliases(sql, tables, dialect)

    def qualified(name: str) -> str | None:
        for dot in (i for i, char in enumerate(name) if char == "."):
            left, right = name[:dot].strip().lower(), name[dot + 1:].strip().lower()
            if left in tables:
                key, qualifier = left, only_alias.get(left) or _quoted(tables[left][0], dialect)
            elif left in aliases:
                key, qualifier = aliases[left]
            else:
                continue
            columns = tables[key][1]
            if right in columns:
                return f"{qualifier}.{_quoted(columns[right], dialect)}"
        return None

    def split(match: re.Match) -> str:
        written = match.group(0)
        if written[0] == "'" or (written[0] == '"' and dialect == "mysql"):
            return written  # a string (MySQL reads double quotes as one too)
        close = written[-1]
        name = written[1:-1] if close == "]" else written[1:-1].replace(close * 2, close)
        if name.lower() in real:
            return written  # a table or column whose own name holds a dot
        return qualified(name) or written

    return _QUOTED.sub(split, sql)


def _aliases(sql: str, tables: Container[str],
             dialect: str) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """The aliases ``sql`` reads tables of ``tables`` under, ``{alias (lower): (table key, alias to write)}``,
    and ``{table key: alias to write}`` for each table read under exactly one alias; empty when ``sql`` does not parse."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except (SqlglotError, ValueError, TypeError, RecursionError):
        return {}, {}
    aliases: dict[str, tuple[str, str]] = {}
    read_as: dict[str, set[str]] = {}
    for table in tree.find_all(exp.Table) if tree is not None else ():
        key, alias = table.name.lower(), table.alias
        if key not in tables:
            continue
        read_as.setdefault(key, set()).add(alias.lower())
        if alias:
            aliases[alias.lower()] = (key, alias if re.fullmatch(r"[A-Za-z_]\w*", alias) else _quoted(alias, dialect))
    only_alias = {key: aliases[alias][1] for key, (alias, *more) in read_as.items() if alias and not more}
    return aliases, only_alias


def _quoted(name: str, dialect: str) -> str:
    """``name`` in the dialect's quotes for names: backticks on MySQL, double quotes elsewhere."""
    quote = "`" if dialect == "mysql" else '"'
    return quote + name.replace(quote, quote * 2) + quote
