"""A CPU-sized slice of the recipe: declining rows beside their originals, the rest a seeded sample.

The lent GPU machines cannot train the 1.5B: nothing outside them can be reached and 64 MiB of files travel to
them, while the base model's GGUF alone is 1.1 GB. So the 1.5B is trained on the CPU, where an hour holds a few
hundred rows, not the recipe's 12,000. At the recipe's 4 % a few hundred rows would hold a dozen declining
rows, too few to learn the marker; this slice raises their share and keeps each one's original row (the same
question over the whole context, answered), so the pair still teaches that the context decides.

``python -m train.recipe.subset --rows 600 --declining 0.1 --out data/recipe-1.5b-cpu.jsonl``
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from pathlib import Path

from sqlchat.answers.declining import model_decline


def is_declining(row: dict) -> bool:
    """Whether ``row`` teaches declining: its answer is the engine's decline marker, not SQL."""
    return model_decline(row["answer"]) is not None


def cpu_subset(rows: Sequence[dict], size: int, declining_share: float, seed: int) -> list[dict]:
    """``size`` rows of ``rows``: ``declining_share`` of them declining rows, each with its original beside it, then a
    seeded sample of the other rows; shuffled. Deterministic for ``seed``."""
    rng = random.Random(seed)
    declining = [row for row in rows if is_declining(row)]
    answered: dict[str, dict] = {}
    for row in rows:
        if not is_declining(row):
            answered.setdefault(row["question"], row)
    pairs = [(row, answered[row["question"]]) for row in declining if row["question"] in answered]
    rng.shuffle(pairs)
    wanted_pairs = min(len(pairs), round(size * declining_share), size // 2)
    chosen = [row for pair in pairs[:wanted_pairs] for row in pair]
    taken = {id(row) for row in chosen}
    rest = [row for row in rows if not is_declining(row) and id(row) not in taken]
    rng.shuffle(rest)
    chosen += rest[:max(0, size - len(chosen))]
    rng.shuffle(chosen)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.recipe.subset", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, default=Path("data/recipe-1.5b.jsonl"))
    parser.add_argument("--out", type=Path, default=Path("data/recipe-1.5b-cpu.jsonl"))
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument("--declining", type=float, default=0.1, help="share of the rows that decline (each with its original)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if not args.source.is_file():
        parser.error(f"{args.source} does not exist: write the recipe first (python -m train.recipe)")
    if args.rows < 1 or not 0 <= args.declining <= 0.5:
        parser.error("--rows must be at least 1 and --declining between 0 and 0.5 (each declining row brings its original)")
    try:
        rows = [json.loads(line) for line in args.source.read_text(encoding="utf-8").splitlines() if line.strip()]
        chosen = cpu_subset(rows, args.rows, args.declining, args.seed)
    except (ValueError, KeyError, TypeError) as error:
        parser.error(f"{args.source} is not a recipe (one JSON row a line, each with a question and an answer): {error}")
    args.out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in chosen), encoding="utf-8")
    print(json.dumps({"out": str(args.out), "rows": len(chosen), "declining": sum(map(is_declining, chosen))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
