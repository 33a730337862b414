"""Make a working answer readable: show what its ids are called, and the number it ranks by.

Small models write in Spider's style, ``SELECT T1.ArtistId FROM ... GROUP BY T1.ArtistId ORDER BY
COUNT(*) DESC LIMIT 5``: the right rows, shown to a business user as five bare numbers. This module
adds columns to the outermost SELECT and never changes which rows come back:

- a label: a table's single-column primary key shown without any other column of that table gets
  the table's name column beside it (``Artist.Name`` for ``ArtistId``; first and last name when the
  table has those instead). When the query groups by the key, the label joins the GROUP BY too,
  which cannot split a group (the key determines it);
- the measure: an aggregate the query orders by but does not show (``COUNT(*)``) is shown, named
  after its function and column.

The pipeline runs the readable query in place of the chosen one and keeps the original when it
fails; the evaluator turns this off, since extra columns are not what Spider's gold returns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.corrections.joins import column_owner, select_sources
from sqlchat.schema.labels import label_columns
from sqlchat.schema.model import Table


def make_readable(sql: str, tables: Sequence[Table], dialect: str = "sqlite") -> str:
    """``sql`` with label and measure columns added where they help; unchanged otherwise."""
    if not sql or not sql.strip():
        return sql
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
        if not isinstance(tree, exp.Select) or any(_is_star(expression) for expression in tree.expressions):
            return sql
        changed = _add_labels(tree, {table.name.lower(): table for table in tables})
        changed |= _add_measure(tree)
        return tree.sql(dialect=dialect) if changed else sql
    except (SqlglotError, ValueError, TypeError, AttributeError, RecursionError):
        return sql


def _is_star(expression: exp.Expression) -> bool:
    """``*`` or ``T1.*``: every column is shown already."""
    inner = expression.unalias()
    return isinstance(inner, exp.Star) or isinstance(inner, exp.Column) and isinstance(inner.this, exp.Star)


def _add_labels(select: exp.Select, by_name: dict[str, Table]) -> bool:
    sources = select_sources(select, by_name)
    if not sources:
        return False
    shown = [(expression, column_owner(expression.unalias(), sources)) for expression in select.expressions
             if isinstance(expression.unalias(), exp.Column)]
    shown_per_source: dict[str, int] = {}
    for _, owner in shown:
        if owner is not None:
            shown_per_source[owner[0]] = shown_per_source.get(owner[0], 0) + 1
    output_names = {expression.alias_or_name.lower() for expression in select.expressions}
    changed = False
    for expression, owner in shown:
        if owner is None or shown_per_source[owner[0]] != 1:
            continue
        alias, column = owner
        table = sources[alias]
        if [key.lower() for key in table.primary_key] != [column.lower()]:
            continue
        labels = [label for label in label_columns(table) if label.lower() not in output_names]
        group = select.args.get("group")
        if not labels or (group is not None and not _groups_by(group, expression.unalias(), alias, sources)):
            continue
        qualifier = expression.unalias().table
        added = [exp.column(exp.to_identifier(label), table=exp.to_identifier(qualifier) if qualifier else None)
                 for label in labels]
        position = select.expressions.index(expression) + 1
        select.set("expressions", select.expressions[:position] + added + select.expressions[position:])
        if group is not None:
            group.set("expressions", group.expressions + [column.copy() for column in added])
        output_names.update(label.lower() for label in labels)
        changed = True
    return changed


def _groups_by(group: exp.Group, key: exp.Column, alias: str, sources: dict[str, Table]) -> bool:
    """Whether the GROUP BY lists ``key`` (the same column of the same source)."""
    for item in group.expressions:
        owner = column_owner(item, sources) if isinstance(item, exp.Column) else None
        if owner is not None and owner[0] == alias and owner[1].lower() == key.name.lower():
            return True
    return False


def _add_measure(select: exp.Select) -> bool:
    order = select.args.get("order")
    if order is None or select.args.get("group") is None or not order.expressions:
        return False
    ranked_by = order.expressions[0].this
    if not isinstance(ranked_by, exp.AggFunc):
        return False
    if ranked_by.sql().lower() in {expression.unalias().sql().lower() for expression in select.expressions}:
        return False  # ranked by a number it already shows
    name = _measure_name(ranked_by)
    if name.lower() in {expression.alias_or_name.lower() for expression in select.expressions}:
        return False
    select.set("expressions", select.expressions + [exp.alias_(ranked_by.copy(), name)])
    return True


def _measure_name(aggregate: exp.AggFunc) -> str:
    """``COUNT(*)`` -> ``count``; ``SUM(T2.Total)`` -> ``sum_total``; ``AVG(x)`` -> ``avg_x``."""
    column = aggregate.find(exp.Column)
    return aggregate.key.lower() + (f"_{column.name.lower()}" if column is not None else "")
