"""Reads of a column's stored values for the prompt (:mod:`sqlchat.schema.samples`), made by this later stage.

Each read is a statement built as a sqlglot tree (names quoted, so any spelling is safe), passed through the safety
check with the connection's access rules and run by the read-only executor, within what is left of a time budget.
A read that fails, is refused or runs out of time finds nothing. Results are kept on the :class:`Database` (its
``cache``), so a connection reads each column once, on the first question that shows its table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlglot import exp

from sqlchat.config import ExecutionConfig
from sqlchat.errors import SqlchatError
from sqlchat.execution import execute
from sqlchat.governance.policy import policy_for
from sqlchat.safety import check_sql
from sqlchat.schema.names import database_spelling

if TYPE_CHECKING:
    from sqlchat.sources.connection import Database

_CACHE_KEY = "column_reads"


class DatabaseColumns:
    """A :class:`sqlchat.schema.samples.ColumnReader` over ``db``, every read within ``budget_s`` from its creation
    (reads already kept on the connection cost nothing)."""

    def __init__(self, db: "Database", config: ExecutionConfig, budget_s: float):
        self.db, self.config = db, config
        self.deadline = time.monotonic() + budget_s

    def distinct(self, table: str, column: str, limit: int) -> Sequence[object]:
        target = exp.column(column, quoted=True)
        query = (exp.select(target).from_(exp.table_(table, quoted=True))
                 .where(exp.Not(this=exp.Is(this=target.copy(), expression=exp.Null()))).group_by(target.copy())
                 .order_by(exp.Ordered(this=exp.Count(this=exp.Star()), desc=True), target.copy()).limit(limit))
        return [row[0] for row in self._kept(("distinct", table, column, limit), query)]

    def span(self, table: str, column: str) -> tuple[object, object] | None:
        target = exp.column(column, quoted=True)
        query = exp.select(exp.Min(this=target), exp.Max(this=target.copy())).from_(exp.table_(table, quoted=True))
        rows = self._kept(("span", table, column), query)
        return (rows[0][0], rows[0][1]) if rows and rows[0][0] is not None and rows[0][1] is not None else None

    def _kept(self, key: tuple, query: exp.Expression) -> list[tuple[object, ...]]:
        with self.db.lock:
            kept = self.db.cache.setdefault(_CACHE_KEY, {})
            if key in kept:
                return kept[key]
        rows = self._read(query)
        if rows is not None:
            with self.db.lock:
                self.db.cache.setdefault(_CACHE_KEY, {})[key] = rows
        return rows or []

    def _read(self, query: exp.Expression) -> list[tuple[object, ...]] | None:
        """The rows, or None when the read failed or ran out of time (not kept: a later question may try again)."""
        left = self.deadline - time.monotonic()
        if left <= 0 or not self.db.executable:
            return None
        try:
            checked = check_sql(query.sql(dialect=self.db.dialect), self.db.dialect, row_limit=None,
                                names=database_spelling(self.db), access=policy_for(self.db))
            config = replace(self.config, statement_timeout_s=min(self.config.statement_timeout_s, left))
            frame = execute(self.db, checked, config).frame
        except SqlchatError:
            return None
        return list(frame.itertuples(index=False, name=None))
