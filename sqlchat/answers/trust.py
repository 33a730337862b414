"""How sure an answer is, and whether to decline it: a pure rule over signals the engine already has.

The signals (:class:`Signals`) are gathered while answering: whether the result says something,
whether the first candidates found nothing (a retry) or the SQL had to be corrected, how many of the
compared candidates returned the *same result* as the chosen one (not the same text), the model's
mean log-probability per token, the question words the schema has nothing for, and how many of the
model's answers declined. :func:`decide` turns them into ``high | medium | low`` and, when the data
cannot answer, a sentence saying what is missing. It reads nothing else, so a stored run's signals
can be re-scored under other :class:`~sqlchat.config.TrustConfig` thresholds without the model
(``benchmarks/bench_trust.py --signals``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from sqlchat.answers.declining import decline_sentence
from sqlchat.config import TrustConfig
from sqlchat.execution import is_informative
from sqlchat.models.backends import Generation

HIGH, MEDIUM, LOW = "high", "medium", "low"
LEVELS = (HIGH, MEDIUM, LOW)


@dataclass(frozen=True)
class Signals:
    """What the engine knows about one answer's trustworthiness."""

    informative: bool = False  # the result says something (rows, not only 0/NULL)
    retried: bool = False  # the first candidates gave nothing informative, so more were asked for
    checked: bool = False  # the model was unsure of its one answer, so sampled candidates were run beside it
    repaired: bool = False  # the chosen SQL is a corrected form of the model's
    compared: int = 0  # candidates run and compared (failures count as disagreeing)
    agreeing: int = 0  # of those, how many returned the chosen result
    logprob: float | None = None  # the chosen candidate's mean log-probability per token; None: unknown
    least_logprob: float | None = None  # its least likely token's log-probability; None: unknown
    invented: tuple[str, ...] = ()  # names the model's first answer read that the schema lacks, in every repaired form
    declines: int = 0  # of the model's first answers, how many said it cannot answer
    generated: int = 0  # the model's first answers
    model_reason: str | None = None  # what the model said is missing
    ok: bool = True  # an answer came back at all

    @property
    def agreement(self) -> float | None:
        return self.agreeing / self.compared if self.compared >= 2 else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "invented": list(self.invented)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Signals":
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["invented"] = tuple(known.get("invented") or ())
        return cls(**known)


@dataclass(frozen=True)
class Verdict:
    confidence: str | None  # None when declined or failed
    declined: str | None = None  # the sentence naming what is missing


def confidence(signals: Signals, config: TrustConfig) -> str:
    """``low`` on any sign of doubt, ``high`` only with evidence of certainty, ``medium`` between."""
    agreement = signals.agreement
    logprob = signals.logprob
    if not signals.ok or not signals.informative or signals.invented:
        return LOW
    if signals.retried and config.retry_is_low:
        return LOW
    if agreement is not None and agreement <= config.low_agreement:
        return LOW
    if logprob is not None and logprob < config.low_logprob:
        return LOW
    agrees = agreement is not None and agreement >= config.high_agreement
    sure = logprob is not None and logprob >= config.high_logprob
    if signals.repaired or (agreement is not None and not agrees) or (logprob is not None and not sure):
        return MEDIUM
    if config.high_needs_evidence and not (agrees or sure):
        return MEDIUM
    return HIGH


def model_declines(declines: int, generated: int, config: TrustConfig) -> bool:
    """Whether enough of the model's first answers said the question cannot be answered."""
    return generated > 0 and declines / generated >= config.model_decline_share


def reaches_beyond(signals: Signals, config: TrustConfig) -> bool:
    """Whether the model's reach for names the schema lacks declines the question: its first answer read them in every
    repaired form (at once under ``decline_invented = "first"``; under ``"failed"`` only when no candidate ran either)."""
    if not signals.invented or config.decline_invented == "never":
        return False
    return config.decline_invented == "first" or not signals.ok


