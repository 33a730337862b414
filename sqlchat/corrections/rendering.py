"""A corrected tree back to text, only when that text reads again.

Every correction edits a sqlglot tree; one whose text the parser cannot read back would turn a query that
ran into one that fails, so the corrections that rewrite a query return it as written instead.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError


def rendered(tree: exp.Expression, original: str, dialect: str) -> str:
    """``tree`` as ``dialect`` SQL when that text parses again, else ``original``."""
    try:
        text = tree.sql(dialect=dialect)
        sqlglot.parse_one(text, read=dialect)
    except SqlglotError:
        return original
    return text
