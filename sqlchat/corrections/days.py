"""A date range's last day counted whole: ``BETWEEN '2005-07-01' AND '2005-07-31'`` means all of 31 July.

Models write a day range the way people say it, both days included. On a column that stores a time of day
(``2005-07-31 10:53:00``), that range stops at midnight of its last day: every database compares the value with
``2005-07-31 00:00:00`` (or, SQLite, compares the text, where the longer text is the greater). So the
last day's rows drop out of "payments in July". Read as the question means it, the range ends before the
next day: ``d >= '2005-07-01' AND d < '2005-08-01'``, and ``d <= '2005-07-31'`` becomes ``d < '2005-08-01'``.
On a column that stores dates alone the two say the same, so the rewrite keeps the query's meaning wherever
the column's values are dates; only a literal that is a whole date (``YYYY-MM-DD``), compared with a column
as it is stored, is touched.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlglot import exp

WHOLE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def whole_last_days(tree: exp.Expression) -> exp.Expression | None:
    """``tree`` with each column's date range ending before the day after its last day; None when it has none."""
    changed = False
    for node in list(tree.find_all(exp.Between, exp.LTE)):
        if isinstance(node, exp.Between):
            column, low, high = node.this, node.args.get("low"), node.args.get("high")
            after = _day_after(high)
            if not isinstance(column, exp.Column) or _day_after(low) is None or after is None:
                continue
            node.replace(exp.paren(exp.and_(exp.GTE(this=column.copy(), expression=low.copy()),
                                            exp.LT(this=column.copy(), expression=exp.Literal.string(after)))))
        else:
            column, after = node.this, _day_after(node.expression)
            if not isinstance(column, exp.Column) or after is None:
                continue
            node.replace(exp.LT(this=column.copy(), expression=exp.Literal.string(after)))
        changed = True
    return tree if changed else None


def _day_after(node: exp.Expression | None) -> str | None:
    """The day after a whole-date string literal, as ``YYYY-MM-DD``; None for anything else."""
    if not isinstance(node, exp.Literal) or not node.is_string or not WHOLE_DATE.fullmatch(node.this):
        return None
    try:
        return (dt.date.fromisoformat(node.this) + dt.timedelta(days=1)).isoformat()
    except ValueError:
        return None
