"""A name read from the wrong joined table, moved to the table the question asks about.

"Which media types do we sell tracks in?" → ``SELECT T2.Name FROM MediaType AS T1 JOIN Track AS T2 ...``:
``T2`` is the track, so the user gets track titles. When a question asks "which/what <table>" and that
table is in the query, but the columns it selects (and groups by) that carry no aggregate all come from
one other table, and the asked-about table has columns of the same names, those columns are read from
the asked-about table instead (a plain listing then lists each once: the join repeats it per joined row). Nothing
is moved when any selected column is the asked-about table's own, or when it lacks one of the names; when all are
its own and the query joins a table that refers to it ("Which genres are they in?" over the tracks at a price),
a plain listing lists each once too. The result is kept only when it parses; the pipeline tries it before the SQL
as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.corrections.joins import column_owner, select_sources, written_alias
from sqlchat.corrections.rendering import rendered
from sqlchat.language import stem, stemmed_words
from sqlchat.schema.model import Table

# "which genres", "what 3 artists", "which top 5 customers": the words after the count name the table
ASKS_WHICH = re.compile(r"^\s*(which|what)\s+(?:top\s+)?(?:\d+\s+)?((?:[\w'-]+\s+){0,2}[\w'-]+)", re.IGNORECASE)


def asked_table(question: str, tables: Sequence[Table]) -> Table | None:
    """The table a "which/what ..." question asks about: one, two or three words after "which" that are a
    table's whole name ("media types" → ``MediaType``), the longest such phrase; None otherwise."""
    match = ASKS_WHICH.match(question or "")
    if match is None:
        return None
    words = stemmed_words(match.group(2))
    names = {stem("".join(stemmed_words(t.name))): t for t in tables if not t.is_view}
    for size in (3, 2, 1):
        found = names.get(stem("".join(words[:size]))) if len(words) >= size else None
        if found is not None:
            return found
    return None


def read_from_asked_table(sql: str, question: str, tables: Sequence[Table], dialect: str = "sqlite") -> str:
    """``sql`` with its selected names read from the table the question asks about (see the module's rule)."""
    asked = asked_table(question, tables)
    if asked is None or not sql:
        return sql
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except SqlglotError:
        return sql
    if not isinstance(tree, exp.Select):
        return sql
    sources = select_sources(tree, {t.name.lower(): t for t in tables})
    aliases = [alias for alias, table in (sources or {}).items() if table is asked]
    if len(aliases) != 1:
        return sql
    target = aliases[0]
    plain = [c for e in tree.expressions if not e.find(exp.AggFunc) for c in e.find_all(exp.Column)]
    owners = {column_owner(c, sources) for c in plain}
    if not plain or None in owners or len({alias for alias, _ in owners}) != 1:
        return sql
    other = next(iter(owners))[0]
    if other == target:
        return _each_once(tree, sql, sources, target, dialect)
    if any(asked.column(name) is None for _, name in owners):
        return sql
    grouped = [c for c in (tree.args.get("group") or exp.Group()).find_all(exp.Column)]
    for column in [*plain, *grouped]:
        if column_owner(column, sources) in owners:
            column.set("table", exp.to_identifier(written_alias(tree, target)))
    if not tree.args.get("group") and not any(e.find(exp.AggFunc) for e in tree.expressions):
        tree.set("distinct", exp.Distinct())  # one row per joined row of the other table: each once
    return rendered(tree, sql, dialect)


def _each_once(select: exp.Select, sql: str, sources: dict[str, Table], target: str, dialect: str) -> str:
    """A plain listing of the asked table's own columns joined to a table that refers to it ("Which genres are they
    in?" over tracks), which repeats each of its rows once per referring row: listed once each. Not when the
    query already collapses rows, or orders by what it does not select (a ``DISTINCT`` cannot order by it)."""
    asked = sources[target]
    refers = any(key.ref_table.lower() == asked.name.lower()
                 for alias, table in sources.items() if alias != target for key in table.foreign_keys)
    if not refers or select.args.get("distinct") or select.args.get("group") or select.args.get("having"):
        return sql
    if any(e.find(exp.AggFunc) for e in select.expressions):
        return sql
    shown = {e.alias_or_name.lower() for e in select.expressions} | {
        c.sql().lower() for e in select.expressions for c in e.find_all(exp.Column)}
    ordered = (select.args.get("order") or exp.Order()).expressions
    if any(order.this.sql().lower() not in shown for order in ordered):
        return sql
    select.set("distinct", exp.Distinct())
    return rendered(select, sql, dialect)
