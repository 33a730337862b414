"""How far choosing among the model's own candidates could go: each stored candidate scored alone.

A run of ``sqlchat eval --heldout ... --json`` keeps every candidate the product generated for a question (the
greedy one, and the retry's or the doubt check's samples when those ran). Here each candidate goes through the
engine alone (its repairs, the read-only run; no retry, doubt check or declining) and its rows are compared with
the gold's. A question is *within reach* when at least one of its candidates is right: that is the most any
choice, ranking or confidence rule over these candidates could score, and the gap between it and the run's own
score is all that choosing better could win. Questions with one candidate (a sure first answer) count with that one.

    python benchmarks/candidate_ceiling.py --run runs/s20/heldout-sqlite.json --heldout tests/data/heldout
    python benchmarks/candidate_ceiling.py --run runs/s21/heldout-pg.json --heldout tests/data/heldout \\
        --postgres postgresql://postgres@127.0.0.1:5432/test

No model is loaded. Prints a table and, with ``--json``, writes each question's per-candidate results.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from sqlchat.config import Settings
from sqlchat.errors import SqlchatError
from sqlchat.evaluation.heldout import PostgresCopies, SuiteFiles, load_heldout
from sqlchat.evaluation.metrics import answer_match, has_order_by
from sqlchat.models.backends import Generation
from sqlchat.pipeline import ask
from sqlchat.prompt import Prompt
from sqlchat.evaluation.runner import frame_rows


class OneCandidate:
    """A backend that writes one given SQL, whatever it is asked: the engine then treats it as the model's answer."""

    name = "one stored candidate"

    def __init__(self, sql: str):
        self.sql = sql

    def generate(self, prompt: Prompt, n: int = 1) -> list[Generation]:
        return [Generation(text=self.sql, sql=self.sql, tokens=0, seconds=0.0)]


def alone(settings: Settings) -> Settings:
    """``settings`` with one candidate and nothing after it: no retry, no doubt check, no declining."""
    settings = replace(settings, model=replace(settings.model, num_candidates=1, retry_candidates=0))
    return replace(settings, trust=replace(settings.trust, decline=False, doubt_candidates=0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="a `sqlchat eval --heldout ... --json` run with its candidates")
    parser.add_argument("--heldout", required=True, help="the held-out suite's folder (tests/data/heldout)")
    parser.add_argument("--postgres", help="the PostgreSQL database holding the suite's copies, as the run used")
    parser.add_argument("--json", dest="json_out", help="write each question's per-candidate results here")
    args = parser.parse_args(argv)

    try:
        records = json.loads(Path(args.run).read_text(encoding="utf-8"))["records"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        parser.error(f"{args.run} is not the JSON of a `sqlchat eval --heldout ... --json` run ({error})")
    try:
        gold_of = {row.id: row for row in load_heldout(args.heldout, unanswerable=False)}
    except SqlchatError as error:
        parser.error(error.message)
    asked = [r for r in records if isinstance(r, dict) and r.get("answerable") and r.get("id") in gold_of]
    if not asked:
        parser.error(f"{args.run} holds no answerable question of the suite in {args.heldout}")
    settings = alone(Settings.from_env())
    databases = PostgresCopies(args.postgres, settings) if args.postgres else SuiteFiles(Path(args.heldout), settings)
    dialect = "postgres" if args.postgres else "sqlite"
    rows_out, right, reach, several, several_reach = [], 0, 0, 0, 0
    try:
        for record in tqdm(asked, desc="questions"):
            row = gold_of[record["id"]]
            gold = row.gold(dialect)
            gold_rows = databases.gold_rows(row.db, gold, settings)
            if gold_rows is None:
                continue
            results = []
            for sql in dict.fromkeys(record.get("candidates") or []):
                answer = ask(row.question, databases.database(row.db), OneCandidate(sql), settings)
                rows = frame_rows(answer.frame)
                results.append(bool(answer.ok and answer_match(gold_rows, rows, has_order_by(gold))))
            right += bool(record.get("answer"))
            reach += any(results)
            if len(results) > 1:
                several += 1
                several_reach += any(results)
            rows_out.append({"id": record["id"], "answer": record.get("answer"), "candidates_right": results})
    except SqlchatError as error:  # a PostgreSQL copy missing, or its server unreachable
        parser.error(error.message)
    finally:
        databases.close()

    scored = len(rows_out)
    if not scored:
        parser.error("no question could be scored: the gold SQL of each failed on its database")
    print(f"answerable questions scored: {scored}")
    print(f"right as the run chose:       {right} ({right / scored:.1%})")
    print(f"some candidate right (reach): {reach} ({reach / scored:.1%})")
    print(f"questions with several candidates: {several}; some candidate right in {several_reach}")  # distinct texts
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows_out, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
