"""``sqlchat eval``: flags and output, so cli.py only registers the subcommand.

``--data FILE.jsonl`` scores know_sql rows on synthesized databases; ``--spider DIR`` scores
Spider dev on its real databases; ``--business FILE.jsonl`` scores the project's own business
questions on (copies of) the demo databases, with answer accuracy and a breakdown by level
beside Spider's execution accuracy; given a conversations file (rows with ``turns``) it scores each
turn after the model's own earlier answers, first turns and follow-ups apart. By default a short table is printed; ``--json`` prints one
JSON object (summary plus per-question records, each with its candidates). ``--replay RUN.json``
scores a stored run's candidates again instead of asking the model (:mod:`sqlchat.evaluation.replay`);
``--checkpoint FILE.jsonl`` lets a run too long for one sitting stop and go on (:mod:`sqlchat.evaluation.checkpoint`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sqlchat.config import Settings
from sqlchat.errors import SqlchatError
from sqlchat.evaluation.checkpoint import Checkpoint
from sqlchat.evaluation.replay import ReplayBackend
from sqlchat.evaluation.heldout import by_database, evaluate_heldout
from sqlchat.evaluation.runner import (
    EvalReport, engine_only, evaluate_business, evaluate_conversations, evaluate_know_sql, evaluate_spider,
    is_conversation_file,
)
from sqlchat.models.backends import Backend, load_backend

EXIT_OK, EXIT_UNUSABLE = 0, 2


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the eval flags; ``--candidates`` only if the model flags did not bring it already."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="know_sql JSONL file: rows of question, context, answer")
    source.add_argument("--spider", type=Path, help="Spider dev folder: dev.json and database/<db_id>/<db_id>.sqlite")
    source.add_argument("--business", type=Path, metavar="FILE.jsonl",
                        help="business questions on the demo databases, e.g. tests/data/business/questions.jsonl; "
                        "a conversations file (tests/data/business/conversations.jsonl) is scored turn by turn")
    source.add_argument("--heldout", type=Path, metavar="DIR",
                        help="the held-out suite (tests/data/heldout): databases nobody tuned on, answerable and "
                        "unanswerable questions")
    parser.add_argument("--postgres", metavar="URL",
                        help="with --heldout: ask on the PostgreSQL copies (schemas heldout_<db> of this database)")
    parser.add_argument("--engine-only", action="store_true",
                        help="score the engine alone (no declining, no doubt check, no readable columns); the default "
                        "scores the product as shipped")
    parser.add_argument("--limit", type=int, help="score N questions, evenly spread over the file")
    parser.add_argument("--json", action="store_true", help="print one JSON object with per-question records")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--checkpoint", type=Path, metavar="FILE.jsonl",
                        help="keep each scored question in FILE as it is done; the same command run again "
                        "goes on from where the last run stopped")
    parser.add_argument("--replay", type=Path, metavar="RUN.json",
                        help="no model: score the candidates a stored `eval --json` run generated, under the current settings")
    try:
        parser.add_argument("--candidates", type=int, help="SQL candidates per question (execution-guided choice)")
    except argparse.ArgumentError:
        pass  # cli.py's model flags already define it


def eval_backend(args: argparse.Namespace, settings: Settings) -> Backend:
    """The model the settings name, or, with ``--replay``, a stored run's candidates in its place."""
    replay = getattr(args, "replay", None)
    return ReplayBackend(replay) if replay is not None else load_backend(settings.model)


def run_eval_command(args: argparse.Namespace, backend: Backend, settings: Settings) -> int:
    """Run the evaluation ``args`` asks for and print it; 2 when the data cannot be read."""
    # a replay scores as many candidates as were stored unless --candidates asks for fewer
    settings = settings.with_model(num_candidates=getattr(args, "candidates", None) or getattr(backend, "stored_candidates", None))
    if getattr(args, "postgres", None) and getattr(args, "heldout", None) is None:
        print("error: --postgres names where the held-out suite's copies are: give it with --heldout.", file=sys.stderr)
        return EXIT_UNUSABLE
    if getattr(args, "engine_only", False):
        settings = engine_only(settings)
    progress = not getattr(args, "no_progress", False)
    try:
        checkpoint = Checkpoint(args.checkpoint) if getattr(args, "checkpoint", None) is not None else None
        common = dict(limit=args.limit, progress=progress, checkpoint=checkpoint)
        if args.spider is not None:
            report = evaluate_spider(args.spider, backend, settings, **common)
        elif getattr(args, "heldout", None) is not None:
            report = evaluate_heldout(args.heldout, backend, settings, postgres=args.postgres, **common)
        elif getattr(args, "business", None) is not None:
            evaluate = evaluate_conversations if is_conversation_file(args.business) else evaluate_business
            report = evaluate(args.business, backend, settings, **common)
        else:
            report = evaluate_know_sql(args.data, backend, settings, **common)
    except SqlchatError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return EXIT_UNUSABLE
    if getattr(args, "heldout", None) is not None:
        per_db = by_database(report)
        print(json.dumps(report.to_json() | {"by_database": per_db}) if args.json else
              format_report(report) + "\n" + format_databases(per_db))
        return EXIT_OK
    print(json.dumps(report.to_json()) if args.json else format_report(report))
    return EXIT_OK


def format_databases(per_db: dict[str, dict]) -> str:
    """One line per held-out database: its answer accuracy and what was declined."""
    width = max((len(db) for db in per_db), default=0)
    return "\n".join(f"  {db:<{width}}  answer {_percent(f['answer_accuracy'])} of {f['n']}, answerable declined "
                     f"{_percent(f['declined_answerable'])}, unanswerable declined {_percent(f['declined_unanswerable'])} "
                     f"of {f['unanswerable']}" for db, f in per_db.items())


def format_report(report: EvalReport) -> str:
    """A short human-readable table of the headline numbers."""
    scored = sum(r.answerable for r in report.records) - report.unscorable
    lines = [
        ("dataset", report.dataset),
        ("backend", f"{report.backend} ({report.num_candidates} candidate(s))"),
        ("questions", f"{report.n} ({report.unscorable} unscorable)"),
        ("exact match", _percent(report.exact_match)),
        ("execution accuracy", f"{_percent(report.execution_accuracy)} of {scored} scorable"),
        ("answerable declined", _percent(report.declined_answerable)),
    ]
    if report.answer_accuracy is not None:
        lines.append(("answer accuracy", f"{_percent(report.answer_accuracy)} (extra or reordered columns allowed)"))
    if report.declined_unanswerable is not None:
        lines.append(("unanswerable declined", _percent(report.declined_unanswerable)))
    for level, figures in report.by_level().items():
        lines.append((f"  {level} ({figures['n']})", f"execution {_percent(figures['execution_accuracy'])}, "
                                                     f"answer {_percent(figures['answer_accuracy'])}, "
                                                     f"latency p50 {_seconds(figures['latency_p50_s'])}"))
    lines += [
        ("valid SQL", _percent(report.valid_sql)),
        ("latency p50 / p95", f"{_seconds(report.latency_p50_s)} / {_seconds(report.latency_p95_s)} (every candidate)"),
        ("rows shown p50 / p95", f"{_seconds(report.shown_p50_s)} / {_seconds(report.shown_p95_s)}"),
        ("tokens per second", "-" if report.tokens_per_s is None else f"{report.tokens_per_s:.1f}"),
        ("peak memory", "-" if report.peak_memory_mb is None else f"{report.peak_memory_mb:.0f} MB"),
        ("wall time", _seconds(report.seconds)),
    ]
    width = max(len(name) for name, _ in lines)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in lines)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"
