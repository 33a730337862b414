"""Names with spaces that the model wrote without quotes, quoted as the database needs them.

Northwind has a table ``Order Details``; small models write ``FROM Order Details od``, which no SQL
parser reads as one name (SQLite: 'near "Order": syntax error'). A run of words that spells a table or
column of the schema with spaces, outside any string or quoted name, is put in the dialect's quotes
(``"Order Details"``; backticks on MySQL). The longest names are tried first, so ``Order Details
Extended`` is not cut to ``Order Details``. SQL with nothing of the kind comes back unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A string or an already quoted name: left as it is.
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]")


def quote_spaced_names(sql: str, names: Iterable[str], dialect: str = "sqlite") -> str:
    """``sql`` with every bare mention of a spaced name from ``names`` quoted; unchanged when there is none."""
    spaced = sorted({name for name in names if " " in name.strip()}, key=len, reverse=True)
    if not sql or not spaced:
        return sql
    pattern = re.compile(
        r"(?<![\w.])(" + "|".join(r"\s+".join(map(re.escape, name.split())) for name in spaced) + r")(?!\w)",
        re.IGNORECASE)
    canonical = {" ".join(name.split()).lower(): name for name in spaced}
    open_quote, close_quote = ("`", "`") if dialect == "mysql" else ('"', '"')

    def quoted(match: re.Match) -> str:
        name = canonical[" ".join(match.group(1).split()).lower()]
        return open_quote + name.replace(close_quote, close_quote * 2) + close_quote

    pieces, last = [], 0
    for literal in _QUOTED.finditer(sql):
        pieces.append(pattern.sub(quoted, sql[last:literal.start()]))
        pieces.append(literal.group(0))
        last = literal.end()
    pieces.append(pattern.sub(quoted, sql[last:]))
    return "".join(pieces)
