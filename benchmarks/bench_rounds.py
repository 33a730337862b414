"""A second round's two ways side by side: candidates branched off the answer where it was least sure, or sampled.

The engine asks the model for more candidates in two rounds: the doubt check (the one answer had a token below
``doubt_logprob``) and the retry (the first answer failed or said nothing). This runs the held-out questions a stored
run sent to that round (``--run``, ``--round doubt|retry``), once with each way and as shipped otherwise, and writes
every record (``--out``, resumable). Taking the questions from a stored run makes both ways answer the same ones. The
doubt check ships with branches (``TrustConfig.doubt_branches``); for the retry, the branches way routes the round's
``generate`` to ``branches`` (an experiment: the engine's retry samples).

The report gives each way's round time, right answers and declines on those questions and, for the doubt check, the
confidence over the whole suite (the stored run's other records as they were): accuracy per level and the chance that
a right answer is rated above a wrong one (AUROC). Run it on a quiet machine: the rounds' time is compared.

    python benchmarks/bench_rounds.py --run runs/s16/heldout-sqlite.json --round doubt --out runs/s17/doubt-sqlite.json
    python benchmarks/bench_rounds.py --run runs/s16/heldout-sqlite.json --round doubt --score runs/s17/doubt-sqlite.json
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlchat.answers.trust import Signals, confidence  # noqa: E402
from sqlchat.config import Settings, TrustConfig  # noqa: E402

WAYS = ("branches", "samples")
RANK = {"high": 2, "medium": 1, "low": 0}
STAGE = {"doubt": "doubt check", "retry": "retry"}
SENT = {"doubt": "checked", "retry": "retried"}  # the record's flag: the question went to that round


class RetryBranches:
    """The backend with every call for more than one candidate (a retry: the doubt check already branches) answered by
    its branches."""

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name

    def generate(self, prompt, n: int = 1):
        return self.inner.branches(prompt, n=n) if n > 1 else self.inner.generate(prompt, n=n)

    def branches(self, prompt, n: int = 1):
        return self.inner.branches(prompt, n=n)


def run(stored: list[dict], round_: str, suite: Path, out: Path) -> None:
    from tqdm import tqdm

    from sqlchat.evaluation.heldout import SuiteFiles, load_heldout, score_heldout_row
    from sqlchat.evaluation.runner import MeteredBackend, as_scored
    from sqlchat.models.backends import load_backend

    sent = {record["id"] for record in stored if record.get(SENT[round_])}
    rows = [row for row in load_heldout(suite) if row.id in sent]
    base = Settings.from_env()
    model = load_backend(base.model)
    results = json.loads(out.read_text()) if out.exists() else {}
    for way in WAYS:
        branching = way == "branches"
        settings = as_scored(replace(base, trust=replace(base.trust, doubt_branches=branching or round_ == "retry")))
        backend = MeteredBackend(RetryBranches(model) if branching and round_ == "retry" else model)
        done = {record["id"] for record in results.get(way, [])}
        with SuiteFiles(suite, settings) as databases:
            for row in tqdm(rows, desc=way, unit="q", file=sys.stderr):
                if row.id in done:
                    continue
                backend.reset()
                record = asdict(score_heldout_row(row, databases, backend, settings))
                results.setdefault(way, []).append(record)
                out.write_text(json.dumps(results))  # a checkpoint: a stopped run resumes


def auroc(pairs: list[tuple[int, bool]]) -> float:
    right = [rank for rank, ok in pairs if ok]
    wrong = [rank for rank, ok in pairs if not ok]
    wins = sum((a > b) + 0.5 * (a == b) for a in right for b in wrong)
    return wins / (len(right) * len(wrong)) if right and wrong else float("nan")


def score(stored: list[dict], round_: str, results: dict, config: TrustConfig) -> None:
    for way, records in results.items():
        sent = [r for r in records if r.get(SENT[round_])]
        seconds = [r["stages"].get(STAGE[round_], 0.0) for r in sent]
        answerable = [r for r in records if r.get("answerable") is not False]
        unanswerable = [r for r in records if r.get("answerable") is False]
        print(f"{way}: {len(records)} questions run, {len(sent)} went to the {STAGE[round_]}, "
              f"{sum(seconds):.0f} s in it (median {statistics.median(seconds) if seconds else 0:.2f} s); question p50 "
              f"{statistics.median(r['latency_s'] for r in records):.2f} s; right {sum(bool(r.get('answer')) for r in answerable)}"
              f"/{len(answerable)} answerable ({sum(bool(r.get('declined')) for r in answerable)} declined); "
              f"unanswerable declined {sum(bool(r.get('declined')) for r in unanswerable)}/{len(unanswerable)}")
        new = {record["id"]: record for record in records}
        pairs, levels = [], collections.defaultdict(lambda: [0, 0])
        for record in (new.get(record["id"], record) for record in stored):
            if record.get("declined") or record.get("answerable") is False or not record.get("signals"):
                continue
            signals = Signals.from_json(record["signals"])
            if not signals.ok:
                continue
            level, ok = confidence(signals, config), bool(record.get("answer"))
            pairs.append((RANK[level], ok))
            levels[level][0] += ok
            levels[level][1] += 1
        print("   confidence over the whole suite: " + " ".join(f"{name} {levels[name][0]}/{levels[name][1]}" for name in RANK)
              + f"; AUROC {auroc(pairs):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="a stored `sqlchat eval --heldout --json` run")
    parser.add_argument("--round", choices=sorted(STAGE), default="doubt")
    parser.add_argument("--suite", default="tests/data/heldout")
    parser.add_argument("--out", help="run both ways and write their records here")
    parser.add_argument("--score", help="report on the records written by --out")
    args = parser.parse_args()
    stored = json.loads(Path(args.run).read_text())["records"]
    if args.out:
        run(stored, args.round, Path(args.suite), Path(args.out))
    if args.score or args.out:
        score(stored, args.round, json.loads(Path(args.score or args.out).read_text()), TrustConfig())


if __name__ == "__main__":
    main()
