"""A few stored values of the prompt's text and date columns, shown to the model under the ``CREATE TABLE`` context.

A condition must match the data's own spelling (``'COMPLETE'``, not ``'Completed'``; ``'Online'`` as a store's name),
and a question about "current" or "last year" must know the dates the data holds (up to ``'9999-01-01'``, or only
2005). The schema alone says neither. Showing a few values per column is the standard remedy (Rajkumar et al. 2022,
"Evaluating the Text-to-SQL Capabilities of Large Language Models": ``CREATE TABLE`` plus rows; DAIL-SQL, CHESS,
CodeS list column values): a text column with few distinct short values is listed whole (a status, a type, a
category, a small table's names), a date column gets its first and last date. A column of many values gets nothing:
a few examples of it taught no spelling, and the model copied them as if they were all there is ("women's
products" became the three product names shown; the demo's "Which 5 artists have the most tracks?" lost its
join). Nothing here knows any database's vocabulary.

This module writes its SELECTs (sqlglot trees, names quoted) but runs none: a :class:`~sqlchat.schema.reader.ValueReader`
the pipeline builds from the safety check and the read-only executor runs them, within a time budget. What was read is
kept in the ``kept`` memo the caller owns (the connection's), so a connection reads each column once.
"""

from __future__ import annotations

import re
import time
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass

from sqlglot import exp

from sqlchat.schema.model import Column, Table, prompt_text, quote_identifier
from sqlchat.schema.reader import ValueReader

LISTED_WHOLE = 10  # a column with at most this many distinct values is listed whole
MAX_VALUE_CHARS = 40  # longer values (descriptions, addresses) are left out: they teach no spelling and cost tokens
MAX_COLUMNS = 40  # columns sampled per prompt at most
MAX_LINE_CHARS = 160  # a list longer than this is not shown
DATE_TYPES = ("DATE", "TIME")  # DATE, DATETIME, TIMESTAMP, TIME
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class ColumnSample:
    """What the prompt says of one column: all the values it stores, or its date span."""

    table: str
    column: str
    values: tuple[str, ...] = ()
    span: tuple[str, str] | None = None

    def text(self) -> str:
        """``-- orders.order_status: one of 'CANCELLED', 'COMPLETE'`` (every value stored), ``-- staff.hired: from
        '2005-05-24' to '2006-02-14'`` (the first and last date)."""
        name = f"{_name(self.table)}.{_name(self.column)}"
        if self.span is not None:
            return f"-- {name}: from {_string(self.span[0])} to {_string(self.span[1])}"
        listed = ", ".join(_string(value) for value in self.values)
        return f"-- {name}: one of {listed}"


def _name(name: str) -> str:
    return prompt_text(quote_identifier(name))


def _string(value: str) -> str:
    return "'" + prompt_text(value).replace("'", "''") + "'"


def _is_date(column: Column) -> bool:
    return any(kind in (column.type or "").upper() for kind in DATE_TYPES)


def _shown(value: object) -> str | None:
    """A value as the prompt may show it: text (or a date) of at most :data:`MAX_VALUE_CHARS`, on one line."""
    text = value.isoformat() if hasattr(value, "isoformat") else value
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_VALUE_CHARS or "\n" in text:
        return None
    return text


class _Reads:
    """The SELECTs behind the samples, run by ``reader`` within ``budget_s``; non-empty results kept in ``kept``."""

    def __init__(self, reader: ValueReader, budget_s: float, kept: MutableMapping[tuple, list] | None):
        self.reader, self.kept = reader, kept if kept is not None else {}
        self.deadline = time.monotonic() + budget_s

    def distinct(self, table: str, column: str, limit: int) -> list[object]:
        """Up to ``limit`` distinct non-null values (one more than a list may hold tells that there are too many)."""
        target = exp.column(column, quoted=True)
        query = (exp.select(target.copy()).distinct().from_(exp.table_(table, quoted=True))
                 .where(exp.Not(this=exp.Is(this=target.copy(), expression=exp.Null()))).limit(limit))
        return [row[0] for row in self._rows(("distinct", table, column, limit), query)]

    def span(self, table: str, column: str) -> tuple[object, object] | None:
        """The first and last non-null value."""
        target = exp.column(column, quoted=True)
        query = exp.select(exp.Min(this=target.copy()), exp.Max(this=target.copy())).from_(exp.table_(table, quoted=True))
        rows = self._rows(("span", table, column), query)
        return (rows[0][0], rows[0][1]) if rows and rows[0][0] is not None and rows[0][1] is not None else None

    def _rows(self, key: tuple, query: exp.Expression) -> list[tuple[object, ...]]:
        if key in self.kept:
            return self.kept[key]
        left = self.deadline - time.monotonic()
        if left <= 0:
            return []
        rows = self.reader.rows(query.sql(dialect=self.reader.dialect), timeout_s=left)
        if rows:  # nothing read may be time running out: a later question tries again
            self.kept[key] = rows
        return rows


def _sample(table: Table, column: Column, reads: _Reads) -> ColumnSample | None:
    """What to show of one column: a date column (by type, or text whose values are ISO dates) its span; a text
    column its values when they are few and short; else nothing."""
    if _is_date(column):
        return _span(table, column, reads)
    found = [str(value) for value in reads.distinct(table.name, column.name, LISTED_WHOLE + 1) if value is not None]
    if found and all(_ISO_DATE.match(value) for value in found):
        return _span(table, column, reads)
    shown = [text for text in (_shown(value) for value in found) if text is not None]
    whole = 0 < len(found) <= LISTED_WHOLE and len(shown) == len(found) and sum(len(v) + 4 for v in shown) <= MAX_LINE_CHARS
    return ColumnSample(table.name, column.name, values=tuple(sorted(shown))) if whole else None


def _span(table: Table, column: Column, reads: _Reads) -> ColumnSample | None:
    span = reads.span(table.name, column.name)
    if span is None:
        return None
    first, last = (_shown(value) for value in span)
    if first is None or last is None:
        return None
    return ColumnSample(table.name, column.name, span=(first, last))


def sample_columns(tables: Sequence[Table], reader: ValueReader, budget_s: float,
                   kept: MutableMapping[tuple, list] | None = None) -> list[ColumnSample]:
    """The samples of the ``tables``' text and date columns, in the tables' order (at most :data:`MAX_COLUMNS`
    columns), read by ``reader`` within ``budget_s`` seconds; ``kept`` is the memo of earlier reads to use and fill."""
    reads = _Reads(reader, budget_s, kept)
    columns = [(table, column) for table in tables for column in table.columns if column.is_text or _is_date(column)]
    samples = (_sample(table, column, reads) for table, column in columns[:MAX_COLUMNS])
    return [sample for sample in samples if sample is not None]
