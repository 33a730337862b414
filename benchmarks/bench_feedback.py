"""Does learning from users help? Execution accuracy with and without verified examples, side by side.

The hand-written pairs in ``sqlchat/demo/verified/chinook.jsonl`` come in families of similar
questions. The ``seen`` part is stored as verified answers (as if users had approved them); each
``held_out`` question is then asked twice through :func:`sqlchat.pipeline.ask` on the real
database: once without examples, once with the ``k`` pairs the history store retrieves for it.
A question counts as right when its rows equal the gold SQL's rows as a bag (ordered when the
gold has ORDER BY), with the evaluator's own :func:`results_match`.

    .venv/bin/python benchmarks/bench_feedback.py                 # the embedded model, all held-out questions
    .venv/bin/python benchmarks/bench_feedback.py --retrieval-only  # no model: does retrieval find the family?
    .venv/bin/python benchmarks/bench_feedback.py --retrieval-only --history feedback/history.sqlite  # keep the pairs

Prints one JSON object: both accuracies, the gain, retrieval's top-1 family hit rate, per question records.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlchat.config import DEMO_DATABASES, DEMO_DIR, Settings  # noqa: E402
from sqlchat.evaluation.metrics import has_order_by, mean_of, results_match  # noqa: E402
from sqlchat.evaluation.runner import as_scored, frame_rows, spread  # noqa: E402
from sqlchat.history.examples import schema_fingerprint  # noqa: E402
from sqlchat.history.seeding import load_pairs_file, seed_from_file  # noqa: E402
from sqlchat.history.store import HistoryStore  # noqa: E402
from sqlchat.pipeline import Answer, ask, run_sql  # noqa: E402
from sqlchat.schema.reflection import reflect_schema  # noqa: E402
from sqlchat.sources.connection import Database, connect  # noqa: E402

DEFAULT_DATA = DEMO_DIR / "verified" / "chinook.jsonl"
DEFAULT_DB = DEMO_DATABASES["Chinook (music store)"]


def is_correct(answer: Answer, gold_rows: list[tuple], gold_sql: str) -> bool:
    return answer.ok and results_match(gold_rows, frame_rows(answer.frame), has_order_by(gold_sql))


def retrieval_record(row: dict, examples: list[tuple[str, str]], families: dict[str, str]) -> dict[str, Any]:
    """What retrieval gave one held-out question, and whether its best example is of the same family."""
    top_family = families.get(examples[0][0]) if examples else None
    return {"question": row["question"], "family": row["family"], "gold": row["sql"],
            "examples": [q for q, _ in examples], "top_example_same_family": top_family == row["family"]}


def score_with_model(record: dict, examples: list[tuple[str, str]], db: Database, backend, settings: Settings) -> None:
    """Ask without and with examples; add both SQLs and verdicts to ``record``."""
    gold_rows = frame_rows(run_sql(record["gold"], db, settings).frame)
    for key, shots in (("without", None), ("with", examples)):
        answer = ask(record["question"], db, backend, settings, examples=shots)
        record[f"{key}_sql"] = answer.sql or next(iter(answer.candidates), None)
        record[f"{key}_correct"] = is_correct(answer, gold_rows, record["gold"])
        record[f"{key}_error"] = answer.error


def summarise(records: list[dict], k: int, backend_name: str | None, seconds: float) -> dict[str, Any]:
    report: dict[str, Any] = {
        "n": len(records), "k": k, "backend": backend_name,
        "retrieval_top1_same_family": mean_of(r["top_example_same_family"] for r in records),
    }
    if backend_name is not None:
        without = mean_of(r["without_correct"] for r in records)
        with_examples = mean_of(r["with_correct"] for r in records)
        report |= {"execution_accuracy": {"without_examples": without, "with_examples": with_examples},
                   "gain": None if without is None or with_examples is None else round(with_examples - without, 4)}
    return report | {"seconds": round(seconds, 1), "records": records}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="verified pairs with family and split")
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="the database the pairs are for")
    parser.add_argument("--limit", type=int, help="held-out questions to ask, evenly spread")
    parser.add_argument("--k", type=int, default=3, help="examples retrieved per question")
    parser.add_argument("--retrieval-only", action="store_true", help="no model: score retrieval alone")
    parser.add_argument("--history", type=Path,
                        help="keep the seeded verified pairs in this history file (for export-training); default: a temporary one")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    settings = as_scored(Settings.from_env())
    families = {row["question"]: row["family"] for row in load_pairs_file(args.data, "seen")}
    held_out = spread(load_pairs_file(args.data, "held_out"), args.limit)
    backend = None
    if not args.retrieval_only:
        from sqlchat.models.backends import load_backend

        backend = load_backend(settings.model)
    with connect(args.db) as db, tempfile.TemporaryDirectory() as folder, \
            HistoryStore(args.history or Path(folder) / "h.sqlite") as store:
        schema = reflect_schema(db)
        seed_from_file(store, args.data, schema, db.display_name, settings.schema, split="seen")
        records = []
        for row in held_out:
            examples = store.similar_examples(row["question"], schema_fingerprint(schema), k=args.k)
            records.append(retrieval_record(row, examples, families))
            if backend is not None:
                score_with_model(records[-1], examples, db, backend, settings)
    print(json.dumps(summarise(records, args.k, backend.name if backend else None, time.perf_counter() - started), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
