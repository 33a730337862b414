"""The answer to one question: an immutable result and the trace of how it was made.

The engine (:mod:`sqlchat.pipeline`) builds it once a question is done; the app, the CLI, the MCP server and the
evaluator all read this same object. Being frozen, no reader can change what another sees: an edit (the user's SQL,
a decline) is a new answer (``dataclasses.replace``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sqlchat.answers.trace import Step, timings_of
from sqlchat.answers.trust import Alternative, Evidence, Signals


@dataclass(frozen=True)
class Answer:
    """Everything a user (or the evaluator) needs to see about one question."""

    question: str | None
    sql: str | None = None
    frame: pd.DataFrame | None = None
    context: str = ""
    tables: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
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
    executed: tuple[str, ...] = ()  # every statement sent to the database, for the audit log
    explanation: str | None = None  # what the chosen SQL does, in plain English (sqlchat.answers.explain)
    confidence: str | None = None  # "high" | "medium" | "low" (sqlchat.answers.trust); None when failed or declined
    alternatives: tuple[Alternative, ...] = ()  # distinct other results among the candidates
    signals: Signals | None = None  # what the confidence (or the decline) was decided from
    evidence: Evidence = field(default_factory=Evidence, repr=False)
    follows: str | None = None  # a follow-up's previous turn's SQL: conditions it dropped are carried over
    mentions: tuple[str, ...] = ()  # where the question's values are stored, as the prompt says it
    rules: tuple[str, ...] = ()  # the correction rules that made the chosen SQL (corrections.registry)
    rule_notes: tuple[str, ...] = ()  # what they did, in words ("dropped the join to Invoice ...")
    rule_failures: tuple[str, ...] = ()  # rules that raised and were skipped: name and one line
    trace: tuple[Step, ...] = ()  # the stages it went through, in order (sqlchat.answers.trace)
    seconds: float | None = None  # the whole question's time ("total" in timings); None when nothing was run
    # the rows are shown while the doubt check runs: its confidence and other answers follow (pipeline.answers)
    checking: bool = False
    # the time until the user saw these rows (or the sentence saying why there are none): less than ``seconds`` when
    # they were shown while the doubt check ran ("rows shown" in timings); None when nothing was run
    shown_seconds: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def timings(self) -> dict[str, float]:
        """Seconds by step ("schema", "mentions", "generate", "check", "execute"; "rows shown" when the rows came
        before the doubt check ended; then "total"), read from the trace: a new dict each time, so changing it
        changes no answer."""
        found = timings_of(self.trace)
        if self.shown_seconds is not None and self.seconds is not None and self.shown_seconds < self.seconds:
            found["rows shown"] = self.shown_seconds
        if self.seconds is not None:
            found["total"] = self.seconds
        return found

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
            "tables": list(self.tables),
            "mentions": list(self.mentions),
            "candidates": list(self.candidates),
            "timings": {step: round(seconds, 4) for step, seconds in self.timings.items()},
            "error": self.error,
            "error_kind": self.error_kind,
            "chosen": self.chosen,
            "repaired": self.repaired,
            "rules": list(self.rules),
            "rule_notes": list(self.rule_notes),
            "rule_failures": list(self.rule_failures),
            "columns_added": self.columns_added,
            "retried": self.retried,
            "explanation": self.explanation,
            "confidence": self.confidence,
            "alternatives": [alternative.to_json() for alternative in self.alternatives],
            "signals": self.signals.to_json() if self.signals is not None else None,
            "trace": [step.to_json() for step in self.trace],
        }
