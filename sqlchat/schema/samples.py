"""A few stored values of the prompt's text and date columns, shown to the model under the ``CREATE TABLE`` context.

A condition must match the data's own spelling (``'COMPLETE'``, not ``'Completed'``; ``'Online'`` as a store's name),
and a question about "current" or "last year" must know the dates the data holds (up to ``'9999-01-01'``, or only
2005). The schema alone says neither. Showing a few values per column is the standard remedy (Rajkumar et al. 2022,
"Evaluating the Text-to-SQL Capabilities of Large Language Models": ``CREATE TABLE`` plus rows; DAIL-SQL, CHESS,
CodeS list column values): a column with few distinct values is listed whole, another gets a few examples, a date
column its first and last date. Nothing here knows any database's vocabulary.

This module reads nothing itself: it asks a :class:`ColumnReader` the later stages build (through the safety check
and the read-only executor), so the schema stage never calls the executor.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlchat.schema.model import Column, Table, prompt_text, quote_identifier

LISTED_WHOLE = 10  # a column with at most this many distinct values is listed whole
EXAMPLES = 3  # else this many examples
MAX_VALUE_CHARS = 40  # longer values (descriptions, addresses) are left out: they teach no spelling and cost tokens
MAX_COLUMNS = 40  # columns sampled per prompt at most
MAX_LINE_CHARS = 160  # a whole list longer than this is shown as examples
DATE_TYPES = ("DATE", "TIME")  # DATE, DATETIME, TIMESTAMP, TIME
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


class ColumnReader(Protocol):
    """What :func:`sample_columns` asks of a database: each call may find nothing (an empty sequence, None)."""

    def distinct(self, table: str, column: str, limit: int) -> Sequence[object]:
        """Up to ``limit`` distinct non-null values of ``table.column``, the most frequent first (then in order): the
        same few on every dialect, and the ones a question most likely means."""

    def span(self, table: str, column: str) -> tuple[object, object] | None:
        """The smallest and largest non-null value of ``table.column``."""


@dataclass(frozen=True)
class ColumnSample:
    """What the prompt says of one column: its values (``complete`` when that is all of them), or its date span."""

    table: str
    column: str
    values: tuple[str, ...] = ()
    complete: bool = False
    span: tuple[str, str] | None = None

    def text(self) -> str:
        """``-- orders.order_status: one of 'CANCELLED', 'COMPLETE'`` (all the values stored), ``... e.g. 'A', 'B'``
        (a few), ``... from '2005-05-24' to '2006-02-14'`` (the first and last date)."""
        name = f"{_name(self.table)}.{_name(self.column)}"
        if self.span is not None:
            return f"-- {name}: from {_string(self.span[0])} to {_string(self.span[1])}"
        listed = ", ".join(_string(value) for value in self.values)
        return f"-- {name}: one of {listed}" if self.complete else f"-- {name}: e.g. {listed}"


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


def sample_column(table: Table, column: Column, reader: ColumnReader) -> ColumnSample | None:
    """What to show of one column: a date column (by type, or text whose values are ISO dates) its span; a text
    column its values; anything else, or a column whose values are all too long, nothing."""
    if not (column.is_text or _is_date(column)):
        return None
    if _is_date(column):
        return _span(table, column, reader)
    found = [str(value) for value in reader.distinct(table.name, column.name, LISTED_WHOLE + 1) if value is not None]
    if found and all(_ISO_DATE.match(value) for value in found):
        return _span(table, column, reader)
    shown = [text for text in (_shown(value) for value in found) if text is not None]
    if not shown:
        return None
    whole = len(found) <= LISTED_WHOLE and len(shown) == len(found) and sum(len(v) + 4 for v in shown) <= MAX_LINE_CHARS
    values = tuple(sorted(shown)) if whole else tuple(shown[:EXAMPLES])
    return ColumnSample(table.name, column.name, values=values, complete=whole)


def _span(table: Table, column: Column, reader: ColumnReader) -> ColumnSample | None:
    span = reader.span(table.name, column.name)
    if span is None:
        return None
    first, last = (_shown(value) for value in span)
    if first is None or last is None:
        return None
    return ColumnSample(table.name, column.name, span=(first, last))


def sample_columns(tables: Sequence[Table], reader: ColumnReader) -> list[ColumnSample]:
    """The samples of the ``tables``' columns, in the tables' order, at most :data:`MAX_COLUMNS` columns read."""
    samples: list[ColumnSample] = []
    read = 0
    for table in tables:
        for column in table.columns:
            if read >= MAX_COLUMNS:
                return samples
            if not (column.is_text or _is_date(column)):
                continue
            read += 1
            sample = sample_column(table, column, reader)
            if sample is not None:
                samples.append(sample)
    return samples
