"""Rows that teach the model to say a question cannot be answered, instead of answering another one.

The untuned 1.5B never writes the engine's decline marker (``sqlchat.answers.declining.DECLINE_MARKER``): asked for
a salary on tables that store none, it reads some other column. Declining on the held-out suite is therefore left
to weak evidence (docs/benchmarks.md, "Declining"). The remedy that holds on any database is to teach it.

A declining row is a training row whose context lost the column the question asks for: a column the answer
selects, every word of whose name the question says ("What is the salary of ..." and ``salary``), and that no other
column of the context shares a word with (so nothing left could hold it: ``first_name`` stays out of the way of a
removed ``name``). Its answer is the marker and what is missing. The original row stays in the mix beside it, so the
pair teaches that the context decides, not the question. Nothing here knows a database: the rows come from the
training files' own questions and columns.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.answers.declining import DECLINE_MARKER
from sqlchat.language import KEY_NAME_WORDS, content_words, same_word, split_words, stemmed_words

from .distractors import Table, parse_context, render_tables
from .rows import Row

DECLINE_SHARE = 0.04  # declining rows added, as a share of the mix: enough to learn the marker, too few to lean on it
SOURCE = "declining"


def _column_name(definition: str) -> str:
    return definition.split()[0].strip('"`[]')


def _name_words(name: str) -> list[str]:
    return [word for word in stemmed_words(name) if len(word) >= 3 and word not in KEY_NAME_WORDS]


def selected_columns(answer: str) -> list[str]:
    """The columns the answer's outer SELECT returns or aggregates, in order (``SELECT AVG(salary) ...`` -> salary)."""
    try:
        tree = sqlglot.parse_one(answer, read="sqlite")
    except (SqlglotError, ValueError, TypeError, RecursionError):
        return []
    if not isinstance(tree, exp.Select):
        return []
    found: list[str] = []
    for projection in tree.expressions:
        for column in projection.find_all(exp.Column):
            if column.name and column.name.lower() not in (name.lower() for name in found):
                found.append(column.name)
    return found


def declining_row(row: Row) -> Row | None:
    """``row`` with the asked column taken out of its context and the marker as its answer; None when no column
    qualifies (the question does not name it, another column shares a word with it, it is in several tables, or
    its table would be left empty)."""
    tables = parse_context(row.context)
    if not tables:
        return None
    asked = content_words(row.question)
    for name in selected_columns(row.answer):
        words = _name_words(name)
        if not words or not all(any(same_word(word, said) for said in asked) for word in words):
            continue
        holders = [i for i, (_, columns) in enumerate(tables) if any(_column_name(c).lower() == name.lower() for c in columns)]
        if len(holders) != 1:
            continue
        others = [_column_name(c) for i, (_, columns) in enumerate(tables) for c in columns
                  if _column_name(c).lower() != name.lower()]
        if any(same_word(word, other) for other_name in others for other in _name_words(other_name) for word in words):
            continue
        table_name, columns = tables[holders[0]]
        kept = tuple(c for c in columns if _column_name(c).lower() != name.lower())
        if not kept:
            continue
        narrowed: list[Table] = [(table_name, kept) if i == holders[0] else table for i, table in enumerate(tables)]
        missing = " ".join(split_words(name))
        return replace(row, context=render_tables(narrowed), answer=f"{DECLINE_MARKER} the tables hold no {missing}",
                       source=SOURCE)
    return None


def add_declining_rows(rows: Sequence[Row], share: float, seed: int) -> list[Row]:
    """``rows`` and, after them, declining rows made from a seeded choice of them: ``share`` of ``len(rows)``, or as
    many as qualify. Template (dialect) rows are left out: their schemas are few, and their answers must run."""
    rng = random.Random(seed)
    order = [i for i in range(len(rows)) if not rows[i].source.startswith("template:")]
    rng.shuffle(order)
    wanted = round(share * len(rows))
    made: list[Row] = []
    for index in order:
        if len(made) >= wanted:
            break
        declining = declining_row(rows[index])
        if declining is not None:
            made.append(declining)
    return [*rows, *made]
