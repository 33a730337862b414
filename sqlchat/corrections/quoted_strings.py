"""SQLite's double-quoted strings: ``name = "Bob"`` read as the string SQLite reads it.

SQLite treats a double-quoted word that is not a column as a string, and models are trained on SQL
written that way; every other dialect reads it as a column and fails. The safety check rewrites the
model's SQLite-flavoured SQL with :func:`quoted_words_to_strings` before transpiling it, value linking
(:mod:`sqlchat.corrections.values`) before it compares strings, and the evaluator's exact match
before it compares queries, so all three read the same SQL the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.Glob, exp.NullSafeEQ)


def quoted_words_to_strings(tree: exp.Expression, known_columns: Iterable[str] = ()) -> None:
    """Turn SQLite-style ``name = "Bob"`` into ``name = 'Bob'``.

    SQLite treats a double-quoted word that is not a column as a string, and the model is
    trained on SQL written that way. Only right-hand sides of comparisons, IN lists and
    BETWEEN bounds are touched, and never a name in ``known_columns`` or a query alias.
    The evaluator's exact match reads SQL the same way, through this function.
    """
    known = {c.lower() for c in known_columns} | {a.alias.lower() for a in tree.find_all(exp.Alias) if a.alias}
    for node in list(tree.walk()):
        for operand in right_hand_sides(node):
            if is_quoted_word(operand) and operand.name.lower() not in known:
                operand.replace(exp.Literal.string(operand.name))


def right_hand_sides(node: exp.Expression) -> list[exp.Expression]:
    """The value side(s) of a comparison, IN list or BETWEEN."""
    if isinstance(node, _COMPARISONS):
        return [node.expression]
    if isinstance(node, exp.In):
        return list(node.expressions)
    if isinstance(node, exp.Between):
        return [side for side in (node.args.get("low"), node.args.get("high")) if side is not None]
    return []


def is_quoted_word(node: exp.Expression | None) -> bool:
    """A bare ``"double quoted"`` name: a string in SQLite unless a column has that name."""
    return (
        isinstance(node, exp.Column)
        and not node.table
        and isinstance(node.this, exp.Identifier)
        and bool(node.this.args.get("quoted"))
    )
