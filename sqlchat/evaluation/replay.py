"""Score a stored run's generations again, without the model.

Generation is nearly all of an evaluation's time (25 minutes for Spider dev on two CPU cores);
choosing among candidates, repairing and running them takes seconds. ``sqlchat eval --json``
keeps every question's candidates, and :class:`ReplayBackend` hands them back in place of the
model, so the same generations can be scored under other engine settings (execution-guided
choice, value linking) or with fewer candidates: a side-by-side comparison in which only the
setting differs. Latency and tokens/s of a replay measure the engine, not the model. A ``--checkpoint`` file
(``.jsonl``) replays too: a run scored in several sittings, scored again as one.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from pathlib import Path

from sqlchat.errors import ConfigError, GenerationFailed
from sqlchat.evaluation.checkpoint import Checkpoint
from sqlchat.models.backends import Generation
from sqlchat.prompt import Prompt


class ReplayBackend:
    """A :class:`~sqlchat.models.backends.Backend` that answers each question with a stored run's candidates.

    A question's first call gets the first ``n`` stored candidates (the best first). A later call for the same
    question (the engine's retry or doubt check) gets what the live backend gives: the greedy candidate again (its
    cached first answer) and ``n - 1`` of the stored candidates not served yet, or none. So a replay with fewer
    retry candidates scores what a live run with that setting would. :meth:`next_question` marks where one question
    ends, so a question asked twice in the file is served its two stored records in order.
    """

    def __init__(self, path: str | Path):
        path = Path(path)
        if path.suffix == ".jsonl":  # a run's --checkpoint file: its records, one scored row a line
            if not path.is_file():
                raise ConfigError(f"{path} is not a file: give the checkpoint a `sqlchat eval --checkpoint` run wrote.")
            report = {"backend": "checkpoint", "num_candidates": 1, "records": Checkpoint(path).all_records()}
            if not report["records"]:
                raise ConfigError(f"{path} holds no scored rows of a `sqlchat eval --checkpoint` run.")
        else:
            try:
                report = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise ConfigError(f"{path} is not the JSON of a `sqlchat eval --json` run.", detail=str(error)) from error
        try:
            records = report["records"]
        except (KeyError, TypeError) as error:
            raise ConfigError(f"{path} is not the JSON of a `sqlchat eval --json` run.", detail=str(error)) from error
        if records and "candidates" not in records[0]:
            raise ConfigError(f"{path} was written before runs kept their candidates; run the evaluation again.")
        self.name = f"replay of {path.name} ({report.get('backend', '?')}, {report.get('num_candidates', '?')} candidate(s))"
        self.stored_candidates = int(report.get("num_candidates") or 1)
        self._records: dict[str, deque[list[str]]] = defaultdict(deque)
        for record in records:
            self._records[_key(record["question"])].append(list(record.get("candidates") or []))
        self._current: tuple[str, list[str], list[str]] | None = None  # (question, first served, not served yet)

    def next_question(self) -> None:
        """The next call starts another question (its own stored record)."""
        self._current = None

    def generate(self, prompt: Prompt, n: int = 1) -> list[Generation]:
        key = _key(prompt.question)
        if self._current is None or self._current[0] != key:
            if not self._records.get(key):
                raise GenerationFailed("This question is not in the stored run.", detail=prompt.question[:200])
            stored = self._records[key].popleft()
            served, self._current = stored[:n], (key, stored[:1], stored[n:])
        else:  # a later round: the greedy answer again (the live backend's cached one) and n - 1 new candidates
            _, greedy, remaining = self._current
            new = max(0, n - len(greedy))
            served, self._current = greedy + remaining[:new], (key, greedy, remaining[new:])
        return [Generation(text=sql, sql=sql, tokens=0, seconds=0.0) for sql in served]


def _key(question: str) -> str:
    """A question as the prompt carries it (surrounding spaces do not matter)."""
    return question.strip()
