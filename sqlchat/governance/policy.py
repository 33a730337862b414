"""A database's access policy, built once from its visible schema, and the few-shot examples it allows.

:mod:`sqlchat.governance.access` holds the rules and the check; this module applies them to an
open Database: :func:`policy_for` is what the pipeline passes to :func:`sqlchat.safety.check_sql`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlglot
from sqlglot.errors import SqlglotError

from sqlchat.errors import UnsafeSQL
from sqlchat.governance.access import OWN_SCHEMAS, AccessPolicy, enforce
from sqlchat.schema.reflection import reflect_schema  # the schema is reflected (and filtered) once per Database

if TYPE_CHECKING:
    from sqlchat.sources.connection import Database

_POLICY_KEY = "access_policy"


def policy_for(db: "Database") -> AccessPolicy | None:
    """The policy of ``db`` (None when it has no rules), built once from its visible schema."""
    rules = getattr(db, "rules", None)
    if rules is None:
        return None
    schema = reflect_schema(db)
    with db.lock:
        cached = db.cache.get(_POLICY_KEY)
        if cached is None or cached[0] is not schema:
            own = OWN_SCHEMAS | ({db.engine.url.database.lower()} if db.dialect == "mysql" and db.engine.url.database
                                 else frozenset())
            policy = AccessPolicy(rules, {t.name.lower(): [c.name for c in t.columns] for t in schema}, own,
                                  dialect=db.dialect)
            cached = db.cache[_POLICY_KEY] = (schema, policy)
        return cached[1]


def permitted_examples(examples: list[tuple[str, str]] | None, db: "Database",
                       dialect: str | None = None) -> list[tuple[str, str]] | None:
    """Few-shot examples whose SQL passes ``db``'s rules; the others would show the model hidden names."""
    policy = policy_for(db)
    if policy is None or not examples:
        return examples
    kept = []
    for question, sql in examples:
        try:
            enforce(sqlglot.parse_one(sql, read=dialect or db.dialect), policy, rewrite_stars=False)
        except (UnsafeSQL, SqlglotError, ValueError, RecursionError):
            continue
        kept.append((question, sql))
    return kept
