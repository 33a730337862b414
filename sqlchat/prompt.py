"""The one prompt template shared by training and inference.

The format is the seed article's: a SYSTEM line, then ``USER:`` with the
``CREATE TABLE`` context and the question, then ``ASSISTANT:``. ``train/``
imports :func:`build_prompt` and :func:`build_training_text` from here, so the
text a model is trained on is byte-for-byte the text the engine sends it.
"""

from __future__ import annotations

SYSTEM_LINE = "SYSTEM: Write one SQL query that answers the question using these tables."
ANSWER_END = ";"  # generation stops at the end of the statement


def build_prompt(context: str, question: str, examples: list[tuple[str, str]] | None = None) -> str:
    """Return the prompt for ``question`` over the ``CREATE TABLE`` ``context``.

    ``examples`` are optional verified (question, sql) pairs for the same schema,
    shown before the question as few-shot guidance.
    """
    shots = "".join(f"Q: {q.strip()}\nSQL: {sql.strip()}\n" for q, sql in (examples or []))
    return f"{SYSTEM_LINE}\nUSER: {context.strip()}\n{shots}{question.strip()}\nASSISTANT: "


def build_training_text(
    context: str, question: str, answer: str, examples: list[tuple[str, str]] | None = None
) -> tuple[str, str]:
    """Split a training row into (prompt, completion); loss is usually on the completion only.

    ``examples`` are laid out exactly as the engine lays out users' verified pairs, so a model
    trained on some rows with examples learns to use them at inference.
    """
    return build_prompt(context, question, examples=examples), answer.strip().rstrip(";") + ANSWER_END


def extract_sql(completion: str) -> str:
    """Cut a raw model completion down to the first SQL statement it contains."""
    text = completion.strip()
    for stop in ("\nUSER:", "\nSYSTEM:", "\nASSISTANT:", "\n\n"):
        text = text.split(stop, 1)[0]
    if text.startswith("```"):
        text = text.strip("`")
        text = text[3:] if text.lower().startswith("sql") else text
    statement = text.split(ANSWER_END, 1)[0]
    return statement.strip()
