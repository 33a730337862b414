"""What a question went through: each stage's input and output in short, its time, and the rules that fired.

The pipeline records the steps as it goes (:class:`Tracer`, mutable and private to one question); the answer keeps
them as a frozen tuple of :class:`Step`. ``Answer.timings`` is read from the steps (:func:`timings_of`), so the
timings a user sees and the trace cannot disagree.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

SUMMARY_CHARS = 200  # a step's input and output are summaries, not copies: the answer holds the whole of each


def summary(text: object) -> str:
    """``text`` on one line, cut to :data:`SUMMARY_CHARS`."""
    line = " ".join(str(text).split())
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1] + "…"


@dataclass(frozen=True)
class Step:
    """One stage of answering a question: what it was given and what it made (in short), and how long it took.

    ``timings`` splits the step's seconds by the keys of ``Answer.timings`` ("schema", "generate", "check",
    "execute", ...): a stage that runs SQL counts its checks and executions there, the rest of its time nowhere.
    """

    stage: str  # "schema", "mentions", "tables", "prompt", "generate", "choose", "readable", "retry", ...
    input: str = ""
    output: str = ""
    seconds: float = 0.0
    rules: tuple[str, ...] = ()  # the correction rules that made what it chose (sqlchat.corrections.registry)
    timings: tuple[tuple[str, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "input": self.input, "output": self.output, "seconds": round(self.seconds, 4),
                "rules": list(self.rules), "timings": {key: round(seconds, 4) for key, seconds in self.timings}}


def timings_of(steps: Iterable[Step]) -> dict[str, float]:
    """Seconds by timing key over ``steps``, in the order each key first took time."""
    found: dict[str, float] = {}
    for step in steps:
        for key, seconds in step.timings:
            found[key] = found.get(key, 0.0) + seconds
    return found


def seconds_by_stage(steps: Iterable[Step]) -> dict[str, float]:
    """Seconds by stage over ``steps``, a stage taken twice counted once with both times: where a question's time
    went ("generate", "retry", "doubt check", ...)."""
    found: dict[str, float] = {}
    for step in steps:
        found[step.stage] = round(found.get(step.stage, 0.0) + step.seconds, 4)
    return found


@dataclass
class Open:
    """A step being taken: the stage fills in what it made, and the rules that fired."""

    stage: str
    input: str = ""
    output: str = ""
    rules: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


class Tracer:
    """The steps of one question, recorded as they happen. Steps do not nest, so their times never overlap."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self._open: Open | None = None

    @contextmanager
    def step(self, stage: str, input: object = "", timing: str | None = None) -> Iterator[Open]:
        """Time one stage; its whole time counts under ``timing`` in the answer's timings, when given. The step is
        recorded even when the stage raises (its time was spent)."""
        if self._open is not None:
            raise RuntimeError(f"step {stage!r} inside step {self._open.stage!r}: steps do not nest")
        self._open = Open(stage, input=summary(input))
        started = time.perf_counter()
        try:
            yield self._open
        finally:
            seconds = time.perf_counter() - started
            taken, self._open = self._open, None
            if timing is not None:
                taken.timings[timing] = taken.timings.get(timing, 0.0) + seconds
            self.steps.append(Step(taken.stage, taken.input, summary(taken.output), seconds, tuple(taken.rules),
                                   tuple(taken.timings.items())))

    def said(self, stage: str, output: object) -> None:
        """Give the last ``stage`` step its output, when only its caller can say it; nothing when it did not run."""
        for index in range(len(self.steps) - 1, -1, -1):
            if self.steps[index].stage == stage:
                self.steps[index] = replace(self.steps[index], output=summary(output))
                return

    @contextmanager
    def timed(self, key: str) -> Iterator[None]:
        """Count the time of part of the open step (a check, an execution) under ``key``; outside a step, the part
        is a step of its own."""
        if self._open is None:
            with self.step(key, timing=key):
                yield
            return
        taken = self._open
        started = time.perf_counter()
        try:
            yield
        finally:
            taken.timings[key] = taken.timings.get(key, 0.0) + time.perf_counter() - started
