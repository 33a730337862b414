"""Runs the model over know_sql rows, Spider dev or the business set and scores every question.

The runners go through the product's own path: Spider and business questions through
:func:`sqlchat.pipeline.ask` on the real database (schema reflection, table choice,
prompt, candidates, check, read-only execution; the business set on copies of the demo
databases); know_sql rows, which have no database,
through the same prompt builder, backend call and :func:`sqlchat.answers.choice.choose_candidate`
on a database synthesized for the row. One failing question is recorded, never fatal.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from tqdm import tqdm

from sqlchat.config import DEMO_DIR, Settings
from sqlchat.corrections.values import ValueLookup, matching_values_sql
from sqlchat.errors import ConfigError, ExecutionFailed, SqlchatError, redact
from sqlchat.evaluation.checkpoint import Checkpoint
from sqlchat.evaluation.metrics import (
    answer_match,
    exact_match,
    has_order_by,
    is_informative,
    mean_of,
    percentile,
    results_match,
)
from sqlchat.evaluation.replay import ReplayBackend
from sqlchat.evaluation.synthesize import DEFAULT_ATTEMPTS, Synthesis, run_query, synthesize
from sqlchat.models.backends import Backend, Generation
from sqlchat.answers.choice import candidate_tries, choose_candidate
from sqlchat.answers.trace import seconds_by_stage
from sqlchat.pipeline import Answer, ask, follow_up_start, needs_more_candidates, read_ahead
from sqlchat.prompt import Prompt, Turn, build_prompt
from sqlchat.safety import check_sql
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import Database, connect

T = TypeVar("T")
SYNTHETIC_DIALECT = "sqlite"


# -- results -------------------------------------------------------------------------------


@dataclass
class QuestionRecord:
    """How one question went. ``ex`` (and ``answer``) is None when the gold could not be scored.

    ``answer`` is :func:`~sqlchat.evaluation.metrics.answer_match` (extra or reordered columns
    forgiven); runs without a database to compare on leave it None. ``id``, ``level`` and ``tags``
    come from the business set's rows.
    """

    question: str
    gold: str
    predicted: str | None
    em: bool
    ex: bool | None
    valid: bool
    latency_s: float
    error: str | None = None
    db_id: str | None = None
    tokens: int = 0
    generation_s: float = 0.0
    candidates: list[str] = field(default_factory=list)  # as generated, best first: lets a run be re-scored offline
    answer: bool | None = None
    id: str | None = None
    level: str | None = None
    tags: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # the tables the prompt showed, in its order
    # seconds the model spent after this answer reading the start of a follow-up's prompt (the user's reading time)
    read_ahead_s: float = 0.0
    declined: bool = False  # the product said the database cannot answer it (right only for an unanswerable question)
    answerable: bool = True  # False: a question of an unanswerable set, scored by whether it was declined
    rules: list[str] = field(default_factory=list)  # the correction rules that made the chosen SQL (Answer.rules)
    confidence: str | None = None  # high | medium | low as the user was told; None when failed or declined
    checked: bool = False  # the doubt check ran sampled candidates beside the answer
    retried: bool = False  # the first candidates gave nothing informative, so more were asked for
    # what the confidence or the decline was decided from (sqlchat.answers.trust.Signals.to_json): lets a stored run
    # re-score its confidence under other settings (the doubt check off: its candidates are in compared/agreeing)
    signals: dict[str, Any] | None = None
    stages: dict[str, float] = field(default_factory=dict)  # seconds by trace stage ("generate", "doubt", "retry", ...)
    # the time until the user saw the rows (Answer.shown_seconds): before the doubt check when it ran after them
    shown_latency_s: float | None = None

    @property
    def shown_s(self) -> float:
        """``shown_latency_s``; in a run stored before it was recorded, the latency less the doubt check's stage."""
        if self.shown_latency_s is not None:
            return self.shown_latency_s
        return self.latency_s - self.stages.get("doubt check", 0.0)

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> "QuestionRecord":
        """A record as ``to_json`` (or a checkpoint) wrote it; keys it does not know are left out."""
        return cls(**{f.name: item[f.name] for f in fields(cls) if f.name in item})


