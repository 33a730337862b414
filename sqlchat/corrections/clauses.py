"""A JOIN the model wrote after the WHERE clause, moved in front of it.

Extending a query (a follow-up: "Which is the longest of those tracks?") small models append the new
table at the end: ``... WHERE Artist.Name = 'Led Zeppelin' JOIN Track ON ...``. No SQL parser reads that
(SQLite: 'near "JOIN": syntax error'), so the user gets an error for a query whose meaning is plain. At the
outer query's top level (not inside parentheses), the joins between ``WHERE`` and the next clause (``GROUP
BY``, ``ORDER BY``, ``HAVING``, ``LIMIT``, a set operation or the end) go before ``WHERE``; the result is kept
only when it parses, so anything else comes back as written.
"""

from __future__ import annotations

import sqlglot
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType

_JOIN_WORDS = {TokenType.JOIN, TokenType.INNER, TokenType.LEFT, TokenType.RIGHT, TokenType.FULL, TokenType.CROSS,
               TokenType.OUTER, TokenType.NATURAL}
_CLAUSE_ENDS = {TokenType.GROUP_BY, TokenType.ORDER_BY, TokenType.HAVING, TokenType.LIMIT, TokenType.UNION,
                TokenType.INTERSECT, TokenType.EXCEPT, TokenType.WINDOW, TokenType.SEMICOLON}


def joins_before_where(sql: str, dialect: str = "sqlite") -> str:
    """``sql`` with joins written after its top-level ``WHERE`` condition moved before it; unchanged otherwise."""
    if not sql or "join" not in sql.lower() or "where" not in sql.lower():
        return sql
    try:
        tokens = sqlglot.tokenize(sql, read=dialect)
    except SqlglotError:
        return sql
    spans = _where_and_joins(tokens)
    if spans is None:
        return sql
    where_start, join_start, end = spans
    moved = f"{sql[:where_start].rstrip()} {sql[join_start:end].strip()} {sql[where_start:join_start].strip()}"
    moved = f"{moved} {sql[end:].strip()}".strip()
    try:
        sqlglot.parse_one(moved, read=dialect)
    except SqlglotError:
        return sql
    return moved


def _where_and_joins(tokens: list[Token]) -> tuple[int, int, int] | None:
    """Character offsets: the top-level ``WHERE``, the first join word after it, and where the joins end."""
    depth, where_start, join_start = 0, None, None
    for index, token in enumerate(tokens):
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        if depth != 0:
            continue
        if token.token_type == TokenType.WHERE and where_start is None:
            where_start = token.start
        elif where_start is not None and join_start is None and token.token_type in _JOIN_WORDS and _starts_join(tokens, index):
            join_start = token.start
        elif join_start is not None and (token.token_type in _CLAUSE_ENDS or token.token_type == TokenType.WHERE):
            return where_start, join_start, token.start
    if join_start is None:
        return None
    return where_start, join_start, tokens[-1].end + 1


def _starts_join(tokens: list[Token], index: int) -> bool:
    """Whether the join words from ``index`` on reach a ``JOIN`` (``LEFT`` alone may be a function's name)."""
    for token in tokens[index:index + 4]:
        if token.token_type == TokenType.JOIN:
            return True
        if token.token_type not in _JOIN_WORDS:
            return False
    return False
