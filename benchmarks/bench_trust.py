"""How well confidence and declining work: a reliability table and the declining figures.

    .venv/bin/python benchmarks/bench_trust.py --questions tests/data/business/questions.jsonl \
        --unanswerable tests/data/business/unanswerable.jsonl --candidates 3 --json trust-run.json
    .venv/bin/python benchmarks/bench_trust.py --signals trust-run.json --set high_agreement=0.7   # no model

Each question is asked through :func:`sqlchat.pipeline.ask` on its demo database (``db``: chinook or
northwind) with the normal model settings (``SQLCHAT_*`` and the flags). Answerable questions carry
their gold SQL (``query``); an answer is right when its rows equal the gold's (as bags, or in order
when the gold orders). The pipeline runs with declining off, so every answer keeps its rows and can
be scored; its :class:`~sqlchat.answers.trust.Signals` are stored, and :func:`sqlchat.answers.trust.decide` then
gives the confidence or the decline that a user would have seen under the configured thresholds.
Since that rule reads only the signals, ``--signals`` re-scores a stored run under other thresholds
(``--set name=value``, any :class:`~sqlchat.config.TrustConfig` field) in a second, without the model; it also
reads a ``sqlchat eval --json`` run (the held-out suite as shipped, with its unanswerable questions), and
``--set doubt_candidates=0`` scores it as if the doubt check had not run.

Printed: accuracy per confidence level, the share of wrong answers marked low or declined (target
≥ 80 %), the share of right answers marked low (target ≤ 10 %), the share of unanswerable questions
declined (target ≥ 70 %) and of answerable ones wrongly declined (target ≤ 5 %).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlchat.answers.trust import LEVELS, LOW, Signals, decide  # noqa: E402
from sqlchat.config import DEMO_DIR, Settings, TrustConfig  # noqa: E402
from sqlchat.evaluation.metrics import has_order_by, results_match  # noqa: E402
from sqlchat.evaluation.runner import frame_rows  # noqa: E402
from sqlchat.models.backends import Backend  # noqa: E402
from sqlchat.pipeline import ask, run_sql  # noqa: E402
from sqlchat.sources.connection import Database, connect  # noqa: E402

DEMOS = {"chinook": DEMO_DIR / "chinook.sqlite", "northwind": DEMO_DIR / "northwind.sqlite"}
DECLINED = "declined"


@dataclass
class Record:
    """One question's outcome: what the engine knew, and whether its answer was right."""

    kind: str  # "answerable" or "unanswerable"
    db: str
    question: str
    right: bool | None  # answerable: the rows equal the gold's; unanswerable: None
    signals: dict[str, Any]
    sql: str | None = None
    seconds: float = 0.0


def load_jsonl(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if row.get("db") not in DEMOS or not row.get("question"):
                raise SystemExit(f"{path}:{number}: needs a question and db (one of {', '.join(DEMOS)})")
            rows.append(row)
    return rows


def scored_settings(settings: Settings) -> Settings:
    """Declining off (every answer keeps its rows, decided afterwards from its signals) and only the
    model's columns, compared with the gold's whole result."""
    execution = replace(settings.execution, readable_results=False,
                        row_limit=max(settings.execution.row_limit, settings.execution.max_rows))
    return replace(settings, execution=execution, trust=replace(settings.trust, decline=False))


def run_bench(questions: list[dict], unanswerable: list[dict], backend: Backend, settings: Settings) -> list[Record]:
    """Ask every question on its demo database and record its signals and whether it was right."""
    databases: dict[str, Database] = {}
    records = []
    scored = scored_settings(settings)
    try:
        for kind, rows in (("answerable", questions), ("unanswerable", unanswerable)):
            for row in rows:
                db = databases.setdefault(row["db"], connect(DEMOS[row["db"]]))
                started = time.perf_counter()
                answer = ask(row["question"], db, backend, scored)
                right = None
                if kind == "answerable":
                    gold = run_sql(row.get("query") or row["sql"], db, scored)
                    if not gold.ok:
                        raise SystemExit(f"the gold SQL of {row.get('id', row['question'])!r} fails: {gold.error}")
                    right = answer.ok and results_match(frame_rows(gold.frame), frame_rows(answer.frame),
                                                        has_order_by(row.get("query") or row["sql"]))
                signals = answer.signals or Signals(ok=False)
                records.append(Record(kind, row["db"], row["question"], right, signals.to_json(), answer.chosen,
                                      round(time.perf_counter() - started, 3)))
                if hasattr(backend, "next_question"):
                    backend.next_question()
    finally:
        for db in databases.values():
            db.close()
    return records


def verdicts(records: list[Record], config: TrustConfig) -> list[str]:
    """Each record's outcome under ``config``: a confidence level, or ``declined``."""
    outcomes = []
    for record in records:
        verdict = decide(as_checked_under(Signals.from_json(record.signals), config), config)
        outcomes.append(DECLINED if verdict.declined else (verdict.confidence or LOW))
    return outcomes


def as_checked_under(signals: Signals, config: TrustConfig) -> Signals:
    """The signals an answer would have had under ``config``'s doubt check: one the run checked but whose least
    likely token is not below ``doubt_logprob`` (or with the check off) would have stood alone. So a run made with
    a permissive threshold re-scores any stricter one; a looser one than the run's needs a new run."""
    unsure = signals.least_logprob is not None and signals.least_logprob < config.doubt_logprob
    if signals.checked and not (unsure and config.doubt_candidates > 0):
        return replace(signals, checked=False, compared=1 if signals.compared else 0, agreeing=min(1, signals.agreeing))
    return signals


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} = {100 * part / whole:.1f} %" if whole else "n/a"


