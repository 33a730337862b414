"""From a question to an answer: schema → prompt → candidates → check → execute.

Execution-guided choice: the model may offer several candidates; the first one
that passes the safety check, runs without error and returns an informative result is the
answer (no rows, or only 0/NULL, is also what a wrong filter returns: such a result is the
answer only when no candidate does better). When no candidate gives an informative answer, the
model is asked once more for ``retry_candidates`` by beam search, so only such questions pay for it. A join on keys
that the database's foreign keys do not link is corrected first (``sqlchat.corrections.joins``), and
a candidate that fails is retried once with unknown names repaired to the schema's own
(``sqlchat.corrections.repair``); one that comes back empty is retried with its strings spelled as the
data spells them (``sqlchat.corrections.values``). The answer then shows the names of ids it lists and the measure it
ranks by (``sqlchat.corrections.readable``). Up to ``TrustConfig.compare_candidates`` candidates are run so
their results can be compared: the answer says how sure it is and offers the distinct other
results (``sqlchat.answers.trust``), explains its SQL in plain English (``sqlchat.answers.explain``), and declines a
question the data cannot answer (``sqlchat.answers.declining``). A follow-up question gets the conversation's
earlier turns (``sqlchat.conversation``): the model sees their questions and SQL, and the tables are chosen
from them as well. Every step is timed, and every failure becomes a plain sentence in ``Answer.error``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import pandas as pd
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.answers.declining import invented_names, model_decline, withheld_sentence, withheld_subjects
from sqlchat.answers.explain import explain
from sqlchat.answers.trust import (
    Alternative, Evidence, Found, Signals, alternatives, decide, model_declines, result_key,
)
from sqlchat.config import Settings
from sqlchat.conversation import recent, selection_text, tables_after
from sqlchat.corrections.readable import make_readable
from sqlchat.corrections.registry import Context, Form, linked_form, reinterpreted, with_lookup, written_forms
from sqlchat.corrections.values import ValueLookup, stored_values
from sqlchat.errors import InvalidSQL, SqlchatError, UnsafeSQL, redact, user_text
from sqlchat.execution import QueryResult, execute, is_informative
from sqlchat.governance.policy import permitted_examples, policy_for
from sqlchat.models.backends import Backend
from sqlchat.prompt import Prompt, Turn, build_prompt
from sqlchat.safety import CheckedSQL, check_sql
from sqlchat.language import QUESTION_WORDS
from sqlchat.schema.context import named_tables, render_context, schema_terms, select_tables
from sqlchat.schema.mentions import DatabaseValues, Mention, find_mentions
from sqlchat.schema.model import Table
from sqlchat.schema.names import database_spelling
from sqlchat.schema.reflection import reflect_schema
from sqlchat.schema.samples import sample_columns
from sqlchat.sources.connection import Database
from sqlchat.value_reader import DatabaseReader

T = TypeVar("T")
log = logging.getLogger(__name__)
SAMPLES_KEY = "schema_samples"  # the stored values read for the prompt, kept in the connection's cache
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
    cap_note: str | None = None  # what the byte caps cut (execution.QueryResult.cap_note), in words
    limit_added: bool = False
    tokens: int = 0
    chosen: str | None = None  # the SQL as written (the model's chosen candidate, or the user's), before check and LIMIT
    error_kind: str | None = None  # "refused" (the safety check turned it away) or "error"; None when ok
    repaired: bool = False  # the chosen SQL is a candidate corrected against the schema (names, join keys, stored values)
    columns_added: bool = False  # name or measure columns were added to make the result readable
    retried: bool = False  # the first candidates gave nothing informative, so more were asked for
    checked: bool = False  # the model was unsure of its one answer: sampled candidates were compared with it
    executed: list[str] = field(default_factory=list)  # every statement sent to the database, for the audit log
    explanation: str | None = None  # what the chosen SQL does, in plain English (sqlchat.answers.explain)
    confidence: str | None = None  # "high" | "medium" | "low" (sqlchat.answers.trust); None when failed or declined
    alternatives: list[Alternative] = field(default_factory=list)  # distinct other results among the candidates
    signals: Signals | None = None  # what the confidence (or the decline) was decided from
    evidence: Evidence = field(default_factory=Evidence, repr=False)
    follows: str | None = None  # a follow-up's previous turn's SQL: conditions it dropped are carried over
    mentions: list[str] = field(default_factory=list)  # where the question's values are stored, as the prompt says it
    rules: list[str] = field(default_factory=list)  # the correction rules that made the chosen SQL (corrections.registry)
    rule_notes: list[str] = field(default_factory=list)  # what they did, in words ("dropped the join to Invoice ...")
    rule_failures: list[str] = field(default_factory=list)  # rules that raised and were skipped: name and one line

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
            "cap_note": self.cap_note,
            "limit_added": self.limit_added,
            "tables": self.tables,
            "mentions": self.mentions,
            "candidates": self.candidates,
            "timings": {step: round(seconds, 4) for step, seconds in self.timings.items()},
            "error": self.error,
            "error_kind": self.error_kind,
            "chosen": self.chosen,
            "repaired": self.repaired,
            "rules": self.rules,
            "rule_notes": self.rule_notes,
            "rule_failures": self.rule_failures,
            "columns_added": self.columns_added,
            "retried": self.retried,
            "explanation": self.explanation,
            "confidence": self.confidence,
            "alternatives": [alternative.to_json() for alternative in self.alternatives],
            "signals": self.signals.to_json() if self.signals is not None else None,
        }


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - started


def error_kind(error: Exception) -> str:
    """``refused`` when the safety check turned the SQL away on purpose; unparsable SQL is a mistake, an ``error``.
    (A question the data cannot answer is ``unanswerable``: see :func:`settle`.)"""
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
    candidates: Iterable[str], run: Callable[[str], T], informative: Callable[[T], bool] | None = None,
) -> tuple[str | None, T | None, Exception | None]:
    """Execution-guided choice: the first candidate ``run`` accepts, else the first failure.

    ``run`` checks and executes one SQL string, raising on refusal or error. Given ``informative``,
    a candidate whose result says nothing (no rows, or only NULL/0: what a wrong filter returns)
    is passed over for a later one whose result does, and chosen only when none does. The evaluator uses this same function, so it measures what
    users get.
    """
    first_error: Exception | None = None
    first_empty: tuple[str, T] | None = None
    for sql in candidates:
        if not sql.strip():
            continue
        try:
            outcome = run(sql)
        except SqlchatError as error:
            first_error = first_error or error
            continue
        if informative is None or informative(outcome):
            return sql, outcome, None
        first_empty = first_empty or (sql, outcome)
    if first_empty is not None:
        return first_empty[0], first_empty[1], None
    return None, None, first_error or SqlchatError(NO_SQL_MESSAGE)


def candidate_tries(candidates: Sequence[str], tables: Sequence[Table], dialect: str, settings: Settings,
                    lookup: ValueLookup | None = None, question: str = "", follows: str | None = None) -> Iterable[str]:
    """The SQL to try, in order, for a first-that-works choice (the evaluator's synthetic databases): each
    candidate's forms with every repair (:func:`sqlchat.corrections.registry.written_forms`), each followed, when
    ``lookup`` can read the data, by its stored spellings; then, after every candidate's, their reinterpretations
    (:func:`sqlchat.corrections.registry.reinterpreted`), which so win only when nothing as written does."""
    context = Context(tuple(tables), dialect, question, follows)
    link = lookup if settings.execution.link_values else None
    seen: set[str] = set()
    later: list[str] = []
    for candidate in candidates:
        first: Form | None = None
        for form in _linked_forms(candidate, context, link, []):
            first = first or form
            if form.sql not in seen:
                seen.add(form.sql)
                yield form.sql
        if first is not None:  # reached only when none of its forms was chosen
            for ctx in (context, with_lookup(context, link)) if link is not None else (context,):
                read = reinterpreted(first, ctx)
                if read is not None and read.sql not in later:
                    later.append(read.sql)
    for sql in later:
        if sql not in seen:
            seen.add(sql)
            yield sql


def _linked_forms(candidate: str, context: Context, lookup: ValueLookup | None,
                  failures: list[str]) -> Iterator[Form]:
    """Lazily: each repaired form, then its stored spellings (a few small queries, asked only when the choice gets
    that far: the form before failed or came back empty)."""
    linking = with_lookup(context, lookup) if lookup is not None else None
    for form in written_forms(candidate, context, failures):
        yield form
        if linking is not None:
            linked = linked_form(form, linking, failures)
            if linked.sql != form.sql:
                yield linked


def _known_columns(db: Database) -> set[str]:
    """Column names of ``db``: a double-quoted word naming one stays a column, not a string."""
    return {column.name for table in reflect_schema(db).tables for column in table.columns}


def _check_and_run(sql: str, db: Database, settings: Settings, answer: Answer) -> tuple[CheckedSQL, QueryResult | None]:
    with _timed(answer.timings, "check"):
        checked = check_sql(sql, db.dialect, row_limit=settings.execution.row_limit, known_columns=_known_columns(db),
                            names=database_spelling(db), access=policy_for(db))
    if not db.executable:
        return checked, None
    answer.executed.append(checked.sql)
    with _timed(answer.timings, "execute"):
        return checked, execute(db, checked, settings.execution)


def _record(answer: Answer, checked: CheckedSQL, result: QueryResult | None) -> Answer:
    answer.sql = checked.sql
    answer.limit_added = checked.limit_added
    if result is not None:
        answer.frame, answer.capped, answer.cap_note = result.frame, result.capped, result.cap_note
    return answer


def prompt_for(
    question: str, db: Database, settings: Settings, answer: Answer, examples: list[tuple[str, str]] | None = None,
    earlier: Sequence[Turn] = (),
) -> Prompt:
    """Reflect the schema, find where the question's values are stored, choose the tables for ``question`` (and
    the ``earlier`` turns it follows, and those holding its values; a follow-up keeps the last turn's first) and
    build the prompt (with few-shot ``examples``, those turns and the values' places)."""
    with _timed(answer.timings, "schema"):
        schema = reflect_schema(db)
    mentions = _mentions(question, list(schema), db, settings, answer)
    with _timed(answer.timings, "schema"):
        selected = select_tables(schema, selection_text(question, earlier), settings.schema.token_budget,
                                 focus=settings.schema.focus, linked=[name for m in mentions for name in m.tables])
        tables = tables_after(earlier, selected, schema, settings.schema.token_budget)
        answer.tables = [table.name for table in tables]
        answer.context = _context_text(tables, db, settings)
    sent, named = set(answer.tables), [table.name for table in named_tables(list(schema), question)]
    answer.mentions = [m.text() for m in mentions if set(m.tables) <= sent and m.tells(named)]
    return build_prompt(answer.context, question, examples=permitted_examples(examples, db), earlier=earlier,
                        mentions=answer.mentions)


def _context_text(tables: Sequence[Table], db: Database, settings: Settings) -> str:
    """The ``CREATE TABLE`` context of ``tables``, with a few stored values of their columns where the database has
    data and showing them is on (:mod:`sqlchat.schema.samples`; what was read is kept on the connection)."""
    samples = []
    if settings.schema.samples and db.executable:
        with db.lock:
            kept = db.cache.setdefault(SAMPLES_KEY, {})
            samples = sample_columns(tables, DatabaseReader(db, settings.execution), settings.schema.samples_budget_s, kept)
    return render_context(tables, keys=settings.schema.include_keys, samples=samples)


def _mentions(question: str, tables: Sequence[Table], db: Database, settings: Settings, answer: Answer) -> list[Mention]:
    """Where ``db`` stores the names ``question`` mentions (``sqlchat.schema.mentions``); none without data to read."""
    if not settings.schema.mentions or not db.executable:
        return []
    budget = settings.schema.mentions_budget_s
    with _timed(answer.timings, "mentions"):
        return find_mentions(question, tables, DatabaseValues(DatabaseReader(db, settings.execution), budget),
                             schema_terms(tables), QUESTION_WORDS, budget)


def ask(
    question: str, db: Database, backend: Backend, settings: Settings, examples: list[tuple[str, str]] | None = None,
    earlier: Sequence[Turn] | None = None,
) -> Answer:
    """Answer ``question`` on ``db``: the SQL, its rows, the context sent and the time of each step.

    ``examples`` are verified (question, sql) pairs for this schema, shown to the model as
    few-shot guidance; the caller retrieves them (``sqlchat.history``), so data flows one way.
    ``earlier`` are the conversation's previous turns (:class:`sqlchat.conversation.Conversation`), oldest
    first; the model is shown those from the last answered one on (:func:`sqlchat.conversation.recent`).
    """
    with user_text(question):  # a message echoing the question does not mask a secret guessed in it
        return _ask(question, db, backend, settings, examples, earlier)


def _ask(question: str, db: Database, backend: Backend, settings: Settings, examples: list[tuple[str, str]] | None,
         earlier: Sequence[Turn] | None) -> Answer:
    answer = Answer(question=question)
    if not question or not question.strip():
        answer.error, answer.error_kind = "Please type a question.", "error"
        return answer
    started = time.perf_counter()
    try:
        context = recent(list(earlier or ()), settings.conversation.turns)
        answer.follows = context[-1].sql if context and context[-1].ok else None
        withheld = _withheld(question, db, context)
        prompt = prompt_for(question, db, settings, answer, examples, context)
        _add_candidates(answer, backend, prompt, settings.model.num_candidates, first=True)
        answer = run_candidates(answer, db, settings)
        informative = answer.ok and _says_something(answer.frame)
        answer.evidence.invented = () if informative else _invented(answer, db)
        declined = settings.trust.decline and (
            model_declines(answer.evidence.declines, answer.evidence.generated, settings.trust)
            or (bool(answer.evidence.invented) and settings.trust.decline_invented == "first"))  # no retry then
        if not declined and needs_more_candidates(answer.ok, informative, settings):
            answer = _retried(answer, backend, prompt, db, settings)
        elif not declined and doubtful(answer, settings):
            answer = _with_more_candidates(answer, backend, prompt, db, settings,
                                           settings.trust.doubt_candidates + 1, retried=False)
            answer.checked = True
        return _unless_withheld(settle(answer, db, settings), withheld, db.dialect)
    except Exception as error:  # noqa: BLE001 - the user sees a sentence, never a traceback
        return _fail(answer, error)
    finally:
        answer.timings["total"] = time.perf_counter() - started


def _withheld(question: str, db: Database, earlier: Sequence[Turn]) -> list[tuple[str, str]]:
    """The hidden columns of a named connection ``question`` asks for (:func:`sqlchat.answers.declining.withheld_subjects`)."""
    rules = getattr(db, "rules", None)
    if rules is None or not rules.hidden_columns:
        return []
    hidden = rules.spelled_columns or tuple(sorted(rules.hidden_columns))
    return withheld_subjects(question, hidden, list(reflect_schema(db)), [turn.question for turn in earlier])


def _unless_withheld(answer: Answer, withheld: Sequence[tuple[str, str]], dialect: str) -> Answer:
    """The answer, or the sentence that the connection withholds what the question asks for: when the question names a
    hidden column (``withheld``) and the answer failed (its SQL read the hidden column and was refused, or the question
    was declined) or gives a same-named column of another table in its place (the employees' ``Email`` for the
    customers')."""
    if not withheld:
        return answer
    names = {column.lower() for _, column in withheld}
    substitute = answer.ok and (names & {c.lower() for c in answer.columns} or names & _read_columns(answer.sql, dialect))
    if answer.ok and not substitute:
        return answer
    answer.error, answer.error_detail, answer.error_kind = withheld_sentence(withheld), None, "unanswerable"
    answer.frame = answer.sql = answer.chosen = answer.explanation = answer.confidence = None
    answer.alternatives = []
    return answer


def _read_columns(sql: str | None, dialect: str) -> set[str]:
    """Lower-cased names of the columns ``sql`` reads; empty when it cannot be parsed."""
    try:
        tree = sqlglot.parse_one(sql or "", read=dialect)
    except (SqlglotError, ValueError, TypeError, RecursionError):
        return set()
    return {column.name.lower() for column in tree.find_all(exp.Column)} if tree is not None else set()


def follow_up_start(db: Database, settings: Settings, earlier: Sequence[Turn]) -> Prompt | None:
    """The prompt a follow-up to ``earlier`` will most likely begin with, its question left empty: the last turn's
    tables (:func:`sqlchat.conversation.tables_after` keeps them first), the turns it will be shown, no examples. None
    when reading ahead is off or there is nothing to follow (no turns shown, or the last showed no tables)."""
    context = recent(list(earlier), settings.conversation.turns)
    if not settings.conversation.read_ahead or not context or not context[-1].tables:
        return None
    schema = reflect_schema(db)
    tables = [table for table in (schema.get(name) for name in context[-1].tables) if table is not None]
    if not tables:
        return None
    return build_prompt(_context_text(tables, db, settings), "", earlier=context)


def read_ahead(backend: Backend, prompt: Prompt | None) -> float:
    """Let ``backend`` read ``prompt``'s start now (``Backend.read_ahead``, where it has one), while the user reads
    the last answer: the follow-up then reads only its own question. The seconds it took; a failure is only logged,
    since the question will read the prompt itself."""
    reader = getattr(backend, "read_ahead", None)
    if prompt is None or reader is None:
        return 0.0
    started = time.perf_counter()
    try:
        reader(prompt)
    except Exception as error:  # noqa: BLE001 - only a head start is lost
        log.warning("reading ahead failed: %s", redact(f"{type(error).__name__}: {error}"))
    return time.perf_counter() - started


def read_ahead_in_background(db: Database, backend: Backend, settings: Settings,
                             earlier: Sequence[Turn]) -> threading.Thread | None:
    """:func:`read_ahead` for a follow-up to ``earlier``, in a thread, so the user has the answer at once; the prompt is
    built here, in the caller's thread, which owns the database connection. A question asked before it ends waits
    for it (the backend reads one thing at a time) and then reads less. The thread, to join before the process ends."""
    prompt = follow_up_start(db, settings, earlier)
    if prompt is None or getattr(backend, "read_ahead", None) is None:
        return None
    thread = threading.Thread(target=read_ahead, args=(backend, prompt), name="sqlchat-read-ahead", daemon=True)
    thread.start()
    return thread


def _add_candidates(answer: Answer, backend: Backend, prompt: Prompt, n: int, first: bool = False) -> None:
    """The model's SQL as candidates; an answer saying the question cannot be answered is counted, not run."""
    with _timed(answer.timings, "generate"):
        generations = backend.generate(prompt, n=n)
    evidence = answer.evidence
    for index, generation in enumerate(generations):
        reason = model_decline(generation.text)
        if reason is not None:
            if first:
                evidence.declines += 1
                evidence.model_reason = evidence.model_reason or reason or None
            continue
        evidence.generations.setdefault(generation.sql, generation)
        if first or index > 0:  # a later round's first is the greedy answer again (llama.cpp gives it first): no new vote
            evidence.votes[generation.sql] = evidence.votes.get(generation.sql, 0) + 1
        if generation.sql not in answer.candidates:
            answer.candidates.append(generation.sql)
    evidence.generated += len(generations) if first else 0
    answer.tokens += sum(g.tokens for g in generations)


def _invented(answer: Answer, db: Database) -> tuple[str, ...]:
    """The names the model's first (greedy) candidate reads that the schema lacks in every form the repairs make of
    it (:func:`sqlchat.answers.declining.invented_names`); empty when one form reads only real names."""
    first = next((c for c in answer.candidates if c and c.strip()), None)
    if first is None:
        return ()
    tables = tuple(reflect_schema(db))
    context = Context(tables=tables, dialect=db.dialect, question=answer.question or "", follows=answer.follows)
    found = [invented_names(form.sql, tables, db.dialect) for form in written_forms(first, context)]
    return found[0] if found and all(found) else ()


def needs_more_candidates(ok: bool, informative: bool, settings: Settings) -> bool:
    """Whether to ask the model once more: the answer failed or says nothing (empty, only 0/NULL),
    and ``retry_candidates`` asks for more candidates than the first round had."""
    return not (ok and informative) and settings.model.retry_candidates > settings.model.num_candidates


def doubtful(answer: Answer, settings: Settings) -> bool:
    """Whether to run a few sampled candidates beside an answer that stands alone: the model's least likely
    token in it fell below ``doubt_logprob``, and nothing else was compared with it yet."""
    trust = settings.trust
    if not answer.ok or trust.doubt_candidates <= 0 or len(answer.evidence.found) >= 2:
        return False
    chosen = answer.evidence.generations.get(answer.evidence.chosen_from or "")
    return chosen is not None and chosen.least_logprob is not None and chosen.least_logprob < trust.doubt_logprob


def _retried(answer: Answer, backend: Backend, prompt: Prompt, db: Database, settings: Settings) -> Answer:
    """Choose again among the first candidates plus ``retry_candidates`` more (sampled).

    The first candidates stay first, so the choice can only move to a later candidate whose result
    is informative; if the model offers nothing new, or fails, the first answer stands.
    """
    return _with_more_candidates(answer, backend, prompt, db, settings, settings.model.retry_candidates, retried=True)


def _with_more_candidates(answer: Answer, backend: Backend, prompt: Prompt, db: Database, settings: Settings,
                          n: int, retried: bool) -> Answer:
    """The answer chosen again among its candidates and the new ones of ``backend.generate(prompt, n)``
    (greedy first, the rest sampled); the first answer when the model offers nothing new or fails."""
    retry = Answer(question=answer.question, context=answer.context, tables=answer.tables, timings=answer.timings,
                   follows=answer.follows, mentions=answer.mentions,
                   candidates=list(answer.candidates), tokens=answer.tokens, retried=retried, executed=answer.executed,
                   evidence=replace(answer.evidence, generations=dict(answer.evidence.generations),
                                    votes=dict(answer.evidence.votes), found=[]))
    try:
        _add_candidates(retry, backend, prompt, n)
    except SqlchatError:
        return answer
    nothing_new = len(retry.candidates) == len(answer.candidates)
    if nothing_new and (retried or retry.evidence.votes == answer.evidence.votes):
        return answer  # (samples that repeat the answer's own text are votes for it: compared again below)
    return run_candidates(retry, db, settings)


def run_candidates(answer: Answer, db: Database, settings: Settings) -> Answer:
    """Choose among ``answer.candidates`` by running them on ``db``, and record the chosen one's rows and the
    correction rules that made it (``answer.rules``, in words ``answer.rule_notes``)."""
    try:
        tables = list(reflect_schema(db))
        reader = DatabaseReader(db, settings.execution)
        lookup = stored_values(reader) if db.executable and settings.execution.link_values else None
        informative = _informative if settings.execution.prefer_informative else None
        run = _remembered(lambda s: _check_and_run(s, db, settings, answer))
        context = Context(tuple(tables), db.dialect, answer.question or "", answer.follows)
        forms: dict[str, Form] = {}
        failures: list[str] = []

        def tries(candidate: str) -> Iterator[str]:
            for form in _linked_forms(candidate, context, lookup, failures):
                forms.setdefault(form.sql, form)
                yield form.sql

        def reinterpret(sql: str, empty: bool) -> str | None:
            base = forms.get(sql) or Form(sql)
            read = reinterpreted(base, with_lookup(context, lookup) if empty else context, failures)
            if read is None:
                return None
            forms.setdefault(read.sql, read)
            return read.sql

        sql, outcome, error = choose_and_compare(answer, tries, run, informative, settings.trust.compare_candidates,
                                                 reinterpret)
        answer.rule_failures = list(dict.fromkeys(failures))
        if outcome is None:
            answer.sql = answer.candidates[0] if answer.candidates and answer.candidates[0] else None
            return _fail(answer, error)
        answer.chosen, answer.repaired = sql, sql not in answer.candidates
        form = forms.get(sql)
        answer.rules = list(form.fired) if form is not None else []
        answer.rule_notes = list(dict.fromkeys(form.notes)) if form is not None else []
        if settings.execution.readable_results:
            outcome = _made_readable(answer, outcome, tables, db, settings)
        return _record(answer, *outcome)
    except Exception as error:  # noqa: BLE001 - the user sees a sentence, never a traceback
        return _fail(answer, error)


Outcome = tuple[CheckedSQL, QueryResult | None]


def _remembered(run: Callable[[str], Outcome]) -> Callable[[str], Outcome]:
    """``run`` that executes each SQL text once: corrections of different candidates often coincide."""
    seen: dict[str, Outcome | SqlchatError] = {}

    def remembered(sql: str) -> Outcome:
        if sql not in seen:
            try:
                seen[sql] = run(sql)
            except SqlchatError as error:
                seen[sql] = error
        if isinstance(seen[sql], SqlchatError):
            raise seen[sql]
        return seen[sql]
    return remembered


def choose_and_compare(answer: Answer, tries: Callable[[str], Iterable[str]], run: Callable[[str], Outcome],
                       informative: Callable[[Outcome], bool] | None, compare: int,
                       reinterpret: Callable[[str, bool], str | None] | None = None,
                       ) -> tuple[str | None, Outcome | None, Exception | None]:
    """Execution-guided choice (the same as :func:`choose_candidate` over every candidate's tries), that also
    runs the candidates after the chosen one until ``compare`` were run, so their results can be compared:
    each candidate's outcome goes to ``answer.evidence.found``, the chosen one's to ``chosen_from`` / ``chosen_key``.

    ``reinterpret(sql, empty)`` gives a candidate's reinterpretation (:mod:`sqlchat.corrections.registry`), an
    extra candidate run beside it; see :func:`outranks` for when one is chosen instead."""
    evidence = answer.evidence
    evidence.found = []
    chosen: tuple[str, str, Outcome] | None = None
    first_empty: tuple[str, str, Outcome] | None = None
    first_error: Exception | None = None
    ran: list[tuple[str, str | None, Outcome | None]] = []
    for candidate in answer.candidates:
        if not candidate or not candidate.strip():
            continue
        if chosen is not None and len(evidence.found) >= max(1, compare):
            break
        sql, outcome, error = choose_candidate(tries(candidate), run, informative)
        frame = outcome[1].frame if outcome is not None and outcome[1] is not None else None
        evidence.found.append(Found(sql, frame, votes=evidence.votes.get(candidate, 1)))
        ran.append((candidate, sql, outcome))
        if outcome is None:
            first_error = first_error or error
        elif chosen is None and (informative is None or informative(outcome)):
            chosen = (candidate, sql, outcome)
        elif first_empty is None:
            first_empty = (candidate, sql, outcome)
    if reinterpret is not None:
        chosen = _reinterpretation_or(chosen, ran, reinterpret, run, informative, evidence) or chosen
    chosen = chosen or first_empty
    if chosen is None:
        return None, None, first_error or SqlchatError(NO_SQL_MESSAGE)
    candidate, sql, outcome = chosen
    evidence.chosen_from = candidate
    evidence.chosen_key = _key(outcome)
    return sql, outcome, None


def _key(outcome: Outcome | None) -> tuple | None:
    return result_key(outcome[1].frame) if outcome is not None and outcome[1] is not None else None


def support(key: tuple | None, found: Sequence[Found], besides: int) -> int:
    """How many generations of the compared candidates other than the ``besides``-th returned the result ``key``."""
    if key is None:
        return 0
    return sum(f.votes for index, f in enumerate(found) if index != besides and f.key == key)


def outranks(reading: tuple | None, reading_support: int, written: tuple | None, written_support: int,
             written_informative: bool) -> bool:
    """Whether a reinterpretation (its result ``reading``, agreed by ``reading_support`` other generations) is chosen
    over the answer as written (``written``, agreed by ``written_support``): only when the one as written failed or
    said nothing, or when more of the other candidates agree with the reinterpretation than with it. Returning rows
    is never enough, and a reinterpretation never outranks candidates that agree with the answer as written."""
    if reading is None:
        return False
    if written is None or not written_informative:
        return True
    return reading != written and reading_support > written_support


def _reinterpretation_or(chosen: tuple[str, str, Outcome] | None, ran: Sequence[tuple[str, str | None, Outcome | None]],
                         reinterpret: Callable[[str, bool], str | None], run: Callable[[str], Outcome],
                         informative: Callable[[Outcome], bool] | None, evidence: Evidence,
                         ) -> tuple[str, str, Outcome] | None:
    """The best reinterpretation of the candidates that ran, when it :func:`outranks` the ``chosen`` one; else None."""
    found = evidence.found
    written_index = next((i for i, entry in enumerate(ran) if chosen is not None and entry[0] == chosen[0]), -1)
    written_key = _key(chosen[2]) if chosen is not None else None
    written_ok = chosen is not None and (informative is None or informative(chosen[2]))
    written_support = support(written_key, found, written_index)
    best: tuple[int, tuple[str, str, Outcome]] | None = None
    for index, (candidate, sql, outcome) in enumerate(ran):
        empty = outcome is None or (informative is not None and not informative(outcome))
        try:
            reading = reinterpret(sql if sql is not None else candidate, empty)
            if reading is None or reading == sql:
                continue
            read = run(reading)
        except SqlchatError:
            continue
        if informative is not None and not informative(read):
            continue
        key = _key(read)
        agreed = support(key, found, index)
        if key is None and read[1] is None:  # a database without data: nothing to compare, nothing to choose by
            continue
        if outranks(key, agreed, written_key, written_support, written_ok) and (best is None or agreed > best[0]):
            best = (agreed, (candidate, reading, read))
    return best[1] if best is not None else None


def settle(answer: Answer, db: Database, settings: Settings) -> Answer:
    """Decide how sure the answer is (``sqlchat.answers.trust``); decline it when the data cannot answer the question;
    else explain its SQL and offer the other results found."""
    evidence = answer.evidence
    compared = [found for found in evidence.found if found.key is not None]
    chosen = evidence.generations.get(evidence.chosen_from) if evidence.chosen_from is not None else None
    signals = Signals(
        informative=answer.ok and _says_something(answer.frame), retried=answer.retried, checked=answer.checked,
        repaired=answer.repaired,
        compared=sum(found.votes for found in evidence.found) if compared else 0,
        agreeing=sum(found.votes for found in compared if found.key == evidence.chosen_key) if answer.ok else 0,
        logprob=chosen.logprob if chosen is not None else None,
        least_logprob=chosen.least_logprob if chosen is not None else None,
        invented=evidence.invented, declines=evidence.declines, generated=evidence.generated, model_reason=evidence.model_reason,
        ok=answer.ok)
    answer.signals = signals
    verdict = decide(signals, settings.trust)
    if verdict.declined is not None and answer.error_kind != "refused":  # a refusal says more than a decline
        answer.error, answer.error_detail, answer.error_kind = verdict.declined, None, "unanswerable"
        answer.frame = answer.sql = answer.chosen = None
        return answer
    answer.confidence = verdict.confidence
    if answer.ok:
        tables = list(reflect_schema(db))
        answer.explanation = explain(answer.chosen, tables, db.dialect)
        answer.alternatives = alternatives(evidence, lambda sql: explain(sql, tables, db.dialect), settings.trust)
    return answer


def _informative(outcome: tuple[CheckedSQL, QueryResult | None]) -> bool:
    return _says_something(outcome[1].frame if outcome[1] is not None else None)


def _says_something(frame: pd.DataFrame | None) -> bool:
    """Whether a result is informative; a database without data (a CREATE TABLE script) has none and cannot tell, so yes."""
    return frame is None or is_informative(frame.itertuples(index=False, name=None))


def _made_readable(answer: Answer, outcome: tuple[CheckedSQL, QueryResult | None], tables: Sequence[Table], db: Database,
                   settings: Settings) -> tuple[CheckedSQL, QueryResult | None]:
    """The chosen SQL with name and measure columns added (``sqlchat.corrections.readable``), if it runs;
    else as chosen.

    ``answer.chosen`` becomes the readable SQL: it is what the user sees, approves and edits.
    """
    readable = make_readable(answer.chosen, tables, db.dialect)
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
    with user_text(sql):
        return _run_sql(sql, db, settings)


def _run_sql(sql: str, db: Database, settings: Settings) -> Answer:
    answer = Answer(question=None, sql=sql)
    started = time.perf_counter()
    try:
        _record(answer, *_check_and_run(sql, db, settings, answer))
        answer.chosen = sql
        answer.explanation = explain(sql, list(reflect_schema(db)), db.dialect)
        return answer
    except Exception as error:  # noqa: BLE001
        return _fail(answer, error)
    finally:
        answer.timings["total"] = time.perf_counter() - started
