"""From a question to an answer: schema → prompt → candidates → check → execute.

Execution-guided choice: the model may offer several candidates; the first one
that passes the safety check, runs without error and returns an informative result is the
answer (no rows, or only 0/NULL, is also what a wrong filter returns: such a result is the
answer only when no candidate does better). When no candidate gives an informative answer, the
model is asked once more for ``retry_candidates`` by beam search, so only such questions pay for it. A join on keys
that the database's foreign keys do not link is corrected first (``sqlchat.corrections.joins``), and
a candidate that fails is retried once with unknown names repaired to the schema's own
(``sqlchat.corrections.repair``); one that comes back empty is retried with its strings spelled as the
data spells them (``sqlchat.corrections.values``). The choice is one loop (``sqlchat.answers.choice``), which
each round of candidates runs again. The answer then shows the names of ids it lists and the measure it
ranks by (``sqlchat.corrections.readable``). Up to ``TrustConfig.compare_candidates`` candidates are run so
their results can be compared: the answer says how sure it is and offers the distinct other
results (``sqlchat.answers.trust``), explains its SQL in plain English (``sqlchat.answers.explain``), and declines a
question the data cannot answer (``sqlchat.answers.declining``). A follow-up question gets the conversation's
earlier turns (``sqlchat.conversation``): the model sees their questions and SQL, and the tables are chosen
from them as well. Every failure becomes a plain sentence in ``Answer.error``.

While a question is answered the engine keeps a :class:`Draft` (mutable, its own): what every round shares, the
round's candidates (:class:`Round`) and what running them gave (:class:`Picked`), the last two frozen values that a
retry replaces whole, so nothing is copied by hand. Each stage is a step of its trace
(``sqlchat.answers.trace``). The :class:`~sqlchat.answers.result.Answer` is built from the draft once, frozen;
the app, the CLI, the MCP server and the evaluator read it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlchat.answers.choice import Choice, Forms, Outcome, choose, remembered
from sqlchat.answers.declining import invented_names, model_decline, withheld_sentence, withheld_subjects
from sqlchat.answers.explain import explain
from sqlchat.answers.result import Answer
from sqlchat.answers.trace import Open, Tracer
from sqlchat.answers.trust import Evidence, Signals, alternatives, decide, model_declines
from sqlchat.config import Settings
from sqlchat.conversation import recent, selection_text, tables_after
from sqlchat.corrections.readable import make_readable
from sqlchat.corrections.registry import Context, written_forms
from sqlchat.corrections.values import stored_values
from sqlchat.errors import InvalidSQL, SqlchatError, UnsafeSQL, redact, user_text
from sqlchat.execution import QueryResult, execute, is_informative
from sqlchat.governance.policy import permitted_examples, policy_for
from sqlchat.models.backends import Backend, Generation
from sqlchat.prompt import Prompt, Turn, build_prompt
from sqlchat.safety import CheckedSQL, check_sql
from sqlchat.language import QUESTION_WORDS
from sqlchat.schema.context import named_tables, render_context, schema_terms, select_tables
from sqlchat.schema.mentions import DatabaseValues, Mention, find_mentions
from sqlchat.schema.model import Table
from sqlchat.schema.names import database_spelling
from sqlchat.schema.reflection import reflect_schema
from sqlchat.schema.samples import ColumnSample, sample_columns
from sqlchat.sources.connection import Database
from sqlchat.value_reader import DatabaseReader

__all__ = ["Answer", "Draft", "ask", "answers", "run_sql", "prompt_for", "needs_more_candidates", "doubtful", "settle",
           "follow_up_start", "read_ahead", "read_ahead_in_background"]

log = logging.getLogger(__name__)
SAMPLES_KEY = "schema_samples"  # the stored values read for the prompt, kept in the connection's cache
RETRY, DOUBT = "retry", "doubt check"  # the stages of the rounds that ask the model for more candidates


@dataclass(frozen=True)
class Round:
    """The candidates asked for so far and what the model said writing them. A later round is this one
    :meth:`extended`, so it carries everything the first had."""

    candidates: tuple[str, ...] = ()
    generations: Mapping[str, Generation] = field(default_factory=dict)  # candidate -> the generation that wrote it first
    votes: Mapping[str, int] = field(default_factory=dict)  # candidate -> how many generations wrote it
    tokens: int = 0
    declines: int = 0  # first-round generations that said the question cannot be answered
    generated: int = 0  # first-round generations
    model_reason: str | None = None  # the first reason the model gave
    retried: bool = False  # a retry round: the first candidates gave nothing informative

    def extended(self, generations: Sequence[Generation], first: bool = False) -> Round:
        """This round with the model's SQL as more candidates (``replace``: every other field carried); an answer
        saying the question cannot be answered is counted (in the ``first`` round), not run."""
        candidates, written, votes = list(self.candidates), dict(self.generations), dict(self.votes)
        declines, reason = self.declines, self.model_reason
        for index, generation in enumerate(generations):
            said = model_decline(generation.text)
            if said is not None:
                if first:
                    declines += 1
                    reason = reason or said or None
                continue
            written.setdefault(generation.sql, generation)
            if first or index > 0:  # a later round's first is the greedy answer again (llama.cpp gives it first): no new vote
                votes[generation.sql] = votes.get(generation.sql, 0) + 1
            if generation.sql not in candidates:
                candidates.append(generation.sql)
        return replace(self, candidates=tuple(candidates), generations=written, votes=votes, declines=declines,
                       model_reason=reason, generated=self.generated + (len(generations) if first else 0),
                       tokens=self.tokens + sum(g.tokens for g in generations))


@dataclass(frozen=True)
class Picked:
    """What running a round's candidates gave: the loop's choice, the SQL as the user sees it and its result; or why
    there is none."""

    choice: Choice = field(default_factory=Choice)
    chosen: str | None = None  # the chosen SQL as written, made readable
    repaired: bool = False  # it is a corrected form of a candidate
    columns_added: bool = False  # name or measure columns were added to it
    outcome: Outcome | None = None  # its check and result
    error: Exception | None = None  # why there is no answer
    shown: str | None = None  # the SQL shown when none ran: the model's first candidate, the user's text


@dataclass
class Draft:
    """One question's working state while it is answered (mutable; the engine's own). :meth:`answer` makes the
    frozen :class:`Answer` of it."""

    question: str | None
    follows: str | None = None  # a follow-up's previous turn's SQL
    context: str = ""  # the schema text sent to the model
    tables: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    round: Round = field(default_factory=Round)
    picked: Picked = field(default_factory=Picked)
    invented: tuple[str, ...] = ()  # names the first candidate read that the schema lacks, in every repaired form
    checked: bool = False  # a doubt round ran
    executed: list[str] = field(default_factory=list)  # every statement sent to the database, every round's
    tracer: Tracer = field(default_factory=Tracer)

    def step(self, stage: str, input: object = "", timing: str | None = None) -> AbstractContextManager[Open]:
        return self.tracer.step(stage, input, timing)

    def timed(self, key: str) -> AbstractContextManager[None]:
        return self.tracer.timed(key)

    def answer(self) -> Answer:
        """The answer as the draft stands."""
        round, picked, choice = self.round, self.picked, self.picked.choice
        statement, result = picked.outcome if picked.outcome is not None else (None, None)
        evidence = Evidence(generations=round.generations, votes=round.votes, declines=round.declines,
                            generated=round.generated, model_reason=round.model_reason, found=choice.found,
                            invented=self.invented, chosen_from=choice.chosen_from, chosen_key=choice.chosen_key)
        return Answer(
            question=self.question, context=self.context, tables=tuple(self.tables), mentions=tuple(self.mentions),
            follows=self.follows, candidates=round.candidates, tokens=round.tokens, retried=round.retried,
            checked=self.checked, sql=statement.sql if statement is not None else picked.shown,
            limit_added=statement is not None and statement.limit_added,
            frame=result.frame if result is not None else None, capped=result is not None and result.capped,
            cap_note=result.cap_note if result is not None else None, chosen=picked.chosen, repaired=picked.repaired,
            columns_added=picked.columns_added, rules=choice.rules, rule_notes=choice.notes,
            rule_failures=choice.failures, executed=tuple(self.executed), evidence=evidence,
            trace=tuple(self.tracer.steps), **_failure(picked.error))

    def finished(self, answer: Answer, started: float) -> Answer:
        """``answer`` with the whole trace, every statement run and the question's total time."""
        return replace(answer, trace=tuple(self.tracer.steps), executed=tuple(self.executed),
                       seconds=time.perf_counter() - started)


