"""One-off experiment (issue 15), kept for the record: rewriting a follow-up into a standalone question first lost to
the engine's way on all 32 conversations (57.4 % of follow-ups right against 62.3 %, p50 11.1 s against 6.5 s;
docs/benchmarks-history.md, ninth session), so the engine does not rewrite.

The other way to answer a follow-up, measured against the engine's: rewrite it into a standalone question first.

``sqlchat eval --business tests/data/business/conversations.jsonl`` measures the engine's way (the model
writes the follow-up's SQL seeing the last answered turn's question and SQL). This script measures the
alternative the issue named: the model first rewrites the follow-up into a standalone question (seeing the
previous turn's standalone question and SQL), and the engine then answers that question on its own
(:func:`sqlchat.pipeline.ask` with no earlier turns). Same conversations, same scoring, same report shape
(first turns / follow-ups); the rewrite's generation is counted in each follow-up's latency.

    SQLCHAT_THREADS=1 nice python benchmarks/bench_rewrite.py --json > runs/conv-rewrite.json

It needs an in-process llama.cpp model (the default): the rewrite is plain text, which the engine's SQL
backends do not generate.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from sqlchat.config import Settings
from sqlchat.evaluation.cli import format_report
from sqlchat.evaluation.runner import (
    FIRST_TURN, FOLLOW_UP, DemoDatabases, EvalReport, MeteredBackend, as_scored, load_conversations, peak_memory_mb,
    score_on_database, spread,
)
from sqlchat.models.backends import load_backend
from sqlchat.prompt import CHATML_TEMPLATE, apply_chat_template

REWRITE_SYSTEM = ("Rewrite the user's follow-up question as one standalone question that means the same without "
                  "the conversation. Reply with the rewritten question only.")
CONVERSATIONS = Path(__file__).resolve().parents[1] / "tests" / "data" / "business" / "conversations.jsonl"


def rewrite(llama, template: str, previous: str, previous_sql: str | None, question: str) -> str:
    """The follow-up as a standalone question, written by the model (greedy, one line)."""
    sql = f"\nIts SQL: {previous_sql.strip().rstrip(';')};" if previous_sql else ""
    user = f"Previous question: {previous}{sql}\nFollow-up question: {question}"
    text = apply_chat_template([{"role": "system", "content": REWRITE_SYSTEM}, {"role": "user", "content": user}], template)
    out = llama.create_completion(text, max_tokens=60, temperature=0.0, stop=["\n", "<|im_end|>"])
    written = out["choices"][0]["text"].strip().strip('"')
    return written or question


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=Path, default=CONVERSATIONS)
    parser.add_argument("--limit", type=int, help="this many conversations, evenly spread")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    settings = as_scored(Settings.from_env())
    backend = load_backend(settings.model)
    llama = getattr(backend, "llama", None)
    if llama is None:
        print("error: the rewrite needs an in-process llama.cpp model", file=sys.stderr)
        return 2
    template = getattr(backend, "chat_template", None) or CHATML_TEMPLATE
    metered = MeteredBackend(backend)
    records = []
    with DemoDatabases(settings) as databases:
        for conversation in spread(load_conversations(args.conversations), args.limit):
            standalone, sql = None, None
            for number, (question, gold) in enumerate(conversation.turns, start=1):
                began = time.perf_counter()
                asked = question if standalone is None else rewrite(llama, template, standalone, sql, question)
                rewriting = time.perf_counter() - began
                record = score_on_database(asked, gold, conversation.db, databases, metered, settings)
                records.append(replace(record, question=question, id=f"{conversation.id}/{number}",
                                       level=FIRST_TURN if number == 1 else FOLLOW_UP, tags=[asked],
                                       latency_s=record.latency_s + rewriting))
                standalone, sql = asked, record.predicted
                print(f"{conversation.id}/{number} {record.answer} {asked!r}", file=sys.stderr, flush=True)
    report = EvalReport(dataset=f"conversations (rewritten):{args.conversations.name}", backend=backend.name,
                        num_candidates=settings.model.num_candidates, records=records,
                        seconds=time.perf_counter() - started, peak_memory_mb=peak_memory_mb())
    print(json.dumps(report.to_json()) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
