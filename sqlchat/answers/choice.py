"""Choosing among the model's candidates by running them: the one candidate-selection loop.

Execution-guided choice (:func:`choose`): each candidate is tried in its forms, repaired and linked to stored
values (:class:`Forms`, from :mod:`sqlchat.corrections.registry`); the first form whose result is informative is
that candidate's result (no rows, or only 0/NULL, is also what a wrong filter returns: such a result is chosen
only when nothing does better). The first candidate with an informative result is chosen, and the candidates after
it run until ``compare`` were, so their results can be compared (:mod:`sqlchat.answers.trust`). A candidate's
reinterpretation is an extra candidate run beside it, chosen only when it :func:`outranks` the one as written.
The engine's retry and doubt rounds run this same loop over their extended candidates, and the evaluator measures
through it (through ``ask``, or, on a synthesized database without a connection, through
:func:`choose_candidate` over :func:`candidate_tries`), so it measures what users get.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlchat.answers.trust import Found, result_key
from sqlchat.config import Settings
from sqlchat.corrections.registry import Context, Form, linked_form, reinterpreted, with_lookup, written_forms
from sqlchat.corrections.values import ValueLookup
from sqlchat.errors import SqlchatError
from sqlchat.execution import QueryResult
from sqlchat.safety import CheckedSQL
from sqlchat.schema.model import Table

T = TypeVar("T")
Outcome = tuple[CheckedSQL, QueryResult | None]  # a candidate's check and its result (None: a database without data)
NO_SQL_MESSAGE = "The model could not write SQL for this question. Try rephrasing it, or name the table and columns."


def choose_candidate(
    candidates: Iterable[str], run: Callable[[str], T], informative: Callable[[T], bool] | None = None,
) -> tuple[str | None, T | None, Exception | None]:
    """Execution-guided choice: the first candidate ``run`` accepts, else the first failure.

    ``run`` checks and executes one SQL string, raising on refusal or error. Given ``informative``,
    a candidate whose result says nothing (no rows, or only NULL/0: what a wrong filter returns)
    is passed over for a later one whose result does, and chosen only when none does. :func:`choose` chooses
    among each candidate's forms with it; the evaluator's synthetic databases use it directly.
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


def linked_forms(candidate: str, context: Context, lookup: ValueLookup | None, failures: list[str]) -> Iterator[Form]:
    """Lazily: each repaired form, then its stored spellings (a few small queries, asked only when the choice gets
    that far: the form before failed or came back empty)."""
    linking = with_lookup(context, lookup) if lookup is not None else None
    for form in written_forms(candidate, context, failures):
        yield form
        if linking is not None:
            linked = linked_form(form, linking, failures)
            if linked.sql != form.sql:
                yield linked


def candidate_tries(candidates: Sequence[str], tables: Sequence[Table], dialect: str, settings: Settings,
                    lookup: ValueLookup | None = None, question: str = "", follows: str | None = None) -> Iterable[str]:
    """The SQL to try, in order, for a first-that-works choice (the evaluator's synthetic databases): each
    candidate's forms with every repair (:func:`linked_forms`), each followed, when ``lookup`` can read the data,
    by its stored spellings; then, after every candidate's, their reinterpretations
    (:func:`sqlchat.corrections.registry.reinterpreted`), which so win only when nothing as written does."""
    context = Context(tuple(tables), dialect, question, follows)
    link = lookup if settings.execution.link_values else None
    seen: set[str] = set()
    later: list[str] = []
    for candidate in candidates:
        first: Form | None = None
        for form in linked_forms(candidate, context, link, []):
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


class Tries(Protocol):
    """How :func:`choose` tries a candidate: its forms in order, its reinterpretation, and how each came to be."""

    def of(self, candidate: str) -> Iterable[str]: ...

    def reading(self, sql: str, empty: bool) -> str | None: ...

    def made(self, sql: str) -> Form | None: ...

    @property
    def failures(self) -> tuple[str, ...]: ...


class Forms:
    """The engine's :class:`Tries`: every correction of :mod:`sqlchat.corrections.registry`, the stored spellings
    read through ``lookup`` (None: the data is not read), each form remembered so the chosen SQL's rules are known."""

    def __init__(self, context: Context, lookup: ValueLookup | None) -> None:
        self.context, self.lookup = context, lookup
        self._forms: dict[str, Form] = {}
        self._failures: list[str] = []

    def of(self, candidate: str) -> Iterator[str]:
        for form in linked_forms(candidate, self.context, self.lookup, self._failures):
            self._forms.setdefault(form.sql, form)
            yield form.sql

    def reading(self, sql: str, empty: bool) -> str | None:
        """``sql``'s reinterpretation; after an empty result, one that may read stored values."""
        base = self._forms.get(sql) or Form(sql)
        read = reinterpreted(base, with_lookup(self.context, self.lookup) if empty else self.context, self._failures)
        if read is None:
            return None
        self._forms.setdefault(read.sql, read)
        return read.sql

    def made(self, sql: str) -> Form | None:
        return self._forms.get(sql)

    @property
    def failures(self) -> tuple[str, ...]:
        """Rules that raised and were skipped (name and one line), each once."""
        return tuple(dict.fromkeys(self._failures))