@dataclass
class EvalReport:
    """Accuracy, validity, latency, throughput and memory of one evaluation run."""

    dataset: str
    backend: str
    num_candidates: int
    records: list[QuestionRecord] = field(default_factory=list)
    seconds: float = 0.0
    peak_memory_mb: float | None = None

    @property
    def n(self) -> int:
        return len(self.records)

    @property
    def unscorable(self) -> int:
        return sum(r.ex is None for r in self.records if r.answerable)

    @property
    def declined_answerable(self) -> float | None:
        """Share of the answerable questions the product declined (each also scores as wrong)."""
        return mean_of(r.declined for r in self.records if r.answerable)

    @property
    def declined_unanswerable(self) -> float | None:
        """Share of the unanswerable questions declined (None: the run had none)."""
        return mean_of(r.declined for r in self.records if not r.answerable)

    @property
    def exact_match(self) -> float | None:
        return mean_of(r.em for r in self.records if r.answerable)

    @property
    def execution_accuracy(self) -> float | None:
        """Over the scorable questions only; ``unscorable`` says how many were left out."""
        return mean_of(r.ex for r in self.records)

    @property
    def answer_accuracy(self) -> float | None:
        """Like ``execution_accuracy``, but extra and reordered columns are forgiven (None: not scored)."""
        return mean_of(r.answer for r in self.records)

    @property
    def valid_sql(self) -> float | None:
        return mean_of(r.valid for r in self.records if r.answerable)

    def by_level(self) -> dict[str, dict[str, Any]]:
        """Question count and both accuracies per ``level`` (business set rows), in first-seen order."""
        levels = dict.fromkeys(r.level for r in self.records if r.level is not None)
        return {
            level: {
                "n": len(records),
                "execution_accuracy": _rounded(mean_of(r.ex for r in records)),
                "answer_accuracy": _rounded(mean_of(r.answer for r in records)),
                "latency_p50_s": _rounded(percentile([r.latency_s for r in records], 0.50)),
            }
            for level in levels
            for records in [[r for r in self.records if r.level == level]]
        }

    @property
    def latency_p50_s(self) -> float | None:
        return percentile([r.latency_s for r in self.records], 0.50)

    @property
    def latency_p95_s(self) -> float | None:
        return percentile([r.latency_s for r in self.records], 0.95)

    @property
    def shown_p50_s(self) -> float | None:
        """The median time until the user saw the rows (or the sentence saying why there are none)."""
        return percentile([r.shown_s for r in self.records], 0.50)

    @property
    def shown_p95_s(self) -> float | None:
        return percentile([r.shown_s for r in self.records], 0.95)

    @property
    def tokens_per_s(self) -> float | None:
        seconds = sum(r.generation_s for r in self.records)
        return sum(r.tokens for r in self.records) / seconds if seconds > 0 else None

    def summary(self) -> dict[str, Any]:
        """The headline numbers (fractions in 0..1, seconds, MB)."""
        return {
            "dataset": self.dataset,
            "backend": self.backend,
            "num_candidates": self.num_candidates,
            "n": self.n,
            "exact_match": _rounded(self.exact_match),
            "execution_accuracy": _rounded(self.execution_accuracy),
            "answer_accuracy": _rounded(self.answer_accuracy),
            "valid_sql": _rounded(self.valid_sql),
            "unscorable": self.unscorable,
            "declined_answerable": _rounded(self.declined_answerable),
            "declined_unanswerable": _rounded(self.declined_unanswerable),
            "latency_p50_s": _rounded(self.latency_p50_s),
            "latency_p95_s": _rounded(self.latency_p95_s),
            "shown_p50_s": _rounded(self.shown_p50_s),
            "shown_p95_s": _rounded(self.shown_p95_s),
            "tokens_per_s": _rounded(self.tokens_per_s, 2),
            "peak_memory_mb": _rounded(self.peak_memory_mb, 1),
            "seconds": _rounded(self.seconds, 2),
        } | ({"by_level": self.by_level()} if any(r.level is not None for r in self.records) else {})

    def to_json(self, include_records: bool = True) -> dict[str, Any]:
        report = self.summary()
        if include_records:
            report["records"] = [asdict(r) | {"latency_s": _rounded(r.latency_s),
                                              "shown_latency_s": _rounded(r.shown_latency_s)} for r in self.records]
        return report


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def peak_memory_mb() -> float | None:
    """Peak resident memory of this process (the model included), from getrusage."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


# -- metering the backend --------------------------------------------------------------------


class MeteredBackend:
    """Wraps a Backend to count generated tokens and generation seconds per question."""

    def __init__(self, inner: Backend):
        self.inner = inner
        self.name = inner.name
        self.tokens = 0
        self.seconds = 0.0

    def generate(self, prompt: Prompt, n: int = 1) -> list[Generation]:
        generations = self.inner.generate(prompt, n=n)
        self.tokens += sum(g.tokens for g in generations)
        # every candidate of one call reports that call's time: count it once
        self.seconds += max((g.seconds for g in generations), default=0.0)
        return generations

    def reset(self) -> None:
        """A new question starts: zero the counts (and tell a replay, which serves stored runs per question)."""
        self.tokens, self.seconds = 0, 0.0
        if isinstance(self.inner, ReplayBackend):
            self.inner.next_question()


# -- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnowSqlRow:
    question: str
    context: str
    answer: str


@dataclass(frozen=True)
class SpiderRow:
    db_id: str
    question: str
    query: str


def load_know_sql(path: str | Path) -> list[KnowSqlRow]:
    """Rows of a know_sql / sql-create-context JSONL file; ConfigError names a bad line."""
    rows = []
    for number, line in enumerate(_read_text(Path(path)).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            rows.append(KnowSqlRow(str(item["question"]), str(item["context"]), str(item["answer"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"Line {number} of {Path(path).name} is not a know_sql row.", detail=str(exc)) from exc
    return rows


def load_spider(directory: str | Path) -> list[SpiderRow]:
    """Spider's ``dev.json`` rows from ``directory``."""
    path = Path(directory) / "dev.json"
    try:
        items = json.loads(_read_text(path))
        return [SpiderRow(str(i["db_id"]), str(i["question"]), str(i["query"])) for i in items]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not a Spider dev.json file.", detail=str(exc)) from exc


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"The evaluation data {path} could not be read.", detail=str(exc)) from exc


