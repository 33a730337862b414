"""What the stages before execution may ask of the data: plain SQL in, plain rows out.

Schema linking (:mod:`sqlchat.schema.mentions`) and value linking (:mod:`sqlchat.corrections.values`)
read a few stored values to place a question's names. They come before the safety check and the
executor, so they do not call them: they are handed a :class:`ValueReader`, which the pipeline builds
from the connection, the check and the read-only executor (:class:`sqlchat.value_reader.DatabaseReader`).
"""

from __future__ import annotations

from typing import Protocol


class ValueReader(Protocol):
    """Runs a SELECT that schema or value linking built, and returns its rows; never raises."""

    @property
    def dialect(self) -> str:
        """The SQL dialect the statements are written in (sqlglot's name)."""

    def rows(self, sql: str, *, timeout_s: float | None = None, respell: bool = False) -> list[tuple[object, ...]]:
        """The rows of ``sql``, within ``timeout_s`` seconds if given (else the reader's own timeout); with
        ``respell``, names are written as the database spells them first. A statement that is refused, fails
        or runs out of time reads no rows."""
