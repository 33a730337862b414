"""Value linking: point a string the query compares with at the value the column really holds.

People type ``rock``, ``usa`` or ``lybrant Robinson``; the data says ``Rock``, ``USA`` and
``lybrant robinson``. The model copies the question's spelling, and ``Genre.Name = 'rock'``
runs, finds nothing, and the user reads "0 rows" as the answer. When a string compared with
``=``, ``!=`` or ``IN`` is not a value of its column, but exactly one value of that column equals
it ignoring letter case, the string is replaced by that value. Spaces count: ``'AHD'`` is not
linked to a stored ``' AHD'``, which may be a different code.

No list of "other spellings" is kept (``'US'`` for ``'USA'``, ``'Yes'`` for ``'1'``): such lists hold one
database's conventions and are wrong on the next. When the column does not hold the string in any letter case
but exactly one other text column of its table does, the comparison moves to that column
(``Customer.City = 'germany'`` becomes ``Customer.Country = 'Germany'``): the model picked the wrong column.

The database is asked through a :data:`ValueLookup`, so the module works on any engine (the
pipeline passes one that runs through the read-only executor; the evaluator one on its own
SQLite file). Nothing is guessed: no match, or several, leaves the string as written, and SQL
that cannot be read is returned unchanged. The pipeline tries a linked query only after the
one as written failed or came back with nothing informative (no rows, or only 0/NULL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.corrections.joins import column_owner, select_sources
from sqlchat.corrections.quoted_strings import quoted_words_to_strings
from sqlchat.schema.model import Table
from sqlchat.schema.reader import ValueReader

ValueLookup = Callable[[str, str, str], Sequence[str]]
"""``(table, column, text)`` -> the column's distinct values equal to ``text`` ignoring letter case
(a few at most; the exact ``text`` among them when the column holds it)."""

MAX_MATCHES = 3  # enough to tell one match from several

def link_values(sql: str, tables: Sequence[Table], lookup: ValueLookup, dialect: str = "sqlite", *,
                respell: bool = True, move: bool = True) -> str:
    """``sql`` with each compared string that its column lacks replaced by the one value that matches it
    (``respell``: a repair) or, when its column holds no spelling of it, moved to the one column that does (``move``:
    a reinterpretation; the registry, :mod:`sqlchat.corrections.registry`, runs the two as separate rules).

    Returns ``sql`` unchanged when every string is a value of its column, when a string's column
    cannot be told, or when nothing (or more than one value) matches.
    """
    if not sql or not sql.strip() or not tables:
        return sql
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
        by_name = {table.name.lower(): table for table in tables}
        quoted_words_to_strings(tree, [column.name for table in tables for column in table.columns])
        changed = False
        for select in list(tree.find_all(exp.Select)):
            sources = select_sources(select, by_name)
            if sources:
                changed |= _link_select(select, sources, lookup, respell, move)
        return tree.sql(dialect=dialect) if changed else sql
    except (SqlglotError, ValueError, TypeError, AttributeError, RecursionError):
        return sql  # a second chance, never a new way to fail


def _link_select(select: exp.Select, sources: dict[str, Table], lookup: ValueLookup, respell: bool = True,
                 move: bool = True) -> bool:
    changed = False
    for column, literal in _compared_strings(select):
        owner = column_owner(column, sources)
        if owner is None:
            continue
        alias, name = owner
        table = sources[alias]
        in_column = _lookup_in(lookup, table, table.column(name).name)
        stored = _stored_spelling(in_column, literal.name)
        if stored is not None:
            if respell:
                literal.replace(exp.Literal.string(stored))
                changed = True
        elif move and _alone(literal) and not _holds_any(in_column, literal.name):
            moved = _the_column_holding(table, name, literal.name, lookup)
            if moved is not None:
                column.set("this", exp.to_identifier(moved[0], quoted=column.this.quoted))
                literal.replace(exp.Literal.string(moved[1]))
                changed = True
    return changed


def _alone(literal: exp.Literal) -> bool:
    """The only value its column is compared with (not one of an ``IN`` list, whose column the others share)."""
    parent = literal.parent
    return not isinstance(parent, exp.In) or len(parent.expressions) == 1


def _lookup_in(lookup: ValueLookup, table: Table, column: str) -> Callable[[str], Sequence[str]]:
    return lambda text: lookup(table.name, column, text)


def _holds_any(lookup: Callable[[str], Sequence[str]], text: str) -> bool:
    """The column holds ``text``, in some letter case."""
    return bool(lookup(text))


def _the_column_holding(table: Table, written: str, text: str, lookup: ValueLookup) -> tuple[str, str] | None:
    """(column, stored value): the one other text column of ``table`` that holds ``text``, when the column the model
    compared it with does not: ``City = 'germany'`` where ``Country`` holds ``'Germany'``. None when no other column,
    or more than one, holds it."""
    found = []
    for other in table.columns:
        if other.name.lower() == written.lower() or not other.is_text:
            continue
        in_other = _lookup_in(lookup, table, other.name)
        matches = in_other(text)
        value = text if text in matches else _stored_spelling(in_other, text)
        if value is not None:
            found.append((other.name, value))
    return found[0] if len(found) == 1 else None


def _compared_strings(select: exp.Select) -> Iterable[tuple[exp.Column, exp.Literal]]:
    """(column, string) pairs of this SELECT's own ``column = 'x'``, ``column != 'x'`` and ``column IN ('x', ...)``."""
    for node in list(select.find_all(exp.EQ, exp.NEQ, exp.In)):
        if node.find_ancestor(exp.Select) is not select:
            continue  # a subquery's comparison belongs to the subquery's own sources
        if isinstance(node, exp.In):
            column, values = node.this, node.expressions
        else:
            column, values = node.this, [node.expression]
            if isinstance(column, exp.Literal) and isinstance(node.expression, exp.Column):
                column, values = node.expression, [column]  # 'x' = column
        if not isinstance(column, exp.Column):
            continue
        for value in values:
            if isinstance(value, exp.Literal) and value.is_string:
                yield column, value


def _stored_spelling(lookup: Callable[[str], Sequence[str]], text: str) -> str | None:
    """The one stored value ``text`` stands for (its own spelling in another letter case, or the one value holding
    it); None when ``text`` is stored, or nothing or several match."""
    return _the_one_match(lookup(text), text)


def _the_one_match(matches: Sequence[str], text: str) -> str | None:
    """The stored value to use instead of ``text``; None when ``text`` is stored or the match is not unique."""
    values = {str(value) for value in matches if value is not None}
    if text in values or len(values) != 1:
        return None
    return values.pop()


def matching_values_sql(table: str, column: str, text: str, dialect: str) -> str:
    """``SELECT DISTINCT column FROM table WHERE LOWER(column) = LOWER('text') LIMIT n``.

    Built as a sqlglot tree, so the text is a quoted literal whatever it holds.
    """
    target = exp.column(column, quoted=True)
    query = (
        exp.select(target).distinct().from_(exp.table_(table, quoted=True))
        .where(exp.EQ(this=exp.Lower(this=target.copy()), expression=exp.Lower(this=exp.Literal.string(text))))
        .limit(MAX_MATCHES)
    )
    return query.sql(dialect=dialect)


def stored_values(reader: ValueReader) -> ValueLookup:
    """A lookup that asks the database through ``reader`` (the pipeline's: the safety check and the read-only
    executor), with names as the database spells them."""
    def lookup(table: str, column: str, text: str) -> list[str]:
        rows = reader.rows(matching_values_sql(table, column, text, reader.dialect), respell=True)
        return [row[0] for row in rows if isinstance(row[0], str)]
    return lookup
