"""How long first questions and follow-ups take, from stored runs of the conversations set, side by side.

A follow-up usually writes longer SQL than the question it follows (it repeats that query and changes a part),
so the plain p50s mix two things: what asking in a conversation costs, and what the answer's own length costs.
Besides the p50s this prints each level's fit ``latency ≈ fixed + per-token × generated tokens`` over the answers
the model wrote once (no retry, no doubt check), so the two can be told apart; with ``--baseline``, the median
change per turn whose SQL both runs chose alike (the same work, timed twice).

    .venv/bin/sqlchat eval --business tests/data/business/conversations.jsonl --json > runs/conv.json
    .venv/bin/python benchmarks/conversation_latency.py runs/conv.json --baseline runs/conv-before.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from sqlchat.evaluation.runner import FIRST_TURN, FOLLOW_UP, QuestionRecord

LEVELS = (FIRST_TURN, FOLLOW_UP)


def load_records(path: Path) -> list[QuestionRecord]:
    """The turn records of a stored conversations run; ValueError with a sentence for anything else."""
    if not path.is_file():
        raise ValueError(f"{path} does not exist")
    try:
        records = [QuestionRecord.from_json(item) for item in json.loads(path.read_text(encoding="utf-8"))["records"]]
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{path} is not a stored run: write one with `sqlchat eval --business ... --json > FILE`") from None
    if not any(record.level in LEVELS for record in records):
        raise ValueError(f"{path} holds no conversation turns: it was not run on a conversations file")
    return records


def fixed_and_per_token(records: list[QuestionRecord]) -> tuple[float, float] | None:
    """Least-squares ``latency ≈ fixed + per_token × tokens`` over answers written in one go; None below 3 of them."""
    once = [record for record in records if len(record.candidates) == 1 and record.tokens > 0]
    if len(once) < 3 or len({record.tokens for record in once}) < 2:
        return None
    mean_tokens = statistics.fmean(record.tokens for record in once)
    mean_latency = statistics.fmean(record.latency_s for record in once)
    spread = sum((record.tokens - mean_tokens) ** 2 for record in once)
    per_token = sum((record.tokens - mean_tokens) * (record.latency_s - mean_latency) for record in once) / spread
    return mean_latency - per_token * mean_tokens, per_token


def level_line(records: list[QuestionRecord], level: str) -> str:
    turns = [record for record in records if record.level == level]
    if not turns:
        return f"  {level}: none"
    right = sum(bool(record.answer) for record in turns)
    line = (f"  {level} ({len(turns)}): right {right} ({100 * right / len(turns):.1f} %), "
            f"latency p50 {statistics.median(r.latency_s for r in turns):.2f} s, "
            f"generated tokens p50 {statistics.median(r.tokens for r in turns):g}")
    fit = fixed_and_per_token(turns)
    if fit is not None:
        fixed, per_token = fit
        line += f"; ≈ {fixed:.2f} s + {1000 * per_token:.0f} ms/token (at 30 tokens {fixed + 30 * per_token:.2f} s)"
    return line


def paired_lines(records: list[QuestionRecord], baseline: list[QuestionRecord]) -> list[str]:
    """Per level: the median latency change of the turns both runs answered with the same SQL and candidates."""
    before = {record.id: record for record in baseline}
    lines = []
    for level in LEVELS:
        alike = [(record, before[record.id]) for record in records if record.level == level and record.id in before
                 and record.predicted == before[record.id].predicted
                 and len(record.candidates) == len(before[record.id].candidates)]
        if alike:
            change = statistics.median(now.latency_s - then.latency_s for now, then in alike)
            lines.append(f"  {level}: {len(alike)} turns answered alike, median change {change:+.2f} s")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="stored runs (sqlchat eval --business CONVERSATIONS --json)")
    parser.add_argument("--baseline", type=Path, help="a stored run to compare each one with, turn by turn")
    args = parser.parse_args(argv)
    try:
        baseline = load_records(args.baseline) if args.baseline else None
        runs = [(path, load_records(path)) for path in args.runs]
    except ValueError as error:  # a sentence and exit 2, no traceback
        parser.error(str(error))
    for path, records in runs:
        ahead = [record.read_ahead_s for record in records if record.read_ahead_s > 0]
        print(path.name + (f" (read ahead after an answer: p50 {statistics.median(ahead):.2f} s)" if ahead else ""))
        for level in LEVELS:
            print(level_line(records, level))
        if baseline is not None:
            print(f"  against {args.baseline.name}:")
            print("\n".join(paired_lines(records, baseline)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
