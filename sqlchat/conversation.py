"""A conversation: the earlier turns a follow-up question builds on.

People ask in sequences ("How many invoices went to Germany?" → "And to France?" → "What was
their total?"). A :class:`Conversation` keeps each turn's question, the SQL that answered it (the
model's chosen SQL, or the user's when they edited it) and whether it succeeded;
:func:`sqlchat.pipeline.ask` takes them as ``earlier`` and shows the last ``ConversationConfig.turns``
(:func:`recent`) to the model (``sqlchat.prompt``), and chooses the follow-up's tables from them too
(:func:`selection_text`), since "And to France?" names no table. The CLI's ``sqlchat chat``, the
app and the evaluator all keep their turns here, so they give the model the same context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .prompt import Turn
from .schema.context import estimate_tokens, render_context
from .schema.model import Schema, Table

NEW_CONVERSATION = "/new"  # a line of `sqlchat chat` that starts over


class Answered(Protocol):
    """What a turn keeps of an answer (:class:`sqlchat.pipeline.Answer` has it): the conversation comes before the
    pipeline, which reads its turns, so it names only these fields."""

    @property
    def sql(self) -> str | None: ...
    @property
    def chosen(self) -> str | None: ...
    @property
    def ok(self) -> bool: ...
    @property
    def error(self) -> str | None: ...
    @property
    def tables(self) -> Sequence[str]: ...


def turn_of(question: str, answer: Answered) -> Turn:
    """The turn ``answer`` makes: its chosen SQL (as written, before the added LIMIT), else the SQL that failed
    and why."""
    return Turn(question=question, sql=answer.chosen or answer.sql, ok=answer.ok, error=answer.error,
                tables=tuple(answer.tables))


def recent(turns: Sequence[Turn], limit: int) -> tuple[Turn, ...]:
    """The turns a follow-up is shown, oldest first: from the last one that was answered on, at most ``limit``
    (none when ``limit`` is 0: each question stands alone).

    Each answered turn's SQL is a complete query that already carries the conversation's scope so far ("And to
    France?" answered with ``... WHERE BillingCountry = 'France'``), so the turns before it only mislead: shown
    Germany then France, the 1.5B summed both for "What was their total?" (docs/benchmarks.md, Conversations).
    Failed turns after it are kept: they say what the user asked since.
    """
    window = list(turns[-limit:]) if limit > 0 else []
    answered = [index for index, turn in enumerate(window) if turn.ok and turn.sql]
    return tuple(window[answered[-1]:] if answered else window)


def selection_text(question: str, earlier: Sequence[Turn]) -> str:
    """What the follow-up's tables are chosen by: the earlier questions and their SQL (which names the
    tables the conversation is about), then the question itself."""
    parts = [part for turn in earlier for part in (turn.question, turn.sql or "")]
    return " ".join([*parts, question]).strip()


def tables_after(earlier: Sequence[Turn], selected: Sequence[Table], schema: Schema, token_budget: int) -> list[Table]:
    """A follow-up's tables: the last turn's, in the order its prompt showed them, then the ones ``selected`` for the
    follow-up that it lacked.

    The prompt then begins exactly as the last turn's did (system text, the same ``CREATE TABLE`` lines), which
    llama.cpp still holds in its cache, so only the earlier turns' lines and the question are read anew; selected
    afresh in schema order, a table more or less in the middle made it read the whole schema again
    (docs/benchmarks.md, "Conversations"). ``selected`` alone when the last turn showed none (the user's own SQL)
    or the union would not fit ``token_budget``.
    """
    shown = [schema.get(name) for name in (earlier[-1].tables if earlier else ())]
    kept = [table for table in shown if table is not None]
    if not kept:
        return list(selected)
    names = {table.name for table in kept}
    tables = kept + [table for table in selected if table.name not in names]
    return tables if estimate_tokens(render_context(tables)) <= token_budget else list(selected)


@dataclass
class Conversation:
    """The turns so far, oldest first; a new conversation (``/new``, the app's button) starts empty."""

    turns: list[Turn] = field(default_factory=list)

    def add(self, question: str, answer: Answered) -> Turn:
        """Record the answer to ``question`` as the latest turn."""
        turn = turn_of(question, answer)
        self.turns.append(turn)
        return turn

    def edited(self, index: int, answer: Answered) -> Turn:
        """The user ran their edit of turn ``index``'s SQL (``answer`` is :func:`sqlchat.pipeline.run_sql`'s): it
        becomes the latest turn, under that turn's question, so the next question follows what the user ran, not
        what the model wrote, even when they corrected an older answer."""
        turn = turn_of(self.turns[index].question, answer)
        self.turns.append(turn)
        return turn

    def reset(self) -> None:
        """Start over: the next question stands alone."""
        self.turns.clear()

    def __len__(self) -> int:
        return len(self.turns)
