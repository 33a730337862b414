"""Division as the question means it: with decimals, on databases whose ``/`` drops them between whole numbers.

On SQLite and PostgreSQL, ``7 / 2`` is 3: two whole numbers divide into a whole number. On MySQL (and in
arithmetic) it is 3.5. Small models write ratios, percentages and units the second way: ``COUNT(*) * 100 /
COUNT(...)`` for a percentage, ``AVG(salary / 1000)`` for thousands, ``SUM(amount) / 1000000`` for millions.
On SQLite and PostgreSQL those come out cut to whole numbers (a share under 1 becomes 0), which is never what
a ratio or a unit means. sqlglot writes MySQL's division in these dialects the same way: the dividend cast to a
floating-point type.

Only a division that computes a figure from an aggregate is made exact (it reads an aggregate, or an aggregate
reads it): ``date / 10000`` picking the year out of a number like 20170315, ``year / 10`` grouping by decade,
and a division under ``%``, ``FLOOR``, ``CEIL`` or a cast to a whole number keep their whole-number meaning.
A dividend or divisor that is already a decimal (``100.0``, a cast to a decimal type, ``AVG(...)``) needs nothing.
"""

from __future__ import annotations

from sqlglot import exp

DIVIDES_WHOLE_NUMBERS = frozenset({"sqlite", "postgres"})
"""The dialects whose ``/`` gives a whole number for two whole numbers (MySQL's and DuckDB's do not)."""

_WHOLE = (exp.Mod, exp.IntDiv, exp.Floor, exp.Ceil)
_SCOPE = (exp.Select, exp.Subquery)


def exact_division(tree: exp.Expression, dialect: str) -> exp.Expression | None:
    """``tree`` with each aggregate figure's division made exact (its dividend cast to a floating-point type);
    None when no division needed it or ``dialect`` divides exactly already."""
    if dialect not in DIVIDES_WHOLE_NUMBERS:
        return None
    changed = False
    for division in list(tree.find_all(exp.Div)):
        if not _of_aggregates(division) or _kept_whole(division) or _decimal(division.left) or _decimal(division.right):
            continue
        division.left.replace(exp.cast(division.left.copy(), exp.DataType.Type.DOUBLE))
        changed = True
    return tree if changed else None


def _of_aggregates(division: exp.Div) -> bool:
    """Whether ``division`` reads an aggregate (``SUM(a) / COUNT(*)``) or an aggregate of its query reads it
    (``AVG(a / 1000)``)."""
    if any(division.find_all(exp.AggFunc)):
        return True
    node = division.parent
    while node is not None and not isinstance(node, _SCOPE):
        if isinstance(node, exp.AggFunc):
            return True
        node = node.parent
    return False


def _kept_whole(division: exp.Div) -> bool:
    """Whether the query wants ``division``'s whole-number result: under ``%``, ``FLOOR``, ``CEIL`` or a cast to a
    whole number. (A division in ``GROUP BY`` reads no aggregate, so :func:`_of_aggregates` leaves it alone.)"""
    node = division.parent
    while node is not None and not isinstance(node, _SCOPE):
        if isinstance(node, _WHOLE):
            return True
        if isinstance(node, exp.Cast) and node.to.this in exp.DataType.INTEGER_TYPES:
            return True
        node = node.parent
    return False


def _decimal(node: exp.Expression) -> bool:
    """Whether ``node`` is a decimal already, as far as the query shows: a literal with a point or an exponent,
    a cast to a decimal type, an average, or an arithmetic of which one side is."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        return node.is_number and any(mark in node.this.lower() for mark in ".e")
    if isinstance(node, exp.Cast):
        return node.to.this in exp.DataType.REAL_TYPES
    if isinstance(node, exp.Avg):
        return True
    if isinstance(node, (exp.Mul, exp.Add, exp.Sub, exp.Div)):
        return _decimal(node.left) or _decimal(node.right)
    if isinstance(node, exp.Neg):
        return _decimal(node.this)
    return False
