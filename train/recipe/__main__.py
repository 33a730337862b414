"""``python -m train.recipe --out data/recipe-1.5b.jsonl``: write the 1.5B recipe and print its figures.

Writes the training mix to ``--out``, the PostgreSQL/MariaDB template rows beside it
(``<out stem>-other-dialects.jsonl``) and the figures as ``<out stem>.report.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .build import DISTRACTOR_FRACTION, build_recipe, write_jsonl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.recipe", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/recipe-1.5b.jsonl"), help="the training mix (jsonl)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--distractors", type=float, default=DISTRACTOR_FRACTION, help="fraction of rows given 5-15 extra tables")
    parser.add_argument("--no-servers", action="store_true", help="skip the PostgreSQL/MariaDB rows (no servers at hand)")
    args = parser.parse_args(argv)
    recipe = build_recipe(seed=args.seed, fraction=args.distractors, servers=not args.no_servers)
    write_jsonl(recipe.train, args.out)
    other = args.out.with_name(f"{args.out.stem}-other-dialects.jsonl")
    if recipe.other_dialects:
        write_jsonl(recipe.other_dialects, other)
    report = {"train_file": str(args.out), "other_dialects_file": str(other) if recipe.other_dialects else None,
              "seed": args.seed, **recipe.figures}
    args.out.with_name(f"{args.out.stem}.report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
