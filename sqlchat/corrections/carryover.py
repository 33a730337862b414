"""A follow-up's SQL given back the conditions of the query it follows, when it dropped them.

"Which employees report to Nancy Edwards?" → "Which of those were hired in 2003?": a small model writes
the new condition and forgets the old one (``WHERE HireDate LIKE '2003%'``), and the user gets every
employee hired that year. When the follow-up refers back ("those", "them", "their", "And ..."), each
top-level ``WHERE`` condition of the previous turn's SQL is added to the new query's when the new query
reads the same table at its top level (one alias each: no self-joins) and does not constrain that
column itself: "And to France?" after "... = 'Germany'" changes the country, so nothing is carried.
The result is kept only when it parses; the pipeline tries it before the SQL as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.corrections.joins import select_sources
from sqlchat.corrections.rendering import rendered
from sqlchat.schema.model import Table

REFERS_BACK = re.compile(
    r"^\s*(and|what about|how about|only|just)\b|\b(those|them|they|their|these|his|her|she|he|its)\b", re.IGNORECASE)


def refers_back(question: str) -> bool:
    """The question builds on the one before it: it points back at its rows or continues it ("And ...")."""
    return REFERS_BACK.search(question or "") is not None


def carry_conditions(sql: str, previous: str | None, question: str, tables: Sequence[Table],
                     dialect: str = "sqlite") -> str:
    """``sql`` with the previous query's top-level conditions it dropped added (see the module's rule);
    unchanged otherwise."""
    if not sql or not previous or not refers_back(question):
        return sql
    try:
        new, old = sqlglot.parse_one(sql, read=dialect), sqlglot.parse_one(previous, read=dialect)
    except SqlglotError:
        return sql
    if not isinstance(new, exp.Select) or not isinstance(old, exp.Select) or old.args.get("where") is None:
        return sql
    by_name = {table.name.lower(): table for table in tables}
    new_aliases, old_aliases = _tables(new, by_name), _tables(old, by_name)
    if new_aliases is None or old_aliases is None:
        return sql
    by_table = {table: alias for alias, table in new_aliases.items()}
    conditions = _own_columns(new.args.get("where"), new)
    constrained = {_owner(c, new_aliases) for c in conditions}
    unplaced = {c.name.lower() for c in conditions if not _owner(c, new_aliases)[0]}  # an unqualified column of a join
    spelled = {t.alias_or_name.lower(): t.alias_or_name for t in new.find_all(exp.Table)}  # as the model wrote them
    carried = []
    for condition in _conjuncts(old.args["where"].this):
        columns = _own_columns(condition, old)
        owners = [_owner(c, old_aliases) for c in columns]
        if not columns or any(o[0] not in by_table for o in owners) or any(o in constrained or o[1] in unplaced for o in owners):
            continue
        copy = condition.copy()
        for column in _own_columns(copy, None):
            table = _owner(column, old_aliases)[0]
            if len(new_aliases) > 1 or column.table:
                column.set("table", exp.to_identifier(spelled.get(by_table[table], by_table[table])))
        carried.append(copy)
    if not carried:
        return sql
    return rendered(new.where(*carried, append=True, copy=True), sql, dialect)


def _tables(select: exp.Select, by_name: dict[str, Table]) -> dict[str, str] | None:
    """The top-level FROM and JOIN tables: alias (or name) → table name, lower case; None for a self-join or
    anything but the schema's tables, where a column cannot be placed for sure."""
    sources = select_sources(select, by_name)
    if not sources:
        return None
    aliases = {alias: table.name.lower() for alias, table in sources.items()}
    return aliases if len(set(aliases.values())) == len(aliases) else None


def _own_columns(node: exp.Expression | None, select: exp.Select | None) -> list[exp.Column]:
    """The columns of ``node`` outside any subquery of it (a subquery's columns are its own)."""
    if node is None:
        return []
    return [c for c in node.find_all(exp.Column) if c.find_ancestor(exp.Select) is select
            or (select is None and c.find_ancestor(exp.Subquery, exp.Select) is None)]


def _owner(column: exp.Column, aliases: dict[str, str]) -> tuple[str, str]:
    """(table, column), lower case; an unqualified column belongs to the query's one table, else to no table."""
    if column.table:
        return aliases.get(column.table.lower(), ""), column.name.lower()
    only = next(iter(aliases.values())) if len(aliases) == 1 else ""
    return only, column.name.lower()


def _conjuncts(condition: exp.Expression) -> list[exp.Expression]:
    """``a AND b AND c`` as [a, b, c] (parentheses around the whole taken off)."""
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.And):
        return _conjuncts(condition.left) + _conjuncts(condition.right)
    return [condition]
