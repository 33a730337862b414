"""What a training row's SQL exercises, so a recipe can keep the rows that teach what a base lacks.

An instruct base such as Qwen2.5-Coder already answers WikiSQL's one-table lookups; what it gets
wrong on real schemas is joins, grouping, nested queries and set operations. On a CPU budget of
a few thousand rows, a config's ``select`` (a dataset entry key) keeps only rows whose answer
uses one of the listed features. The names are the config's vocabulary; string literals are
ignored, so ``WHERE name = "Join us"`` is no join.
"""

from __future__ import annotations

import re

SQL_FEATURES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "join": r"\bJOIN\b|\bFROM\s+\w+(\s+(AS\s+)?\w+)?\s*,\s*\w+",  # explicit JOIN, or FROM a, b
        "group_by": r"\bGROUP\s+BY\b",
        "having": r"\bHAVING\b",
        "nested": r"\(\s*SELECT\b",
        "set_op": r"\b(UNION|INTERSECT|EXCEPT)\b",
        "order_by": r"\bORDER\s+BY\b",
        "date": r"\b(STRFTIME|DATE|DATETIME|JULIANDAY|TIME)\s*\(",
        "like": r"\bLIKE\b",
        "distinct": r"\bDISTINCT\b",
    }.items()
}
_LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


def sql_features(sql: str) -> set[str]:
    """The names in :data:`SQL_FEATURES` that ``sql`` uses (outside its string literals)."""
    text = _LITERAL.sub("''", sql)
    return {name for name, pattern in SQL_FEATURES.items() if pattern.search(text)}