def error_kind(error: Exception) -> str:
    """``refused`` when the safety check turned the SQL away on purpose; unparsable SQL is a mistake, an ``error``.
    (A question the data cannot answer is ``unanswerable``: see :func:`settle`.)"""
    return "refused" if isinstance(error, UnsafeSQL) and not isinstance(error, InvalidSQL) else "error"


def _failure(error: Exception | None) -> dict[str, Any]:
    """The answer's error fields for ``error`` (none for None): an unexpected bug still reaches the user as a
    sentence, its details redacted."""
    if error is None:
        return {}
    if isinstance(error, SqlchatError):
        return {"error_kind": error_kind(error), "error": error.message, "error_detail": error.detail}
    return {"error_kind": error_kind(error), "error": "Something went wrong while answering; the details say what.",
            "error_detail": redact(f"{type(error).__name__}: {error}")}


def _failed(answer: Answer, error: Exception) -> Answer:
    return replace(answer, **_failure(error))


def _message(error: Exception | None) -> str:
    return error.message if isinstance(error, SqlchatError) else type(error).__name__


def _said(outcome: Outcome | None) -> str:
    """A result in a few words, for the trace."""
    if outcome is None:
        return "nothing ran"
    frame = outcome[1].frame if outcome[1] is not None else None
    return "checked (no data to run on)" if frame is None else f"{len(frame)} row(s)"


