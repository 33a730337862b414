"""A key added up, counted instead.

"How many tracks are on them in total?" → ``SELECT SUM(T3.TrackId) FROM ... JOIN Track AS T3 ...``: adding up
identifiers gives a large number that means nothing (Led Zeppelin's 114 tracks "total" 160,733). ``SUM`` of a
column the schema declares a key of its table (primary or foreign) becomes ``COUNT`` of it: the rows that have
one, which is what such a question asks. Nothing else changes; the result is kept only when it parses, and the
pipeline tries it before the SQL as written.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.corrections.joins import column_owner, select_sources
from sqlchat.corrections.rendering import rendered
from sqlchat.schema.model import Table


def count_summed_keys(sql: str, tables: Sequence[Table], dialect: str = "sqlite") -> str:
    """``sql`` with each ``SUM`` of a key column counted instead (see the module's rule); unchanged otherwise."""
    if not sql or "sum" not in sql.lower() or not tables:
        return sql
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except SqlglotError:
        return sql
    by_name = {table.name.lower(): table for table in tables}
    changed = False
    for select in list(tree.find_all(exp.Select)):
        sources = select_sources(select, by_name)
        if not sources:
            continue
        for summed in list(select.find_all(exp.Sum)):
            column = summed.this
            if summed.parent_select is not select or not isinstance(column, exp.Column):
                continue
            owner = column_owner(column, sources)
            if owner is not None and sources[owner[0]].is_key(owner[1]):
                summed.replace(exp.Count(this=column.copy()))
                changed = True
    return rendered(tree, sql, dialect) if changed else sql

