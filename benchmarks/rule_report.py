"""Per correction rule: how often it made the chosen answer, and how often that answer was right.

Replays a stored run (a ``sqlchat eval --json`` report or a ``--checkpoint`` file: the model's candidates, no
model needed) through the engine as the evaluator scores it, on Spider's databases, and counts, for each rule of
``sqlchat.corrections.registry``, the questions whose chosen SQL it helped make (``Answer.rules``) and how many
of those match the gold's rows (execution accuracy). The stored run's own score (made by the engine of its day)
is printed beside the replay's.

    python benchmarks/rule_report.py --spider ../shared/benchmarks/spider-dev \\
        --replay runs/checkpoints/spider-dev-qwen2.5-coder-1.5b-s11.jsonl [--limit N] [--json]

A live run's own records (``sqlchat eval --json``, which keeps each answer's rules) are counted as they are, with
answer accuracy as "right" (the held-out suite, scored as shipped):

    python benchmarks/rule_report.py --run runs/heldout-sqlite.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlchat.config import Settings  # noqa: E402
from sqlchat.corrections.registry import RULES  # noqa: E402
from sqlchat.evaluation.metrics import has_order_by, results_match  # noqa: E402
from sqlchat.evaluation.replay import ReplayBackend  # noqa: E402
from sqlchat.evaluation.runner import (MeteredBackend, SpiderDatabases, _gold_rows, as_scored,  # noqa: E402
                                       engine_only, frame_rows, load_spider)
from sqlchat.pipeline import ask  # noqa: E402


def stored_scores(path: Path) -> dict[str, bool]:
    """question -> the stored run's execution match (its engine's choice)."""
    if path.suffix == ".jsonl":
        records = [r for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
                   for r in json.loads(line).get("records", [])]
    else:
        records = json.loads(path.read_text(encoding="utf-8"))["records"]
    return {r["question"].strip(): bool(r.get("ex")) for r in records}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spider", type=Path)
    parser.add_argument("--replay", type=Path)
    parser.add_argument("--run", type=Path, help="a live `sqlchat eval --json` run: its records' rules, no replay")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.run is not None:
        return _print(from_run(args.run), args.json)
    if args.spider is None or args.replay is None:
        parser.error("give --spider and --replay, or --run")

    replay = ReplayBackend(args.replay)
    backend = MeteredBackend(replay)
    # a stored run holds the engine's candidates only (no doubt samples): replayed as the engine alone
    settings = engine_only(as_scored(Settings.from_env().with_model(num_candidates=replay.stored_candidates)))
    rows = load_spider(args.spider)[: args.limit]
    stored = stored_scores(args.replay)
    databases = SpiderDatabases(args.spider, settings)
    fired, right, failures = Counter(), Counter(), Counter()
    scored = correct = stored_correct = 0
    changed = {"now_right": 0, "now_wrong": 0}
    try:
        for index, row in enumerate(rows):
            gold = _gold_rows(databases.gold_connection(row.db_id), row.query, settings)
            if gold is None:
                continue
            backend.reset()
            try:
                answer = ask(row.question, databases.database(row.db_id), backend, settings)
            except Exception as error:  # noqa: BLE001 - a question not in the stored run
                print(f"skipped {row.question!r}: {error}", file=sys.stderr)
                continue
            ok = answer.ok and results_match(gold, frame_rows(answer.frame), has_order_by(row.query))
            before = stored.get(row.question.strip())
            scored += 1
            correct += ok
            stored_correct += bool(before)
            if before is not None and before != ok:
                changed["now_right" if ok else "now_wrong"] += 1
            for name in dict.fromkeys(answer.rules):
                fired[name] += 1
                right[name] += ok
            for failure in answer.rule_failures:
                failures[failure.split(":")[0]] += 1
            if (index + 1) % 100 == 0:
                print(f"... {index + 1} questions", file=sys.stderr)
    finally:
        databases.close()

    report = {
        "replay": str(args.replay), "questions": scored,
        "ex": round(correct / scored, 4) if scored else None,
        "stored_ex": round(stored_correct / scored, 4) if scored else None,
        "changed": changed, "rules": _rule_lines(fired, right, failures),
        "headline": f"{args.replay.name}: {scored} questions scored; EX {correct / max(scored, 1):.1%} now "
                    f"(stored run: {stored_correct / max(scored, 1):.1%}; {changed['now_right']} now right, "
                    f"{changed['now_wrong']} now wrong)",
    }
    return _print(report, args.json)


def from_run(path: Path) -> dict:
    """Per rule, from a live run's records: the answerable questions whose answer it helped make, and how many of
    those are right (answer accuracy)."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))["records"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SystemExit(f"{path} is not the JSON of a `sqlchat eval --json` run ({type(error).__name__}).") from None
    fired, right = Counter(), Counter()
    answerable = [r for r in records if r.get("answerable", True)]
    for record in answerable:
        for name in dict.fromkeys(record.get("rules") or ()):
            fired[name] += 1
            right[name] += bool(record.get("answer"))
    correct = sum(bool(r.get("answer")) for r in answerable)
    return {"run": str(path), "questions": len(answerable), "rules": _rule_lines(fired, right, Counter()),
            "headline": f"{path.name}: {len(answerable)} answerable questions; {correct} right "
                        f"({correct / max(len(answerable), 1):.1%}, answer accuracy)"}


def _rule_lines(fired: Counter, right: Counter, failures: Counter) -> list[dict]:
    return [{"rule": rule.name, "kind": rule.kind, "fired": fired[rule.name], "right": right[rule.name],
             "precision": round(right[rule.name] / fired[rule.name], 3) if fired[rule.name] else None,
             "failed": failures[rule.name]} for rule in RULES]


def _print(report: dict, as_json: bool) -> int:
    if as_json:
        print(json.dumps(report, indent=2))
        return 0
    print(report["headline"])
    print(f"{'rule':<20} {'kind':<17} {'fired':>6} {'right':>6} {'precision':>9} {'raised':>6}")
    for line in report["rules"]:
        precision = "-" if line["precision"] is None else f"{line['precision']:.1%}"
        print(f"{line['rule']:<20} {line['kind']:<17} {line['fired']:>6} {line['right']:>6} {precision:>9} {line['failed']:>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
