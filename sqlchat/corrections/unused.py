"""A joined table the query never reads, dropped: it only repeats or hides rows.

Asked "Which suppliers are based in Japan?", a small model writes ``SELECT s.CompanyName FROM Suppliers
s JOIN Products p ON s.SupplierID = p.SupplierID WHERE s.Country = 'Japan'``: nothing reads ``p``, and
each supplier comes back once per product. An inner join whose table the query uses only in its own
``ON`` condition is dropped when the question does not name that table (then the join means "that have
one": "countries having at least one car maker" keeps ``car_makers``). Only plain listings are touched:
a query with ``DISTINCT``, ``GROUP BY`` or an aggregate counts or collapses the joined rows on purpose,
and ``SELECT *`` reads every table. The result is kept only when it parses; the pipeline tries it before
the SQL as written, which stays the fallback.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.corrections.rendering import rendered
from sqlchat.language import STOPWORDS, stemmed_words
from sqlchat.schema.model import Table


def drop_unused_joins(sql: str, question: str, tables: Sequence[Table] = (), dialect: str = "sqlite") -> str:
    """``sql`` without the inner joins nothing reads (see the module's rule); unchanged otherwise."""
    if not sql or "join" not in sql.lower() or not question:
        return sql
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except SqlglotError:
        return sql
    if not isinstance(tree, exp.Select) or not _a_plain_listing(tree):
        return sql
    asked = set(stemmed_words(question))
    unqualified = {c.name.lower() for c in tree.find_all(exp.Column) if not c.table}
    by_name = {t.name.lower(): t for t in tables}
    dropped = False
    for join in list(tree.args.get("joins") or []):
        if _unused(tree, join, asked, unqualified, by_name):
            join.pop()
            dropped = True
    return rendered(tree, sql, dialect) if dropped else sql


def _a_plain_listing(select: exp.Select) -> bool:
    """No DISTINCT, GROUP BY, aggregate of its own or ``*``: every joined row would be a row of the answer."""
    if select.args.get("distinct") or select.args.get("group") or select.args.get("having"):
        return False
    if any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)) for e in select.expressions):
        return False
    return not any(agg.find_ancestor(exp.Select) is select for agg in select.find_all(exp.AggFunc))


def _unused(select: exp.Select, join: exp.Join, asked: set[str], unqualified: set[str],
            by_name: dict[str, Table]) -> bool:
    """An inner join on a table read nowhere but its own ``ON``, which the question does not name."""
    table = join.this
    if join.side or (join.kind or "").upper() not in ("", "INNER") or not isinstance(table, exp.Table):
        return False
    if join.args.get("on") is None or join.args.get("using"):
        return False
    alias = table.alias_or_name
    for column in select.find_all(exp.Column):
        if column.table == alias and column.find_ancestor(exp.Join) is not join:
            return False
    known = by_name.get(table.name.lower())
    if known is None or any(known.column(name) is not None for name in unqualified):
        return False  # an unqualified column may be this table's
    others = {w for t in select.find_all(exp.Table) if t is not table for w in stemmed_words(t.name)}
    own = {w for w in stemmed_words(table.name) if w not in STOPWORDS and w not in others}
    return not (own & asked)