def _known_columns(db: Database) -> set[str]:
    """Column names of ``db``: a double-quoted word naming one stays a column, not a string."""
    return {column.name for table in reflect_schema(db).tables for column in table.columns}


def _check_and_run(sql: str, db: Database, settings: Settings, draft: Draft) -> tuple[CheckedSQL, QueryResult | None]:
    with draft.timed("check"):
        checked = check_sql(sql, db.dialect, row_limit=settings.execution.row_limit, known_columns=_known_columns(db),
                            names=database_spelling(db), access=policy_for(db))
    if not db.executable:
        return checked, None
    draft.executed.append(checked.sql)
    with draft.timed("execute"):
        return checked, execute(db, checked, settings.execution)


def prompt_for(
    question: str, db: Database, settings: Settings, answer: Draft, examples: list[tuple[str, str]] | None = None,
    earlier: Sequence[Turn] = (),
) -> Prompt:
    """Reflect the schema, find where the question's values are stored, choose the tables for ``question`` (and
    the ``earlier`` turns it follows, and those holding its values; a follow-up keeps the last turn's first) and
    build the prompt (with few-shot ``examples``, those turns and the values' places). What it chose goes to the
    ``answer`` being drafted, each stage a step of its trace."""
    with answer.step("schema", db.dialect, timing="schema") as step:
        schema = reflect_schema(db)
        step.output = f"{len(schema.tables)} table(s)"
    mentions = _mentions(question, list(schema), db, settings, answer)
    with answer.step("tables", question, timing="schema") as step:
        selected = select_tables(schema, selection_text(question, earlier), settings.schema.token_budget,
                                 focus=settings.schema.focus, linked=[name for m in mentions for name in m.tables])
        tables = tables_after(earlier, selected, schema, settings.schema.token_budget)
        step.output = ", ".join(table.name for table in tables)
        answer.tables = [table.name for table in tables]
    with answer.step("samples", ", ".join(answer.tables), timing="schema") as step:
        samples = _samples(tables, db, settings)
        step.output = f"{len(samples)} column(s) shown"
    answer.context = render_context(tables, keys=settings.schema.include_keys, samples=samples)
    sent, named = set(answer.tables), [table.name for table in named_tables(list(schema), question)]
    answer.mentions = [m.text() for m in mentions if set(m.tables) <= sent and m.tells(named)]
    answer.tracer.said("mentions", f"{len(mentions)} found, {len(answer.mentions)} told")  # the values: in the prompt
    with answer.step("prompt", question) as step:
        prompt = build_prompt(answer.context, question, examples=permitted_examples(examples, db), earlier=earlier,
                              mentions=answer.mentions)
        step.output = f"{len(prompt.examples)} example(s), {len(prompt.earlier)} earlier turn(s), mentions: " + (
            "; ".join(prompt.mentions) or "none")
    return prompt


