"""From a question to an answer: schema → prompt → candidates → check → execute.

Execution-guided choice: the model may offer several candidates; the first one
that passes the safety check and runs without error is the answer. A join on keys
that the database's foreign keys do not link is corrected first (``sqlchat.joins``), and
a candidate that fails is retried once with unknown names repaired to the schema's own
(``sqlchat.repair``). The answer then shows the names of ids it lists and the measure it
ranks by (``sqlchat.readable``). Every step is timed, and every failure becomes a plain
sentence in ``Answer.error``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd

from .backends import Backend
from .config import Settings
from .connection import Database
from .errors import InvalidSQL, SqlchatError, UnsafeSQL, redact
from .execution import QueryResult, execute
from .prompt import build_prompt
from .readable import make_readable
from .repair import schema_names, with_repairs
from .safety import CheckedSQL, check_sql
from .schema import Schema, reflect_schema, render_context, select_tables

T = TypeVar("T")
NO_SQL_MESSAGE = "The model could not write SQL for this question. Try rephrasing it, or name the table and columns."


@dataclass
class Answer:
    """Everything a user (or the evaluator) needs to see about one question."""

    question: str | None
    sql: str | None = None
    frame: pd.DataFrame | None = None
    context: str = ""
    tables: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    error_detail: str | None = None
    capped: bool = False
    limit_added: bool = False
    tokens: int = 0
    chosen: str | None = None  # the SQL as written (the model's chosen candidate, or the user's), before check and LIMIT
    error_kind: str | None = None  # "refused" (the safety check turned it away) or "error"; None when ok
    repaired: bool = False  # the chosen SQL is a candidate corrected against the schema (names, join keys)
    columns_added: bool = False  # name or measure columns were added to make the result readable

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns] if self.frame is not None else []

    @property
    def rows(self) -> list[list[Any]]:
        if self.frame is None:
            return []
        return json.loads(self.frame.to_json(orient="values", date_format="iso", default_handler=str))

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "sql": self.sql,
            "columns": self.columns,
            "rows": self.rows,
            "row_count": len(self.frame) if self.frame is not None else 0,
            "capped": self.capped,
            "limit_added": self.limit_added,
            "tables": self.tables,
            "candidates": self.candidates,
            "timings": {step: round(seconds, 4) for step, seconds in self.timings.items()},
            "error": self.error,
            "error_kind": self.error_kind,
            "chosen": self.chosen,
            "repaired": self.repaired,
            "columns_added": self.columns_added,
        }


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - started


def error_kind(error: Exception) -> str:
    """``refused`` when the safety check turned the SQL away on purpose; unparsable SQL is a mistake, an ``error``."""
    return "refused" if isinstance(error, UnsafeSQL) and not isinstance(error, InvalidSQL) else "error"


def _fail(answer: Answer, error: Exception) -> Answer:
    answer.error_kind = error_kind(error)
    if isinstance(error, SqlchatError):
        answer.error, answer.error_detail = error.message, error.detail
    else:  # an unexpected bug still reaches the user as a sentence, details redacted
        answer.error = "Something went wrong while answering; the details say what."
        answer.error_detail = redact(f"{type(error).__name__}: {error}")
    return answer


def choose_candidate(
    candidates: Sequence[str], run: Callable[[str], T]
) -> tuple[str | None, T | None, Exception | None]:
    """Execution-guided choice: the first candidate ``run`` accepts, else the first failure.

    ``run`` checks and executes one SQL string, raising on refusal or error. The
    evaluator uses this same function, so it measures what users get.
    """
    first_error: Exception | None = None
    for sql in candidates:
        if not sql.strip():
            continue
        try:
            return sql, run(sql), None
        except SqlchatError as error:
            first_error = first_error or error
    return None, None, first_error or SqlchatError(NO_SQL_MESSAGE)


def _known_columns(db: Database) -> set[str]:
    """Column names of ``db``: a double-quoted word naming one stays a column, not a string."""
    return {column.name for table in reflect_schema(db).tables for column in table.columns}


def _check_and_run(sql: str, db: Database, settings: Settings, answer: Answer) -> tuple[CheckedSQL, QueryResult | None]:
    with _timed(answer.timings, "check"):
        checked = check_sql(sql, db.dialect, row_limit=settings.execution.row_limit, known_columns=_known_columns(db))
    if not db.executable:
        return checked, None
    with _timed(answer.timings, "execute"):
        return checked, execute(db, checked, settings.execution)


def _record(answer: Answer, checked: CheckedSQL, result: QueryResult | None) -> Answer:
    answer.sql = checked.sql
    answer.limit_added = checked.limit_added
    if result is not None:
        answer.frame, answer.capped = result.frame, result.capped
    return answer


def prompt_for(
    question: str, db: Database, settings: Settings, answer: Answer, examples: list[tuple[str, str]] | None = None
) -> str:
    """Reflect the schema, choose the tables for ``question`` and build the prompt (with few-shot ``examples``)."""
    with _timed(answer.timings, "schema"):
        schema = reflect_schema(db)
        tables = select_tables(schema, question, settings.schema.token_budget, focus=settings.schema.focus)
        answer.tables = [table.name for table in tables]
        answer.context = render_context(tables, keys=settings.schema.include_keys)
    return build_prompt(answer.context, question, examples=examples)


def ask(
    question: str, db: Database, backend: Backend, settings: Settings, examples: list[tuple[str, str]] | None = None
) -> Answer:
    """Answer ``question`` on ``db``: the SQL, its rows, the context sent and the time of each step.

    ``examples`` are verified (question, sql) pairs for this schema, shown to the model as
    few-shot guidance; the caller retrieves them (``sqlchat.history``), so data flows one way.
    """
    answer = Answer(question=question)
    if not question or not question.strip():
        answer.error, answer.error_kind = "Please type a question.", "error"
        return answer
    started = time.perf_counter()
    try:
        prompt = prompt_for(question, db, settings, answer, examples)
        with _timed(answer.timings, "generate"):
            generations = backend.generate(prompt, n=settings.model.num_candidates)
        answer.candidates = [g.sql for g in generations]
        answer.tokens = sum(g.tokens for g in generations)
        schema = reflect_schema(db)
        tries = with_repairs(answer.candidates, schema_names(schema), db.dialect, tables=list(schema))
        sql, outcome, error = choose_candidate(tries, lambda s: _check_and_run(s, db, settings, answer))
        if outcome is None:
            answer.sql = answer.candidates[0] if answer.candidates and answer.candidates[0] else None
            return _fail(answer, error)
        answer.chosen, answer.repaired = sql, sql not in answer.candidates
        if settings.execution.readable_results:
            outcome = _made_readable(answer, outcome, schema, db, settings)
        return _record(answer, *outcome)
    except Exception as error:  # noqa: BLE001 - the user sees a sentence, never a traceback
        return _fail(answer, error)
    finally:
        answer.timings["total"] = time.perf_counter() - started


def _made_readable(answer: Answer, outcome: tuple[CheckedSQL, QueryResult | None], schema: Schema, db: Database,
                   settings: Settings) -> tuple[CheckedSQL, QueryResult | None]:
    """The chosen SQL with name and measure columns added (``sqlchat.readable``), if it runs; else as chosen.

    ``answer.chosen`` becomes the readable SQL: it is what the user sees, approves and edits.
    """
    readable = make_readable(answer.chosen, list(schema), db.dialect)
    if readable == answer.chosen:
        return outcome
    try:
        outcome = _check_and_run(readable, db, settings, answer)
    except SqlchatError:
        return outcome
    answer.chosen, answer.columns_added = readable, True
    return outcome


def run_sql(sql: str, db: Database, settings: Settings) -> Answer:
    """Run user-written (or user-edited) SQL through the same check and read-only executor."""
    answer = Answer(question=None, sql=sql)
    started = time.perf_counter()
    try:
        _record(answer, *_check_and_run(sql, db, settings, answer))
        answer.chosen = sql
        return answer
    except Exception as error:  # noqa: BLE001
        return _fail(answer, error)
    finally:
        answer.timings["total"] = time.perf_counter() - started
