"""Scoring: exact match on normalised SQL, and result comparison as bags of rows.

Two result comparisons: :func:`results_match` is Spider's execution accuracy (the same rows,
column for column); :func:`answer_match` is what a user would call right (the gold's columns
are all there, in any order, and extra predicted columns are allowed).

Exact match is deliberately strict: two queries match only when sqlglot renders them
to the same text after the differences that carry no meaning in SQLite are removed
(whitespace, keyword case, identifier quoting, ``"x"`` vs ``'x'`` for strings). It never
reorders conditions or joins; execution accuracy is the metric that forgives those.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.corrections.quoted_strings import quoted_words_to_strings
from sqlchat.execution import is_informative as says_something


DIALECT = "sqlite"  # the training data's dialect
FLOAT_DIGITS = 6
MAX_COLUMN_ASSIGNMENTS = 5000  # answer_match: pairings of gold and predicted columns tried at most

_PARSE_ERRORS = (SqlglotError, ValueError, RecursionError, TypeError, KeyError, AttributeError)


# -- parsing and exact match -----------------------------------------------------------


def parse_sql(sql: str | None, known_columns: Iterable[str] = ()) -> exp.Expression | None:
    """One parsed statement with SQLite's ``"word"`` strings made string literals, or None.

    None means "not one parsable statement": the caller scores it invalid instead of crashing.
    """
    if not sql or not sql.strip():
        return None
    try:
        with _quiet_sqlglot():
            statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except _PARSE_ERRORS:
        return None
    if len(statements) != 1:
        return None
    tree = statements[0]
    quoted_words_to_strings(tree, known_columns)
    return tree


def normalize_sql(sql: str | None, known_columns: Iterable[str] = ()) -> str | None:
    """Canonical text of ``sql`` for exact match, or None when it does not parse."""
    tree = parse_sql(sql, known_columns)
    if tree is None:
        return None
    for identifier in tree.find_all(exp.Identifier):
        identifier.set("quoted", False)
    try:
        with _quiet_sqlglot():  # another dialect's functions written as SQLite's: sqlglot warns, the match judges
            return tree.sql(dialect=DIALECT, comments=False)
    except _PARSE_ERRORS:
        return None


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot's warnings held back: it warns on half-understood text, which the caller judges itself."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def exact_match(predicted: str | None, gold: str, known_columns: Iterable[str] = ()) -> bool:
    """True when both parse and render to the same canonical SQL."""
    pred = normalize_sql(predicted, known_columns)
    return pred is not None and pred == normalize_sql(gold, known_columns)


def has_order_by(sql: str) -> bool:
    """Whether the outermost query is ordered (an ORDER BY in a subquery orders nothing)."""
    tree = parse_sql(sql)
    while isinstance(tree, exp.Subquery):
        tree = tree.this
    return bool(tree is not None and tree.args.get("order"))


# -- result comparison -------------------------------------------------------------------


Row = tuple[Any, ...]


def normalize_value(value: Any) -> Any:
    """One comparable value: numbers and numeric strings alike, floats rounded, NaN is NULL."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy / pandas scalars
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, (int, float)):
        return _normalize_number(value)
    if isinstance(value, str):
        number = _as_number(value)
        return value if number is None else _normalize_number(number)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value)


def _as_number(text: str) -> float | None:
    stripped = text.strip()
    if not stripped or stripped.lower() in {"nan", "inf", "-inf", "infinity", "-infinity"}:
        return None
    try:
        return float(stripped)
    except ValueError:
        return None


def _normalize_number(number: float) -> Any:
    if isinstance(number, float) and math.isnan(number):
        return None
    if isinstance(number, float) and math.isinf(number):
        return number
    rounded = round(float(number), FLOAT_DIGITS)
    return int(rounded) if rounded.is_integer() and abs(rounded) < 2**53 else rounded


def normalize_rows(rows: Iterable[Sequence[Any]]) -> list[Row]:
    """Rows as tuples of :func:`normalize_value` results."""
    return [tuple(normalize_value(v) for v in row) for row in rows]


def results_match(gold: Iterable[Sequence[Any]], predicted: Iterable[Sequence[Any]], ordered: bool) -> bool:
    """Bag-of-rows equality (a multiset); row order counts only when ``ordered``."""
    gold_rows, pred_rows = normalize_rows(gold), normalize_rows(predicted)
    if ordered:
        return gold_rows == pred_rows
    return Counter(gold_rows) == Counter(pred_rows)


def answer_match(gold: Iterable[Sequence[Any]], predicted: Iterable[Sequence[Any]], ordered: bool) -> bool:
    """What a user would call the right answer: every gold column is among the predicted columns.

    The predicted result may show its columns in any order and add columns of its own (a count
    beside the names, the name beside a price), but it must have the gold's rows: the predicted
    rows, cut down to the columns matched to the gold's, equal the gold rows as a bag (in order
    only when ``ordered``). A missing gold column, a wrong, missing or extra row fails. Columns
    are matched by their values, so a column computed under another name still counts.
    Whenever :func:`results_match` holds, so does this.
    """
    gold_rows, pred_rows = normalize_rows(gold), normalize_rows(predicted)
    if len(gold_rows) != len(pred_rows):
        return False
    if not gold_rows:
        return True  # both empty: nothing tells their columns apart
    width, pred_width = len(gold_rows[0]), len(pred_rows[0])
    if pred_width < width:
        return False

    def same(values: list[Any], others: list[Any]) -> bool:
        return values == others if ordered else Counter(values) == Counter(others)

    gold_columns = [[row[j] for row in gold_rows] for j in range(width)]
    pred_columns = [[row[k] for row in pred_rows] for k in range(pred_width)]
    # each gold column's possible partners: the predicted columns holding the same values
    partners = [[k for k in range(pred_width) if same(gold_columns[j], pred_columns[k])] for j in range(width)]
    target: Any = gold_rows if ordered else Counter(gold_rows)
    tries = [0]

    def assign(j: int, chosen: tuple[int, ...]) -> bool:
        """Try each partner for gold column ``j`` (distinct ones), then compare whole rows."""
        if j == width:
            tries[0] += 1
            projected = [tuple(row[k] for k in chosen) for row in pred_rows]
            return (projected if ordered else Counter(projected)) == target
        return any(
            assign(j + 1, chosen + (k,)) for k in partners[j] if k not in chosen and tries[0] < MAX_COLUMN_ASSIGNMENTS
        )

    return assign(0, ())


def is_informative(rows: Sequence[Sequence[Any]]) -> bool:
    """A gold result that can tell right from wrong: some value that is not NULL, 0 or ''.

    An empty result, ``COUNT(*) = 0`` or ``MAX(x) IS NULL`` is what a wrong filter returns too.
    """
    return says_something([normalize_value(v) for v in row] for row in rows)


# -- summaries ---------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean_of(flags: Iterable[bool | None]) -> float | None:
    """Fraction of True among the flags that are not None; None when there are none."""
    scored = [bool(f) for f in flags if f is not None]
    return sum(scored) / len(scored) if scored else None
