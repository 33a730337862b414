"""Verified pairs from a hand-written JSONL file (question, sql, family, split): the demo's, an operator's.

Each pair is stored with the schema context its prompt gets, so exported training rows show the model
what it will be shown.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlchat.config import SchemaConfig
from sqlchat.errors import ConfigError
from sqlchat.history.examples import VerifiedExamples, schema_fingerprint
from sqlchat.schema.context import render_context, select_tables
from sqlchat.schema.model import Schema


def load_pairs_file(path: str | os.PathLike, split: str | None = None) -> list[dict[str, str]]:
    """Rows of a hand-written verified-pairs JSONL file (question, sql, family, split), optionally one split."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not row["question"] or not row["sql"]:
                raise ValueError("empty question or sql")
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"Line {number} of {Path(path).name} is not a verified pair.", detail=str(exc)) from exc
        if split is None or row.get("split") == split:
            rows.append(row)
    return rows


def seed_from_file(
    store: VerifiedExamples, path: str | os.PathLike, schema: Schema, label: str, schema_config: SchemaConfig,
    split: str | None = "seen",
) -> int:
    """Import a verified-pairs file for ``schema`` (e.g. the demo's), each with the context its prompt gets.

    Idempotent: pairs already stored for this schema are skipped, so an app may seed at every start.
    Returns how many pairs were added.
    """
    fingerprint = schema_fingerprint(schema)
    known = {(pair.question, pair.sql) for pair in store.verified_for(fingerprint)}
    added = 0
    for row in load_pairs_file(path, split):
        question, sql = row["question"].strip(), row["sql"].strip().rstrip(";").strip()
        if (question, sql) in known:
            continue
        tables = select_tables(schema, question, schema_config.token_budget, focus=schema_config.focus)
        context = render_context(tables, keys=schema_config.include_keys)
        store.add_verified(question, sql, context, fingerprint, label, source="import")
        known.add((question, sql))
        added += 1
    return added