def report(records: list[Record], config: TrustConfig) -> str:
    """The reliability table (accuracy per confidence level) and the declining figures, as Markdown."""
    outcomes = verdicts(records, config)
    answerable = [(r, o) for r, o in zip(records, outcomes) if r.kind == "answerable"]
    unanswerable = [o for r, o in zip(records, outcomes) if r.kind == "unanswerable"]
    lines = ["| confidence | answers | right | accuracy |", "|---|---:|---:|---:|"]
    for level in (*LEVELS, DECLINED):
        chosen = [r for r, o in answerable if o == level]
        right = sum(bool(r.right) for r in chosen)
        accuracy = f"{100 * right / len(chosen):.1f} %" if chosen else "–"
        lines.append(f"| {level} | {len(chosen)} | {right} | {accuracy} |")
    wrong = [o for r, o in answerable if not r.right]
    right = [o for r, o in answerable if r.right]
    total_right = len(right)
    lines += [
        "",
        f"- answerable questions: {len(answerable)}, right (rows equal the gold's): {_share(total_right, len(answerable))}",
        f"- wrong answers marked low or declined: {_share(sum(o in (LOW, DECLINED) for o in wrong), len(wrong))} (target ≥ 80 %)",
        f"- right answers marked low: {_share(sum(o == LOW for o in right), total_right)} (target ≤ 10 %); "
        f"declined: {_share(sum(o == DECLINED for o in right), total_right)}",
        f"- unanswerable questions declined: {_share(sum(o == DECLINED for o in unanswerable), len(unanswerable))} (target ≥ 70 %)",
        f"- answerable questions wrongly declined: {_share(sum(o == DECLINED for _, o in answerable), len(answerable))} (target ≤ 5 %)",
    ]
    by_source = {"reach": 0, "model": 0}
    for record, outcome in zip(records, outcomes):
        if record.kind == "unanswerable" and outcome == DECLINED:
            signals = Signals.from_json(record.signals)
            by_source["reach" if signals.invented else "model"] += 1
    lines.append(f"- unanswerable declined for names the schema lacks: {by_source['reach']}, "
                 f"by the model alone: {by_source['model']}")
    lines.append(f"- ranking (AUROC): a right answer is rated above a wrong one {ranking(answerable):.3f} of the time "
                 "(high > medium > low > declined; ties count half)")
    return "\n".join(lines)


def ranking(answerable: list[tuple[Record, str]]) -> float:
    """How often a right answer's outcome ranks above a wrong one's: the confidence's power to tell them apart,
    whatever its thresholds (0.5: none; 1: complete)."""
    rank = {level: len(LEVELS) - i for i, level in enumerate(LEVELS)} | {DECLINED: 0}
    right = [rank[o] for r, o in answerable if r.right]
    wrong = [rank[o] for r, o in answerable if not r.right]
    wins = sum((a > b) + 0.5 * (a == b) for a in right for b in wrong)
    return wins / (len(right) * len(wrong)) if right and wrong else float("nan")


def from_eval(record: dict[str, Any]) -> Record:
    """A ``sqlchat eval --json`` record as this benchmark's (its answer accuracy as ``right``), so the confidence of a
    run as shipped can be re-scored here too."""
    answerable = record.get("answerable") is not False
    return Record(kind="answerable" if answerable else "unanswerable", db=record.get("db_id") or "",
                  question=record["question"], right=bool(record.get("answer")) if answerable else None,
                  signals=record.get("signals") or {"ok": False}, sql=record.get("predicted"),
                  seconds=record.get("latency_s") or 0.0)


def tuned(config: TrustConfig, assignments: list[str]) -> TrustConfig:
    """``config`` with ``name=value`` assignments, typed like each field's default."""
    types = {f.name: type(getattr(config, f.name)) for f in fields(config)}
    changes: dict[str, Any] = {}
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        if name not in types:
            raise SystemExit(f"--set {name}: not a TrustConfig field ({', '.join(types)})")
        kind = types[name]
        try:
            changes[name] = value.lower() in {"1", "true", "yes"} if kind is bool else kind(value)
        except ValueError:
            raise SystemExit(f"--set {name}={value}: not a {kind.__name__}") from None
    return replace(config, **changes)


def main(argv: list[str] | None = None) -> int:
    from sqlchat.cli import _add_model, settings_from_args

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", help="answerable questions (JSONL: db, question, query)")
    parser.add_argument("--unanswerable", help="questions the data cannot answer (JSONL: db, question)")
    parser.add_argument("--limit", type=int, help="at most this many of each file")
    parser.add_argument("--json", help="store every question's signals here (re-score with --signals)")
    parser.add_argument("--signals", help="a stored run (this benchmark's --json, or `sqlchat eval --json`): re-score it "
                                          "without the model")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a TrustConfig threshold, for the run and its scoring (e.g. doubt_logprob=-0.25)")
    _add_model(parser)
    args = parser.parse_args(argv)
    settings = settings_from_args(args)
    config = tuned(settings.trust, args.set)
    if args.signals:
        stored = json.loads(Path(args.signals).read_text(encoding="utf-8"))
        records = [from_eval(record) if "predicted" in record else Record(**record) for record in stored["records"]]
    else:
        if not args.questions or not args.unanswerable:
            parser.error("give --questions and --unanswerable, or --signals")
        questions = load_jsonl(args.questions)[: args.limit]
        unanswerable = load_jsonl(args.unanswerable)[: args.limit]
        from sqlchat.models.backends import load_backend

        records = run_bench(questions, unanswerable, load_backend(settings.model), replace(settings, trust=config))
        if args.json:
            Path(args.json).write_text(json.dumps({"model": settings.model.model, "candidates": settings.model.num_candidates,
                                                   "records": [asdict(r) for r in records]}, indent=1), encoding="utf-8")
    print(report(records, config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