def decide(signals: Signals, config: TrustConfig) -> Verdict:
    """The confidence, or a decline when the model says the tables cannot answer, or reached for what they lack."""
    level = confidence(signals, config) if signals.ok else None
    if config.decline and (model_declines(signals.declines, signals.generated, config) or reaches_beyond(signals, config)):
        return Verdict(None, decline_sentence(signals.invented, signals.model_reason))
    return Verdict(level)


# --------------------------------------------------------------------------- comparing results


def _normal(value: Any) -> str:
    """One value as comparable text: numbers alike whatever their type, floats to 6 digits, NaN as NULL."""
    if value is None or (isinstance(value, float) and value != value):
        return "NULL"
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, bool):
        value = int(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return repr(round(number, 6) + 0.0)


def result_key(frame: pd.DataFrame | None) -> tuple | None:
    """A result as a bag of rows, each a bag of values: two candidates that return the same data in
    another row or column order, under other column names, agree."""
    if frame is None:
        return None
    rows = (tuple(sorted(_normal(v) for v in row)) for row in frame.itertuples(index=False, name=None))
    return tuple(sorted(rows))


@dataclass(frozen=True)
class Alternative:
    """Another answer found among the candidates: its SQL, what it does, and its first rows."""

    sql: str
    explanation: str | None
    preview: pd.DataFrame
    row_count: int
    candidates: int = 1  # how many compared candidates returned it

    def to_json(self) -> dict[str, Any]:
        rows = json.loads(self.preview.to_json(orient="values", date_format="iso", default_handler=str))
        return {"sql": self.sql, "explanation": self.explanation, "columns": [str(c) for c in self.preview.columns],
                "rows": rows, "row_count": self.row_count, "candidates": self.candidates}


@dataclass(frozen=True)
class Found:
    """One compared candidate's outcome: the SQL that ran for it and its result, or None when it failed."""

    sql: str | None
    frame: pd.DataFrame | None
    key: tuple | None = field(default=None)
    votes: int = 1  # how many generations wrote the candidate it came from

    def __post_init__(self) -> None:
        if self.key is None and self.frame is not None:
            object.__setattr__(self, "key", result_key(self.frame))  # frozen: set once, as it is made


@dataclass(frozen=True)
class Evidence:
    """What answering gathered for :class:`Signals` (kept on the answer, not shown)."""

    generations: Mapping[str, Generation] = field(default_factory=dict)  # candidate -> the generation that wrote it first
    votes: Mapping[str, int] = field(default_factory=dict)  # candidate -> how many generations wrote it (samples repeat)
    declines: int = 0  # first-round generations that said the question cannot be answered
    generated: int = 0  # first-round generations
    model_reason: str | None = None  # the first reason the model gave
    found: tuple[Found, ...] = ()  # the compared candidates' outcomes, in order
    invented: tuple[str, ...] = ()  # names the first (greedy) answer read that the schema lacks, in every repaired form
    chosen_from: str | None = None  # the candidate the chosen SQL came from
    chosen_key: tuple | None = None  # the chosen result, as compared


def alternatives(evidence: Evidence, describe: Callable[[str], str | None], config: TrustConfig) -> list[Alternative]:
    """The distinct informative results other than the chosen one, the most often found first, each
    with ``describe(sql)`` (its explanation) and its first rows."""
    groups: dict[tuple, list[Found]] = {}
    for found in evidence.found:
        if (found.key is not None and found.key != evidence.chosen_key and found.sql
                and is_informative(found.frame.itertuples(index=False, name=None))):
            groups.setdefault(found.key, []).append(found)
    def votes(group: list[Found]) -> int:
        return sum(found.votes for found in group)

    ranked = sorted(groups.values(), key=votes, reverse=True)[: config.max_alternatives]
    return [Alternative(sql=group[0].sql, explanation=describe(group[0].sql), preview=group[0].frame.head(config.preview_rows),
                        row_count=len(group[0].frame), candidates=votes(group)) for group in ranked]

