"""A joined table read only for a column its partner has too: the condition goes home, the join goes.

"How many tracks cost 1.99?" → ``SELECT COUNT(T1.TrackId) FROM Track AS T1 JOIN InvoiceLine AS T2 ON
T1.TrackId = T2.TrackId WHERE T2.UnitPrice = 1.99``: ``InvoiceLine`` also has a ``UnitPrice`` (the price a line was
sold at), so the count is of sales lines, not tracks (111 instead of 213). When an inner join's table is read only
in the ``WHERE`` clause, only for columns the table it joins (its ``ON`` partner, another table) has under the
same names, numbers or dates and none of them a key (a ``Name`` or a ``City`` means something else in every
table), and the question names neither that table nor a sale ("sold", "revenue", ...: the words for which
line items are the right place), the conditions read the partner's columns and the join goes. The result is kept
only when it parses; the pipeline tries it before the SQL as written.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.corrections.joins import column_owner, select_sources, written_alias
from sqlchat.corrections.rendering import rendered
from sqlchat.language import STOPWORDS, stemmed_words
from sqlchat.schema.context import MONEY_WORDS
from sqlchat.schema.model import Table


def read_borrowed_columns_at_home(sql: str, question: str, tables: Sequence[Table], dialect: str = "sqlite") -> str:
    """``sql`` with such conditions read from the partner table and the join dropped (see the module's rule)."""
    if not sql or "join" not in sql.lower() or not question or not tables:
        return sql
    asked = set(stemmed_words(question))
    if asked & MONEY_WORDS:
        return sql
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except SqlglotError:
        return sql
    if not isinstance(tree, exp.Select) or tree.args.get("where") is None:
        return sql
    sources = select_sources(tree, {table.name.lower(): table for table in tables})
    if not sources:
        return sql
    changed = False
    for join in list(tree.args.get("joins") or []):
        moved = _borrowed(tree, join, sources, asked)
        if moved is not None:
            for column in moved[0]:
                column.set("table", exp.to_identifier(moved[1]))
            join.pop()
            changed = True
    return rendered(tree, sql, dialect) if changed else sql


def _borrowed(select: exp.Select, join: exp.Join, sources: dict[str, Table],
              asked: set[str]) -> tuple[list[exp.Column], str] | None:
    """The columns read from ``join``'s table that its partner has too, and the partner's alias; None when the
    join does more than lend them (see the module's rule)."""
    table = join.this
    condition = join.args.get("on")
    if join.side or (join.kind or "").upper() not in ("", "INNER") or not isinstance(table, exp.Table):
        return None
    if not isinstance(condition, exp.EQ) or not all(isinstance(side, exp.Column) for side in condition.args.values()):
        return None
    alias = table.alias_or_name.lower()
    owners = [column_owner(side, sources) for side in (condition.this, condition.expression)]
    partners = {owner[0] for owner in owners if owner is not None and owner[0] != alias}
    if None in owners or len(partners) != 1 or alias not in {owner[0] for owner in owners}:
        return None
    partner = partners.pop()
    joined, home = sources[alias], sources[partner]
    where = select.args["where"]
    read = [column for column in select.find_all(exp.Column)
            if column.find_ancestor(exp.Join) is not join and (column_owner(column, sources) or ("",))[0] == alias]
    if not read or any(column.find_ancestor(exp.Where) is not where or column.parent_select is not select
                       for column in read):
        return None
    if joined is home or any(not _lendable(home, joined, column.name) for column in read):
        return None  # a self-join compares two rows of one table on purpose
    others = {word for name, source in sources.items() if name != alias for word in stemmed_words(source.name)}
    if {word for word in stemmed_words(joined.name) if word not in STOPWORDS and word not in others} & asked:
        return None  # the question names the joined table: its own column is meant
    return read, written_alias(select, partner)


def _lendable(home: Table, joined: Table, name: str) -> bool:
    """Both tables have ``name``, as a number or a date, not a key: a price, a date. Text columns are left alone:
    a ``Name`` or a ``City`` is a different thing in every table."""
    column = home.column(name)
    return (column is not None and joined.column(name) is not None and not column.is_text
            and not home.is_key(name) and not joined.is_key(name))

