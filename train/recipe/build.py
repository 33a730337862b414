"""The recipe put together: training rows, distractor tables, dialect rows, one-table proportion, declining rows.

Deterministic for a seed (the dialect rows' check runs on today's date; the rows themselves do not
depend on it). Two files: the training mix (every answer SQLite, the dialect of the training data and
of the engine's default databases) and, apart, the PostgreSQL and MariaDB template rows, checked the
same way, for a prompt that names its dialect (today's does not: see :mod:`.dialects`).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .declines import DECLINE_SHARE, SOURCE as DECLINING, add_declining_rows
from .dialects import template_rows
from .distractors import add_distractor_tables, extra_table_count
from .execute import CheckReport, checked_rows
from .rows import TRAIN_FILES, Row, held_out_questions, keep_one_table_share, load_training_rows, normalized, one_table_share

DISTRACTOR_FRACTION = 0.5  # half the contexts widened: the engine sends 1-3 focused tables as often as whole schemas
SERVER_DIALECTS = ("postgresql", "mariadb")


@dataclass
class Recipe:
    """The rows of both files and the figures the report gives."""

    train: list[Row]
    other_dialects: list[Row]
    figures: dict = field(default_factory=dict)


def build_recipe(seed: int = 42, paths: Sequence[Path] = TRAIN_FILES, fraction: float = DISTRACTOR_FRACTION,
                 servers: bool = True, today: dt.date | None = None) -> Recipe:
    """Build the recipe. ``servers=False`` skips the PostgreSQL and MariaDB rows (no servers at hand)."""
    excluded = held_out_questions()
    source = load_training_rows(paths, excluded)
    source_share = one_table_share(source)
    widened = add_distractor_tables(source, fraction, seed)
    check = CheckReport()
    sqlite_rows = [row for row in checked_rows(template_rows("sqlite", seed), "sqlite", today, check)
                   if normalized(row.question) not in excluded]
    others = [row for dialect in (SERVER_DIALECTS if servers else ())
              for row in checked_rows(template_rows(dialect, seed), dialect, today, check)
              if normalized(row.question) not in excluded]
    mix = widened + sqlite_rows
    balanced = add_declining_rows(keep_one_table_share(mix, source_share, seed), DECLINE_SHARE, seed)
    random.Random(seed).shuffle(balanced)
    extras = [extra_table_count(before.context, after.context) for before, after in zip(source, widened)]
    figures = {
        "source_rows": {Path(p).stem: sum(r.source == Path(p).stem for r in source) for p in paths},
        "excluded_questions_known": len(excluded),
        "distractors": {"rows_widened": sum(1 for n in extras if n), "extra_tables_min": min((n for n in extras if n), default=0),
                        "extra_tables_max": max(extras, default=0),
                        "extra_tables_mean": round(sum(extras) / max(1, sum(1 for n in extras if n)), 2)},
        "one_table_share": {"source": round(source_share, 4),
                            "recipe": round(one_table_share([row for row in balanced if row.source != DECLINING]), 4),
                            "multi_table_rows_left_out": len(mix) - sum(row.source != DECLINING for row in balanced)},
        "dialect_rows": {"kept": check.kept, "dropped": {d: len(v) for d, v in check.dropped.items()},
                         "dropped_examples": {d: v[:5] for d, v in check.dropped.items() if v}},
        "rows": {"train_file": len(balanced), "other_dialects_file": len(others),
                 "by_part": dict(Counter(_part(row) for row in balanced))},
        "context_chars_max": max(len(row.context) for row in balanced),
    }
    return Recipe(balanced, others, figures)


def _part(row: Row) -> str:
    return "dialect_template" if row.source.startswith("template:") else row.source


def write_jsonl(rows: Sequence[Row], path: Path) -> None:
    """One know_sql record per line (``question``, ``context``, ``answer``, ``dialect``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row.record(), ensure_ascii=False) + "\n")