@dataclass(frozen=True)
class Choice:
    """What the loop chose among a round's candidates, and every compared candidate's result."""

    sql: str | None = None  # the chosen SQL as written: a candidate, or a corrected form or reinterpretation of one
    outcome: Outcome | None = None  # its check and result; None when nothing ran
    error: Exception | None = None  # why nothing was chosen
    found: tuple[Found, ...] = ()  # each compared candidate's result, in order
    chosen_from: str | None = None  # the candidate the chosen SQL came from
    chosen_key: tuple | None = None  # the chosen result, as compared
    rules: tuple[str, ...] = ()  # the correction rules that made the chosen SQL
    notes: tuple[str, ...] = ()  # what they did, in words, each once
    failures: tuple[str, ...] = ()  # rules that raised and were skipped


def remembered(run: Callable[[str], Outcome]) -> Callable[[str], Outcome]:
    """``run`` that executes each SQL text once: corrections of different candidates often coincide."""
    seen: dict[str, Outcome | SqlchatError] = {}

    def remembered_run(sql: str) -> Outcome:
        if sql not in seen:
            try:
                seen[sql] = run(sql)
            except SqlchatError as error:
                seen[sql] = error
        if isinstance(seen[sql], SqlchatError):
            raise seen[sql]
        return seen[sql]
    return remembered_run


_Ran = tuple[str, str | None, Outcome | None]  # a candidate, the SQL its choice ran (None: every form failed), its outcome
_Chosen = tuple[str, str, Outcome]


def choose(candidates: Sequence[str], votes: Mapping[str, int], tries: Tries, run: Callable[[str], Outcome],
           informative: Callable[[Outcome], bool] | None, compare: int) -> Choice:
    """The candidate-selection loop: :func:`choose_candidate` over each candidate's ``tries.of`` forms, the first
    informative candidate chosen, the candidates after it run until ``compare`` were (each result compared, weighted
    by its ``votes``: how many generations wrote it); then each candidate's ``tries.reading`` (a reinterpretation),
    chosen instead when it :func:`outranks` the chosen one; else the first empty result; else the first error."""
    found: list[Found] = []
    chosen: _Chosen | None = None
    first_empty: _Chosen | None = None
    first_error: Exception | None = None
    ran: list[_Ran] = []
    for candidate in candidates:
        if not candidate or not candidate.strip():
            continue
        if chosen is not None and len(found) >= max(1, compare):
            break
        sql, outcome, error = choose_candidate(tries.of(candidate), run, informative)
        frame = outcome[1].frame if outcome is not None and outcome[1] is not None else None
        found.append(Found(sql, frame, votes=votes.get(candidate, 1)))
        ran.append((candidate, sql, outcome))
        if outcome is None:
            first_error = first_error or error
        elif chosen is None and (informative is None or informative(outcome)):
            chosen = (candidate, sql, outcome)
        elif first_empty is None:
            first_empty = (candidate, sql, outcome)
    chosen = _reinterpretation_or(chosen, ran, tries, run, informative, found) or chosen
    chosen = chosen or first_empty
    if chosen is None:
        return Choice(error=first_error or SqlchatError(NO_SQL_MESSAGE), found=tuple(found), failures=tries.failures)
    candidate, sql, outcome = chosen
    form = tries.made(sql)
    return Choice(sql=sql, outcome=outcome, found=tuple(found), chosen_from=candidate, chosen_key=_key(outcome),
                  rules=form.fired if form is not None else (),
                  notes=tuple(dict.fromkeys(form.notes)) if form is not None else (), failures=tries.failures)


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


def _reinterpretation_or(chosen: _Chosen | None, ran: Sequence[_Ran], tries: Tries, run: Callable[[str], Outcome],
                         informative: Callable[[Outcome], bool] | None, found: Sequence[Found]) -> _Chosen | None:
    """The best reinterpretation of the candidates that ran, when it :func:`outranks` the ``chosen`` one; else None."""
    written_index = next((i for i, entry in enumerate(ran) if chosen is not None and entry[0] == chosen[0]), -1)
    written_key = _key(chosen[2]) if chosen is not None else None
    written_ok = chosen is not None and (informative is None or informative(chosen[2]))
    written_support = support(written_key, found, written_index)
    best: tuple[int, _Chosen] | None = None
    for index, (candidate, sql, outcome) in enumerate(ran):
        empty = outcome is None or (informative is not None and not informative(outcome))
        try:
            reading = tries.reading(sql if sql is not None else candidate, empty)
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