def _samples(tables: Sequence[Table], db: Database, settings: Settings) -> list[ColumnSample]:
    """A few stored values of the ``tables``' columns for the prompt (:mod:`sqlchat.schema.samples`), where the database
    has data and showing them is on; what was read is kept on the connection."""
    if not settings.schema.samples or not db.executable:
        return []
    with db.lock:
        kept = db.cache.setdefault(SAMPLES_KEY, {})
        return sample_columns(tables, DatabaseReader(db, settings.execution), settings.schema.samples_budget_s, kept)


def _mentions(question: str, tables: Sequence[Table], db: Database, settings: Settings, answer: Draft) -> list[Mention]:
    """Where ``db`` stores the names ``question`` mentions (``sqlchat.schema.mentions``); none without data to read."""
    if not settings.schema.mentions or not db.executable:
        return []
    budget = settings.schema.mentions_budget_s
    with answer.step("mentions", question, timing="mentions"):
        return find_mentions(question, tables, DatabaseValues(DatabaseReader(db, settings.execution), budget),
                             schema_terms(tables), QUESTION_WORDS, budget)


def ask(
    question: str, db: Database, backend: Backend, settings: Settings, examples: list[tuple[str, str]] | None = None,
    earlier: Sequence[Turn] | None = None,
) -> Answer:
    """Answer ``question`` on ``db``: the SQL, its rows, the context sent, the trace and the time of each step.

    ``examples`` are verified (question, sql) pairs for this schema, shown to the model as
    few-shot guidance; the caller retrieves them (``sqlchat.history``), so data flows one way.
    ``earlier`` are the conversation's previous turns (:class:`sqlchat.conversation.Conversation`), oldest
    first; the model is shown those from the last answered one on (:func:`sqlchat.conversation.recent`).
    The settled answer: the last of :func:`answers`.
    """
    answer: Answer | None = None
    for answer in answers(question, db, backend, settings, examples, earlier):
        pass
    assert answer is not None  # answers() always ends with the settled answer
    return answer


def answers(
    question: str, db: Database, backend: Backend, settings: Settings, examples: list[tuple[str, str]] | None = None,
    earlier: Sequence[Turn] | None = None,
) -> Iterator[Answer]:
    """:func:`ask`, answer by answer as the user may see them: when the model was unsure of its one answer, first
    that answer with its rows while the doubt check runs (``checking``: no confidence yet), then the settled one.
    The check rates the rows (and offers the other results it found); it does not hold them back."""
    steps = _answers(question, db, backend, settings, examples, earlier)
    while True:
        with user_text(question):  # a message echoing the question does not mask a secret guessed in it
            answer = next(steps, None)
        if answer is None:
            return
        yield answer


def _answers(question: str, db: Database, backend: Backend, settings: Settings,
             examples: list[tuple[str, str]] | None, earlier: Sequence[Turn] | None) -> Iterator[Answer]:
    if not question or not question.strip():
        yield Answer(question=question, error="Please type a question.", error_kind="error")
        return
    draft = Draft(question=question)
    answer: Answer | None = None
    shown: Answer | None = None  # the rows shown while the doubt check ran
    started = time.perf_counter()
    try:
        context = recent(list(earlier or ()), settings.conversation.turns)
        draft.follows = context[-1].sql if context and context[-1].ok else None
        withheld = _withheld(question, db, context)
        prompt = prompt_for(question, db, settings, draft, examples, context)
        with draft.step("generate", f"{settings.model.num_candidates} candidate(s) asked for") as step:
            with draft.timed("generate"):
                generations = backend.generate(prompt, n=settings.model.num_candidates)
            draft.round = Round().extended(generations, first=True)
            step.output = f"{len(draft.round.candidates)} candidate(s), {draft.round.declines} declined"
        draft.picked = run_candidates(draft, draft.round, db, settings)
        first = draft.answer()
        informative = first.ok and _says_something(first.frame)
        draft.invented = () if informative else _invented(first, db)
        declined = settings.trust.decline and (
            model_declines(first.evidence.declines, first.evidence.generated, settings.trust)
            or (bool(draft.invented) and settings.trust.decline_invented == "first"))  # no retry then
        if not declined and needs_more_candidates(first.ok, informative, settings):
            _another_round(draft, backend, prompt, db, settings, settings.model.retry_candidates, RETRY)
        elif not declined and doubtful(first, settings):
            shown = _shown_while_checking(draft, db, settings, withheld, started)
            if shown.ok:
                yield shown
            _another_round(draft, backend, prompt, db, settings, settings.trust.doubt_candidates + 1, DOUBT)
            draft.checked = True
        answer = _settled(draft, db, settings, withheld)
    except Exception as error:  # noqa: BLE001 - the user sees a sentence, never a traceback
        answer = _failed(answer if answer is not None else draft.answer(), error)
    answer = draft.finished(answer, started)
    same_rows = shown is not None and shown.ok and answer.ok and shown.sql == answer.sql
    yield replace(answer, shown_seconds=shown.seconds if same_rows else answer.seconds)