def spread(rows: Sequence[T], limit: int | None) -> list[T]:
    """``limit`` rows evenly spaced over the file, so a quick run still sees every database."""
    if limit is None or limit >= len(rows):
        return list(rows)
    return [rows[i * len(rows) // limit] for i in range(max(limit, 0))]


# -- the loop --------------------------------------------------------------------------------


def _score_all(
    rows: Sequence[T], score: Callable[[T], QuestionRecord], fallback: Callable[[T, Exception], QuestionRecord],
    desc: str, progress: bool, checkpoint: Checkpoint | None = None,
) -> list[QuestionRecord]:
    """Score each row (a question) under a progress bar (stderr); an evaluator failure becomes a record."""
    def one(row: T) -> list[QuestionRecord]:
        try:
            return [score(row)]
        except Exception as exc:  # noqa: BLE001 - one question must never stop the run
            return [fallback(row, exc)]
    return _score_rows(rows, one, lambda row: row.question, desc, "q", progress, checkpoint)


def _score_rows(
    rows: Sequence[T], score: Callable[[T], list[QuestionRecord]], key: Callable[[T], str],
    desc: str, unit: str, progress: bool, checkpoint: Checkpoint | None,
) -> list[QuestionRecord]:
    """The loop under every runner: each row's records, taken from the ``checkpoint`` when it holds them
    (a resumed run) and added to it when they are new."""
    records: list[QuestionRecord] = []
    with tqdm(total=len(rows), desc=desc, unit=unit, file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:
        for position, row in enumerate(rows):
            stored = checkpoint.records(position, key(row)) if checkpoint is not None else None
            if stored is not None:
                records += [QuestionRecord.from_json(item) for item in stored]
            else:
                new = score(row)
                if checkpoint is not None:
                    checkpoint.add(position, key(row), [asdict(r) for r in new])
                records += new
            bar.update(1)
            bar.set_postfix(ex=_fraction(mean_of(r.ex for r in records)), answer=_fraction(mean_of(r.answer for r in records)))
    return records


def _fraction(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _failure_record(
    question: str, gold: str, exc: Exception, db_id: str | None = None, answer: bool | None = None,
) -> QuestionRecord:
    """A question the evaluator itself failed on: wrong on every metric it is scored on."""
    return QuestionRecord(question, gold, None, em=False, ex=False, valid=False, latency_s=0.0,
                          error=_message(exc, prefix="evaluation failed: "), db_id=db_id, answer=answer)


def _message(exc: Exception, prefix: str = "") -> str:
    if isinstance(exc, SqlchatError):
        return prefix + exc.message
    return prefix + redact(f"{type(exc).__name__}: {exc}")


def _report(dataset: str, backend: Backend, settings: Settings, records: list[QuestionRecord], started: float) -> EvalReport:
    return EvalReport(
        dataset=dataset, backend=backend.name, num_candidates=settings.model.num_candidates, records=records,
        seconds=time.perf_counter() - started, peak_memory_mb=peak_memory_mb(),
    )


# -- know_sql --------------------------------------------------------------------------------


def evaluate_know_sql(
    path: str | Path, backend: Backend, settings: Settings, limit: int | None = None, progress: bool = True,
    attempts: int = DEFAULT_ATTEMPTS, checkpoint: Checkpoint | None = None,
) -> EvalReport:
    """Score ``backend`` on a know_sql JSONL file: EM, EX on synthesized databases, validity, speed."""
    started = time.perf_counter()
    rows = spread(load_know_sql(path), limit)
    metered = MeteredBackend(backend)
    records = _score_all(
        rows,
        lambda row: score_know_sql_row(row, metered, settings, attempts),
        lambda row, exc: _failure_record(row.question, row.answer, exc),
        desc=f"eval {Path(path).name}", progress=progress, checkpoint=checkpoint,
    )
    return _report(f"know_sql:{Path(path).name}", backend, settings, records, started)


def score_know_sql_row(row: KnowSqlRow, backend: MeteredBackend, settings: Settings, attempts: int = DEFAULT_ATTEMPTS) -> QuestionRecord:
    """Generate for one row and score the chosen candidate on the row's synthesized database."""
    synthesis = synthesize(row.context, row.answer, attempts=attempts, timeout_s=settings.execution.statement_timeout_s)
    try:
        backend.reset()
        started = time.perf_counter()
        prompt = build_prompt(row.context, row.question)
        candidates, error = _generate(backend, prompt, settings.model.num_candidates)
        chosen, rows, failure = _choose_synthetic(candidates, synthesis, settings)
        if needs_more_candidates(chosen is not None, chosen is not None and is_informative(rows), settings):
            more, _ = _generate(backend, prompt, settings.model.retry_candidates)  # as ask() does
            extra = [sql for sql in dict.fromkeys(more) if sql not in candidates]
            if extra:
                candidates = candidates + extra
                chosen, rows, failure = _choose_synthetic(candidates, synthesis, settings)
        latency = time.perf_counter() - started
        predicted = chosen if chosen is not None else next(iter(candidates), None)
        return QuestionRecord(
            question=row.question, gold=row.answer, predicted=predicted,
            em=exact_match(predicted, row.answer, synthesis.columns),
            ex=_execution_match(synthesis, row.answer, rows if chosen is not None else None),
            valid=chosen is not None or is_valid_sql(predicted, SYNTHETIC_DIALECT, synthesis.columns),
            latency_s=latency, error=error or (_message(failure) if chosen is None and failure else None),
            tokens=backend.tokens, generation_s=backend.seconds, candidates=candidates,
        )
    finally:
        synthesis.close()


def _choose_synthetic(candidates: list[str], synthesis: Synthesis, settings: Settings) -> tuple[str | None, list[tuple] | None, Exception | None]:
    """The engine's execution-guided choice, on the row's synthesized database."""
    tries = candidate_tries(candidates, synthesis.tables, SYNTHETIC_DIALECT, settings, _synthetic_values(synthesis, settings))
    informative = is_informative if settings.execution.prefer_informative else None
    return choose_candidate(tries, lambda sql: _run_synthetic(sql, synthesis, settings), informative)


def _generate(backend: Backend, prompt: Prompt, n: int) -> tuple[list[str], str | None]:
    """The candidates' SQL, or no candidates and the backend's error (a model failure scores 0)."""
    try:
        return [g.sql for g in backend.generate(prompt, n=n)], None
    except Exception as exc:  # noqa: BLE001 - a backend failure is this question's result
        return [], _message(exc, prefix="generation failed: ")


def _run_synthetic(sql: str, synthesis: Synthesis, settings: Settings) -> list[tuple]:
    """The engine's check, then the row's own database (ours, in memory, query_only)."""
    checked = check_sql(sql, SYNTHETIC_DIALECT, row_limit=None, known_columns=synthesis.columns)
    try:
        return run_query(synthesis.connection, checked.sql, settings.execution.statement_timeout_s, settings.execution.max_rows)
    except sqlite3.Error as exc:
        raise ExecutionFailed("The query failed on the synthesized database.", detail=str(exc)) from exc


def _synthetic_values(synthesis: Synthesis, settings: Settings) -> ValueLookup:
    """Value linking's lookup on the row's own database, as
    :func:`sqlchat.corrections.values.stored_values` on a user's."""
    def lookup(table: str, column: str, text: str) -> list[str]:
        sql = matching_values_sql(table, column, text, SYNTHETIC_DIALECT)
        try:
            rows = run_query(synthesis.connection, sql, settings.execution.statement_timeout_s)
        except sqlite3.Error:
            return []
        return [row[0] for row in rows if isinstance(row[0], str)]
    return lookup


def _execution_match(synthesis: Synthesis, gold: str, predicted_rows: list[tuple] | None) -> bool | None:
    if not synthesis.scorable:
        return None
    if predicted_rows is None:
        return False
    return results_match(synthesis.gold_rows or [], predicted_rows, ordered=has_order_by(gold))


def is_valid_sql(sql: str | None, dialect: str, known_columns: Iterable[str] = ()) -> bool:
    """Parses and passes the engine's safety check."""
    if not sql:
        return False
    try:
        check_sql(sql, dialect, row_limit=None, known_columns=known_columns)
    except SqlchatError:
        return False
    return True


# -- Spider ----------------------------------------------------------------------------------


class SpiderDatabases:
    """One engine Database (for the product path) and one read-only sqlite3 connection
    (for the gold) per db_id, opened on first use and closed together."""

    def __init__(self, directory: Path, settings: Settings):
        self.directory = directory
        self.settings = settings
        self._databases: dict[str, Database] = {}
        self._gold: dict[str, sqlite3.Connection] = {}

    def path(self, db_id: str) -> Path:
        return self.directory / "database" / db_id / f"{db_id}.sqlite"

    def database(self, db_id: str) -> Database:
        if db_id not in self._databases:
            self._databases[db_id] = connect(self.path(db_id), timeout_s=self.settings.execution.statement_timeout_s)
        return self._databases[db_id]

    def gold_connection(self, db_id: str) -> sqlite3.Connection:
        if db_id not in self._gold:
            uri = self.path(db_id).resolve().as_uri() + "?mode=ro"
            self._gold[db_id] = sqlite3.connect(uri, uri=True)
        return self._gold[db_id]

    def gold_rows(self, db_id: str, gold: str, settings: Settings) -> list[tuple] | None:
        """The gold's full result on the real file; None (unscorable) when the gold itself fails."""
        return _gold_rows(self.gold_connection(db_id), gold, settings)

    def close(self) -> None:
        for db in self._databases.values():
            db.close()
        for conn in self._gold.values():
            conn.close()
        self._databases.clear()
        self._gold.clear()

    def __enter__(self) -> "SpiderDatabases":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def evaluate_spider(
    directory: str | Path, backend: Backend, settings: Settings, limit: int | None = None, progress: bool = True,
    checkpoint: Checkpoint | None = None,
) -> EvalReport:
    """Score ``backend`` on Spider dev through :func:`sqlchat.pipeline.ask`: EX against the gold."""
    started = time.perf_counter()
    directory = Path(directory)
    rows = spread(load_spider(directory), limit)
    settings = as_scored(settings)
    metered = MeteredBackend(backend)
    with SpiderDatabases(directory, settings) as databases:
        records = _score_all(
            rows,
            lambda row: score_spider_row(row, databases, metered, settings),
            lambda row, exc: _failure_record(row.question, row.query, exc, row.db_id, answer=False),
            desc="eval spider", progress=progress, checkpoint=checkpoint,
        )
    return _report(f"spider:{directory.name}", backend, settings, records, started)


def as_scored(settings: Settings) -> Settings:
    """The product's own settings, as a user gets them (declining, the doubt check, extra candidates, readable
    columns all as configured), with one exception: whole results (the product adds LIMIT row_limit to what it
    shows; the gold is compared with the whole result, so up to max_rows are read). A declined answerable
    question scores as wrong, and the latency counts every candidate run. :func:`engine_only` is the other way."""
    execution = settings.execution
    return replace(settings, execution=replace(execution, row_limit=max(execution.row_limit, execution.max_rows)))


def engine_only(settings: Settings) -> Settings:
    """The engine without what stands between it and the gold: no declining, no doubt check, only the model's
    columns (no readability columns: sqlchat.corrections.readable). Figures so made stand beside the shipped
    ones, never instead of them (``sqlchat eval --engine-only``)."""
    return replace(settings, execution=replace(settings.execution, readable_results=False),
                   trust=replace(settings.trust, decline=False, doubt_candidates=0))


def score_spider_row(row: SpiderRow, databases: SpiderDatabases, backend: MeteredBackend, settings: Settings) -> QuestionRecord:
    """Ask the product the question on the real database and compare with the gold's rows."""
    return score_on_database(row.question, row.query, row.db_id, databases, backend, settings)


def score_on_database(
    question: str, gold: str, db_id: str, databases: SpiderDatabases, backend: MeteredBackend, settings: Settings,
    earlier: Sequence[Turn] = (),
) -> QuestionRecord:
    """Ask the product ``question`` on database ``db_id`` (following the ``earlier`` turns of a conversation);
    both result comparisons against ``gold``'s rows."""
    db = databases.database(db_id)
    gold_rows = databases.gold_rows(db_id, gold, settings)
    backend.reset()
    started = time.perf_counter()
    answer = ask(question, db, backend, settings, earlier=earlier)
    latency = answer.timings.get("total", time.perf_counter() - started)
    columns = [c.name for table in reflect_schema(db) for c in table.columns]
    predicted = chosen_candidate(answer, db.dialect, settings, columns)
    rows, ordered = frame_rows(answer.frame), has_order_by(gold)
    return QuestionRecord(
        question=question, gold=gold, predicted=predicted, declined=answer.error_kind == "unanswerable",
        em=exact_match(predicted, gold, columns),
        ex=None if gold_rows is None else answer.ok and results_match(gold_rows, rows, ordered),
        answer=None if gold_rows is None else answer.ok and answer_match(gold_rows, rows, ordered),
        valid=answer.ok or is_valid_sql(predicted, db.dialect, columns),
        latency_s=latency, error=answer.error, db_id=db_id, tokens=backend.tokens, generation_s=backend.seconds,
        candidates=list(answer.candidates), tables=list(answer.tables), rules=list(answer.rules),
        confidence=answer.confidence, checked=answer.checked, retried=answer.retried,
        signals=answer.signals.to_json() if answer.signals is not None else None, stages=seconds_by_stage(answer.trace),
        shown_latency_s=answer.shown_seconds if answer.shown_seconds is not None else latency,
    )



def _gold_rows(conn: sqlite3.Connection, gold: str, settings: Settings) -> list[tuple] | None:
    """The gold's full result on the real file; None (unscorable) when the gold itself fails."""
    try:
        return run_query(conn, gold, settings.execution.statement_timeout_s, settings.execution.max_rows)
    except sqlite3.Error:
        return None


def chosen_candidate(answer: Answer, dialect: str, settings: Settings, columns: Sequence[str]) -> str | None:
    """The candidate as the model wrote it (``answer.sql`` is the checked text, LIMIT added).

    The chosen one is the candidate whose check gives ``answer.sql``; on failure, the first.
    """
    if answer.ok and answer.chosen:
        return answer.chosen  # the model's candidate, or its repaired form, before the added LIMIT
    if answer.ok and answer.sql:
        for candidate in answer.candidates:
            if _checked_text(candidate, dialect, settings) == answer.sql:
                return candidate
        return answer.sql
    return next((c for c in answer.candidates if c and c.strip()), answer.sql)


def _checked_text(sql: str, dialect: str, settings: Settings) -> str | None:
    try:
        return check_sql(sql, dialect, row_limit=settings.execution.row_limit).sql
    except SqlchatError:
        return None


def frame_rows(frame: pd.DataFrame | None) -> list[tuple]:
    """A result frame as plain tuples, with pandas' missing values as None."""
    if frame is None:
        return []
    cleaned = frame.astype(object).where(frame.notna(), None)
    return list(cleaned.itertuples(index=False, name=None))


# -- the business set -------------------------------------------------------------------------


@dataclass(frozen=True)
class BusinessRow:
    """A question of ``tests/data/business/questions.jsonl``: a demo database, gold SQL, level, tags."""

    id: str
    db: str
    question: str
    query: str
    level: str
    tags: tuple[str, ...] = ()


def demo_databases() -> list[str]:
    """The names a business row may give as ``db``: the bundled ``sqlchat/demo/<db>.sqlite`` files."""
    return sorted(path.stem for path in DEMO_DIR.glob("*.sqlite"))


def load_business(path: str | Path) -> list[BusinessRow]:
    """Rows of a business question file; ConfigError names a bad line or an unknown database."""
    def row(item: dict) -> BusinessRow:
        return BusinessRow(str(item["id"]), str(item["db"]), str(item["question"]), str(item["query"]),
                           str(item["level"]), tuple(str(tag) for tag in item.get("tags") or ()))
    return _demo_rows(path, row, "a business question row", lambda found: True, "names the database {db!r}")


def _demo_rows(path: str | Path, build: Callable[[dict], T], kind: str, complete: Callable[[T], bool],
               problem: str) -> list[T]:
    """The JSON lines of ``path`` built into rows, each on a bundled demo database; ConfigError names the
    line that is not ``kind``, or whose database is unknown or that is not ``complete`` (``problem``)."""
    path, known = Path(path), demo_databases()
    rows = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = build(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"Line {number} of {path.name} is not {kind}.", detail=str(exc)) from exc
        if row.db not in known or not complete(row):
            raise ConfigError(f"Line {number} of {path.name} {problem.format(db=row.db)}; "
                              f"the demo databases are {', '.join(known)}.")
        rows.append(row)
    return rows


class DemoDatabases(SpiderDatabases):
    """The demo databases, each copied to a private folder on first use, so no run can change
    the bundled files; the copies go when the run closes."""

    def __init__(self, settings: Settings):
        super().__init__(DEMO_DIR, settings)
        self._copies = Path(tempfile.mkdtemp(prefix="sqlchat-business-"))

    def path(self, db_id: str) -> Path:
        copy = self._copies / f"{db_id}.sqlite"
        if not copy.exists():
            shutil.copyfile(DEMO_DIR / f"{db_id}.sqlite", copy)
        return copy

    def close(self) -> None:
        super().close()
        shutil.rmtree(self._copies, ignore_errors=True)


def evaluate_business(
    path: str | Path, backend: Backend, settings: Settings, limit: int | None = None, progress: bool = True,
    checkpoint: Checkpoint | None = None,
) -> EvalReport:
    """Score ``backend`` on a business question file through :func:`sqlchat.pipeline.ask` on the
    demo databases: execution and answer accuracy, each also per level."""
    started = time.perf_counter()
    rows = spread(load_business(path), limit)
    settings = as_scored(settings)
    metered = MeteredBackend(backend)
    with DemoDatabases(settings) as databases:
        records = _score_all(
            rows,
            lambda row: _labelled(score_on_database(row.question, row.query, row.db, databases, metered, settings), row),
            lambda row, exc: _labelled(_failure_record(row.question, row.query, exc, row.db, answer=False), row),
            desc="eval business", progress=progress, checkpoint=checkpoint,
        )
    return _report(f"business:{Path(path).name}", backend, settings, records, started)


def _labelled(record: QuestionRecord, row: BusinessRow) -> QuestionRecord:
    """The record with the row's id, level and tags, so a report can break accuracy down by them."""
    return replace(record, id=row.id, level=row.level, tags=list(row.tags))


# -- conversations -----------------------------------------------------------------------------

FIRST_TURN, FOLLOW_UP = "first turn", "follow-up"  # the levels a conversation's records are reported by


@dataclass(frozen=True)
class ConversationRow:
    """A conversation of ``tests/data/business/conversations.jsonl``: a demo database and its turns,
    each a (question, gold SQL answering it in context) pair."""

    id: str
    db: str
    turns: tuple[tuple[str, str], ...]


def is_conversation_file(path: str | Path) -> bool:
    """Whether a business file holds conversations (rows with ``turns``) rather than single questions."""
    for line in _read_text(Path(path)).splitlines():
        if line.strip():
            try:
                return "turns" in json.loads(line)
            except (ValueError, TypeError):
                return False
    return False


def load_conversations(path: str | Path) -> list[ConversationRow]:
    """Rows of a conversations file; ConfigError names a bad line or an unknown database."""
    def row(item: dict) -> ConversationRow:
        return ConversationRow(str(item["id"]), str(item["db"]),
                               tuple((str(turn["question"]), str(turn["query"])) for turn in item["turns"]))
    return _demo_rows(path, row, "a conversation row", lambda found: bool(found.turns),
                      "names the database {db!r} or has no turns")


def evaluate_conversations(
    path: str | Path, backend: Backend, settings: Settings, limit: int | None = None, progress: bool = True,
    checkpoint: Checkpoint | None = None,
) -> EvalReport:
    """Score ``backend`` on a conversations file turn by turn, as a user would experience it: each turn is
    asked through :func:`sqlchat.pipeline.ask` after the model's own earlier answers (right or wrong), and
    scored against that turn's gold. Records are reported by level: ``first turn`` and ``follow-up``.
    ``limit`` takes that many conversations, evenly spread."""
    started = time.perf_counter()
    conversations = spread(load_conversations(path), limit)
    settings = as_scored(settings)
    metered = MeteredBackend(backend)
    with DemoDatabases(settings) as databases:
        records = _score_rows(conversations, lambda c: score_conversation(c, databases, metered, settings), lambda c: c.id,
                              "eval conversations", "conversation", progress, checkpoint)
    return _report(f"conversations:{Path(path).name}", backend, settings, records, started)


def score_conversation(conversation: ConversationRow, databases: SpiderDatabases, backend: MeteredBackend,
                       settings: Settings) -> list[QuestionRecord]:
    """One record per turn; each turn follows the turns the model answered before it (its chosen SQL, or the
    failed one, marked). An evaluator failure on one turn is that turn's record, and the conversation goes on.
    After each answer the model reads ahead as the app and ``sqlchat chat`` do while the user reads it
    (``pipeline.read_ahead``): timed apart, in ``read_ahead_s``, since no user waits for it."""
    records: list[QuestionRecord] = []
    earlier: list[Turn] = []
    for number, (question, gold) in enumerate(conversation.turns, start=1):
        try:
            record = score_on_database(question, gold, conversation.db, databases, backend, settings, earlier)
        except Exception as exc:  # noqa: BLE001 - one turn must never stop the run
            record = _failure_record(question, gold, exc, conversation.db, answer=False)
        earlier.append(Turn(question=question, sql=record.predicted, ok=record.error is None, error=record.error,
                            tables=tuple(record.tables)))
        try:
            seconds = read_ahead(backend.inner, follow_up_start(databases.database(conversation.db), settings, earlier))
        except Exception:  # noqa: BLE001 - a head start lost must not stop the run
            seconds = 0.0
        records.append(replace(record, id=f"{conversation.id}/{number}", level=FIRST_TURN if number == 1 else FOLLOW_UP,
                               read_ahead_s=seconds))
    return records
