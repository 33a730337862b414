"""The one prompt shared by training and inference, in both of its renderings.

The content is the seed article's: a system line, the ``CREATE TABLE`` context (with any
verified examples) and the question. :class:`Prompt` holds that content; how it reaches a
model depends on the model:

- ``chat``: an instruct model (Qwen2.5-Coder) gets it inside its own chat template (system and
  user messages), and the answer is started with a ```` ```sql ```` fence so the model writes SQL
  at once. The OpenAI chat API gets the same messages.
- ``seed``: a model trained on the seed format (SmolLM2-135M with the project's first adapter)
  gets ``SYSTEM: … USER: … ASSISTANT:`` as plain text.

A follow-up in a conversation carries the earlier turns (:class:`Turn`: question, the SQL that
answered it, whether it failed) between the examples and the question, so the model can rewrite
the previous query; measured against rewriting the follow-up into a standalone question first in
docs/benchmarks.md ("Conversations").

``train/`` imports :func:`build_training_text` from here, so the text a model is trained on is
byte-for-byte the text the engine sends it. The system text and the schema come first and the
question last, so consecutive questions on one database share a long prefix that llama.cpp
answers from its cache.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

SYSTEM_TEXT = "Write one SQL query that answers the question using these tables."
SYSTEM_LINE = f"SYSTEM: {SYSTEM_TEXT}"  # the seed rendering's first line
ANSWER_END = ";"  # generation stops at the end of the statement
ANSWER_PREFIX = "```sql\n"  # the chat rendering starts the answer with this fence
FENCE = "```"
STYLES = ("chat", "seed")
STOP_STRINGS = (ANSWER_END, FENCE)

# Qwen2.5's own template (ChatML), used when a model or a server does not hand us its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CHATML_END = "<|im_end|>"


EARLIER_HEADER = "Earlier in this conversation (the follow-up question may refer to these):"
FOLLOW_UP_LABEL = "Follow-up question:"
FAILED_MARK = "(this SQL failed)"
NO_SQL = "(no SQL: this question was not answered)"
ERROR_CHARS = 160  # of a failed turn's error sentence
MENTIONS_LABEL = "Stored values the question mentions:"


@dataclass(frozen=True)
class Turn:
    """An earlier question of a conversation, the SQL that answered it (the user's, if they edited it) and
    whether it succeeded: a failed turn is shown marked, with why when known (``error``, one sentence), so
    the model does not copy it as if it were right."""

    question: str
    sql: str | None
    ok: bool = True
    error: str | None = None
    tables: tuple[str, ...] = ()  # the tables its prompt showed, in order: the next turn shows them first (cache)

    def text(self) -> str:
        sql = (self.sql or "").strip().rstrip(";").strip()
        answer = f"SQL: {sql}{ANSWER_END}" if sql else f"SQL: {NO_SQL}"
        if sql and not self.ok:
            reason = " ".join((self.error or "").split())[:ERROR_CHARS].rstrip(".")
            answer = f"SQL {FAILED_MARK[:-1]}: {reason}): {sql}{ANSWER_END}" if reason else f"SQL {FAILED_MARK}: {sql}{ANSWER_END}"
        return f"Q: {self.question.strip()}\n{answer}\n"


@dataclass(frozen=True)
class Prompt:
    """What the model is asked: the schema context, the question, optional verified examples and,
    for a follow-up, the conversation's earlier turns (oldest first)."""

    context: str
    question: str
    examples: tuple[tuple[str, str], ...] = field(default=())
    earlier: tuple[Turn, ...] = field(default=())
    mentions: tuple[str, ...] = field(default=())

    @property
    def user_text(self) -> str:
        """The user's turn: context first (the cacheable part), then examples, then earlier turns, then where the
        question's values are stored (``sqlchat.schema.mentions``: conditions the model can copy), then the question."""
        shots = "".join(f"Q: {q.strip()}\nSQL: {sql.strip()}\n" for q, sql in self.examples)
        found = f"{MENTIONS_LABEL} {'; '.join(self.mentions)}\n" if self.mentions else ""
        if not self.earlier:
            return f"{self.context.strip()}\n{shots}{found}{self.question.strip()}"
        turns = "".join(turn.text() for turn in self.earlier)
        return f"{self.context.strip()}\n{shots}{EARLIER_HEADER}\n{turns}{found}{FOLLOW_UP_LABEL} {self.question.strip()}"

    def messages(self) -> list[dict[str, str]]:
        """The content as chat messages (the OpenAI chat API and chat templates take these)."""
        return [{"role": "system", "content": SYSTEM_TEXT}, {"role": "user", "content": self.user_text}]


def build_prompt(context: str, question: str, examples: Sequence[tuple[str, str]] | None = None,
                 earlier: Sequence[Turn] | None = None, mentions: Sequence[str] | None = None) -> Prompt:
    """The prompt for ``question`` over the ``CREATE TABLE`` ``context``.

    ``examples`` are verified (question, sql) pairs for the same schema, shown before the
    question as few-shot guidance; ``earlier`` are the conversation's previous turns, oldest first;
    ``mentions`` say where a name the question mentions is stored (``Employee.FirstName = 'Jane' AND ...``).
    """
    return Prompt(context=context, question=question, examples=tuple((q, s) for q, s in (examples or [])),
                  earlier=tuple(earlier or ()), mentions=tuple(mentions or ()))


def render(prompt: Prompt, style: str = "chat", chat_template: str | None = None, bos_token: str = "") -> str:
    """The text a completion model is given: the chat rendering (with the answer started) or the seed one."""
    if style == "seed":
        return f"{SYSTEM_LINE}\nUSER: {prompt.user_text}\nASSISTANT: "
    if style != "chat":
        raise ValueError(f"unknown prompt style {style!r}: use one of {', '.join(STYLES)}")
    return apply_chat_template(prompt.messages(), chat_template or CHATML_TEMPLATE, bos_token) + ANSWER_PREFIX


def render_start(prompt: Prompt, style: str = "chat", chat_template: str | None = None, bos_token: str = "") -> str:
    """The start of ``prompt``'s rendering, up to its question: what a question asked after the same schema,
    examples and earlier turns begins with, so a backend can read it before the question is known
    (``sqlchat.pipeline.read_ahead``). A question whose values the prompt tells about (the mentions line) parts
    from it just before its label."""
    marker = "\x00"  # never in a question: what precedes it is the shared start
    text = render(replace(prompt, question=marker, mentions=()), style, chat_template, bos_token)
    return text[: text.rfind(marker)].rstrip(" ")  # the space joins the question's first word as one token


def apply_chat_template(messages: list[dict[str, str]], template: str, bos_token: str = "") -> str:
    """Render ``messages`` with a model's Jinja chat template, as transformers and llama.cpp do."""
    return _compiled(template).render(messages=messages, add_generation_prompt=True, bos_token=bos_token,
                                      eos_token="", tools=None)


@lru_cache(maxsize=8)
def _compiled(template: str):
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    environment.globals["raise_exception"] = raise_exception
    return environment.from_string(template)


def build_training_text(
    context: str, question: str, answer: str, examples: Sequence[tuple[str, str]] | None = None,
    style: str = "seed", chat_template: str | None = None, end_of_turn: str = CHATML_END,
    earlier: Sequence[Turn] | None = None, mentions: Sequence[str] | None = None,
) -> tuple[str, str]:
    """Split a training row into (prompt, completion); loss is usually on the completion only.

    The prompt is exactly what :func:`render` gives the engine's model. ``examples`` are laid out
    as the engine lays out users' verified pairs, so a model trained on some rows with examples
    learns to use them; ``earlier`` makes a conversation row (a follow-up and the turns before it),
    laid out as the engine lays out a conversation. In the chat rendering the completion closes
    the fence and the turn.
    """
    prompt = render(build_prompt(context, question, examples, earlier, mentions), style, chat_template)
    statement = answer.strip().rstrip(";") + ANSWER_END
    if style == "chat":
        return prompt, f"{statement}\n{FENCE}{end_of_turn}"
    return prompt, statement


def extract_sql(completion: str) -> str:
    """Cut a raw model completion down to the first SQL statement it contains.

    Handles the engine's own renderings (the fence already opened, or none) and chat answers
    that wrap the query in prose and a fenced block.
    """
    text = completion.strip()
    if FENCE in text:
        before, after = text.split(FENCE, 1)
        if not _looks_like_sql(before):  # prose, or nothing, before a fenced block: take the block
            after = re.sub(r"^[A-Za-z]*\n", "", after, count=1)  # the block's language tag
            before = after.split(FENCE, 1)[0]
        text = before.strip()
    for stop in ("\nUSER:", "\nSYSTEM:", "\nASSISTANT:", "\n\n"):
        text = text.split(stop, 1)[0]
    statement = text.split(ANSWER_END, 1)[0]
    return statement.strip()


def _looks_like_sql(text: str) -> bool:
    return re.match(r"\s*(\(|select\b|with\b|values\b)", text, re.IGNORECASE) is not None