def _settled(draft: Draft, db: Database, settings: Settings, withheld: Sequence[tuple[str, str]]) -> Answer:
    """The draft's answer with its confidence (or declined), unless the connection withholds what it asks for."""
    with draft.step("settle") as step:
        answer = settle(draft.answer(), db, settings)
        step.output = answer.confidence or answer.error or ""
    if withheld:
        with draft.step("withheld", ", ".join(column for _, column in withheld)) as step:
            answer = _unless_withheld(answer, withheld, db.dialect)
            step.output = answer.error or "answered"
    return answer


def _shown_while_checking(draft: Draft, db: Database, settings: Settings, withheld: Sequence[tuple[str, str]],
                          started: float) -> Answer:
    """The first round's answer as the user sees it while the doubt check runs: its rows and what its SQL does, no
    confidence or other answers yet (``checking``); the time it took is the question's time to rows."""
    with draft.step("shown", "the rows, while the doubt check runs") as step:
        answer = _unless_withheld(settle(draft.answer(), db, settings), withheld, db.dialect)
        if answer.ok:
            answer = replace(answer, confidence=None, alternatives=(), checking=True)
        step.output = "rows shown" if answer.ok else answer.error or ""
    answer = draft.finished(answer, started)
    return replace(answer, shown_seconds=answer.seconds)


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
    return replace(answer, error=withheld_sentence(withheld), error_detail=None, error_kind="unanswerable", frame=None,
                   sql=None, chosen=None, explanation=None, confidence=None, alternatives=())


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
    context_text = render_context(tables, keys=settings.schema.include_keys, samples=_samples(tables, db, settings))
    return build_prompt(context_text, "", earlier=context)


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


def _another_round(draft: Draft, backend: Backend, prompt: Prompt, db: Database, settings: Settings, n: int,
                   stage: str) -> None:
    """Choose again among the draft's candidates and the new ones of ``backend.generate(prompt, n)`` (greedy first,
    the rest sampled): a :data:`RETRY` when the first gave nothing informative, a :data:`DOUBT` check beside an
    unsure answer. The first candidates stay first, so the choice can only move to a later candidate whose result
    is informative; the first choice stands when the model offers nothing new or fails."""
    first = draft.round
    retried = stage == RETRY
    with draft.step(stage, f"{n} more candidate(s) asked for") as step:
        try:
            with draft.timed("generate"):
                generations = backend.generate(prompt, n=n)
        except SqlchatError as error:
            step.output = f"the model failed ({error.message}): the first answer stands"
            return
        more = replace(first.extended(generations), retried=retried)
        nothing_new = len(more.candidates) == len(first.candidates)
        if nothing_new and (retried or more.votes == first.votes):
            step.output = "nothing new: the first answer stands"
            return  # (samples that repeat the answer's own text are votes for it: compared again below)
        step.output = f"{len(more.candidates) - len(first.candidates)} new candidate(s)"
    draft.round, draft.picked = more, run_candidates(draft, more, db, settings)


