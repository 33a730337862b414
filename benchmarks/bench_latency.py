"""Question → rows latency as a user meets it: loading the model, the first question, the next ones.

llama.cpp keeps the KV cache of the prompt prefix the last question shared (system text and schema),
so the first question on a database pays for reading its schema and the next ones mostly for
generating their SQL. Run it on a quiet machine; it prints one JSON object.

    .venv/bin/python benchmarks/bench_latency.py --model qwen2.5-coder-1.5b --db chinook --limit 12
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlchat.config import DEMO_DIR, Settings  # noqa: E402
from sqlchat.evaluation.metrics import percentile  # noqa: E402
from sqlchat.evaluation.runner import load_business, peak_memory_mb  # noqa: E402
from sqlchat.models.backends import load_backend  # noqa: E402
from sqlchat.pipeline import ask  # noqa: E402
from sqlchat.sources.connection import connect  # noqa: E402

QUESTIONS = ROOT / "tests" / "data" / "business" / "questions.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="an embedded model's name (default: the default model)")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: all cores)")
    parser.add_argument("--db", default="chinook", choices=["chinook", "northwind"])
    parser.add_argument("--limit", type=int, default=12, help="questions of the business set on that database")
    args = parser.parse_args(argv)
    settings = Settings.from_env().with_model(model=args.model, threads=args.threads)
    started = time.perf_counter()
    backend = load_backend(settings.model)
    load_s = time.perf_counter() - started
    questions = [row.question for row in load_business(QUESTIONS) if row.db == args.db][: args.limit]
    db = connect(DEMO_DIR / f"{args.db}.sqlite")
    seconds = []
    try:
        for question in questions:
            answer = ask(question, db, backend, settings)
            seconds.append(answer.timings["total"])
    finally:
        db.close()
    following = seconds[1:]
    print(json.dumps({
        "model": backend.name, "threads": args.threads, "db": args.db, "questions": len(seconds),
        "load_s": round(load_s, 2), "first_question_s": round(seconds[0], 2),
        "next_p50_s": round(percentile(following, 0.5), 2), "next_p95_s": round(percentile(following, 0.95), 2),
        "all_p50_s": round(percentile(seconds, 0.5), 2), "peak_rss_mb": round(peak_memory_mb() or 0, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