def run_candidates(draft: Draft, round: Round, db: Database, settings: Settings) -> Picked:
    """Choose among ``round``'s candidates by running them on ``db`` (the one loop,
    :func:`sqlchat.answers.choice.choose`), and make the chosen SQL readable."""
    picked = Picked()
    try:
        tables = list(reflect_schema(db))
        reader = DatabaseReader(db, settings.execution)
        lookup = stored_values(reader) if db.executable and settings.execution.link_values else None
        informative = _informative if settings.execution.prefer_informative else None
        run = remembered(lambda sql: _check_and_run(sql, db, settings, draft))
        forms = Forms(Context(tuple(tables), db.dialect, draft.question or "", draft.follows), lookup)
        with draft.step("choose", f"{len(round.candidates)} candidate(s)") as step:
            choice = choose(round.candidates, round.votes, forms, run, informative, settings.trust.compare_candidates)
            step.rules = choice.rules
            step.output = (f"{choice.sql} ({_said(choice.outcome)}; {len(choice.found)} compared)"
                           if choice.outcome is not None else _message(choice.error))
        if choice.outcome is None:
            first = round.candidates[0] if round.candidates and round.candidates[0] else None
            return Picked(choice, error=choice.error, shown=first)
        picked = Picked(choice, chosen=choice.sql, repaired=choice.sql not in round.candidates, outcome=choice.outcome)
        if settings.execution.readable_results:
            picked = _made_readable(picked, tables, db, settings, draft)
        return picked
    except Exception as error:  # noqa: BLE001 - the user sees a sentence, never a traceback
        return replace(picked, outcome=None, error=error)


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
    verdict = decide(signals, settings.trust)
    if verdict.declined is not None and answer.error_kind != "refused":  # a refusal says more than a decline
        return replace(answer, signals=signals, error=verdict.declined, error_detail=None, error_kind="unanswerable",
                       frame=None, sql=None, chosen=None)
    if not answer.ok:
        return replace(answer, signals=signals, confidence=verdict.confidence)
    tables = list(reflect_schema(db))
    return replace(answer, signals=signals, confidence=verdict.confidence,
                   explanation=explain(answer.chosen, tables, db.dialect),
                   alternatives=tuple(alternatives(evidence, lambda sql: explain(sql, tables, db.dialect), settings.trust)))


def _informative(outcome: Outcome) -> bool:
    return _says_something(outcome[1].frame if outcome[1] is not None else None)


def _says_something(frame: pd.DataFrame | None) -> bool:
    """Whether a result is informative; a database without data (a CREATE TABLE script) has none and cannot tell, so yes."""
    return frame is None or is_informative(frame.itertuples(index=False, name=None))


def _made_readable(picked: Picked, tables: Sequence[Table], db: Database, settings: Settings, draft: Draft) -> Picked:
    """The chosen SQL with name and measure columns added (``sqlchat.corrections.readable``), if it runs;
    else as chosen. The readable SQL becomes ``chosen``: it is what the user sees, approves and edits."""
    with draft.step("readable", picked.chosen) as step:
        readable = make_readable(picked.chosen, tables, db.dialect)
        if readable == picked.chosen:
            step.output = "as chosen"
            return picked
        try:
            outcome = _check_and_run(readable, db, settings, draft)
        except SqlchatError as error:
            step.output = f"as chosen: the readable form did not run ({error.message})"
            return picked
        step.output = f"{readable} ({_said(outcome)})"
    return replace(picked, chosen=readable, columns_added=True, outcome=outcome)


def run_sql(sql: str, db: Database, settings: Settings) -> Answer:
    """Run user-written (or user-edited) SQL through the same check and read-only executor."""
    with user_text(sql):
        return _run_sql(sql, db, settings)


def _run_sql(sql: str, db: Database, settings: Settings) -> Answer:
    draft = Draft(question=None, picked=Picked(shown=sql))
    started = time.perf_counter()
    try:
        with draft.step("run", sql) as step:
            outcome = _check_and_run(sql, db, settings, draft)
            step.output = _said(outcome)
        draft.picked = Picked(chosen=sql, outcome=outcome)
        with draft.step("explain", sql):
            explanation = explain(sql, list(reflect_schema(db)), db.dialect)
        answer = replace(draft.answer(), explanation=explanation)
    except Exception as error:  # noqa: BLE001
        answer = _failed(draft.answer(), error)
    return draft.finished(answer, started)
