"""Keep only the checkpoint lines whose prompt a change leaves as it was, so a re-run asks the model only the rest.

All of Spider dev takes the 1.5B well over an hour on two cores. A change to what the prompt says (a new line,
other tables) touches some questions; the others would get the same prompt, the same greedy SQL, and differ
only by what the engine does after generation, which ``--replay`` re-scores without the model. This writes a
copy of a checkpoint without the lines whose prompt differs between the engine with ``--before`` settings
(environment variables, e.g. ``SQLCHAT_MENTIONS=0``: what the checkpoint was made with) and the engine as it
is now; ``sqlchat eval --checkpoint COPY`` then asks the model only those questions.

    .venv/bin/python benchmarks/prune_checkpoint.py --spider ../shared/benchmarks/spider-dev \\
        --checkpoint runs/checkpoints/spider-dev-qwen2.5-coder-1.5b.jsonl --before SQLCHAT_MENTIONS=0 \\
        --out runs/checkpoints/spider-dev-qwen2.5-coder-1.5b-s11.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from tqdm import tqdm

from sqlchat.config import Settings
from sqlchat.errors import ConfigError
from sqlchat.evaluation.checkpoint import Checkpoint
from sqlchat.evaluation.runner import SpiderDatabases, as_scored, load_spider, spread
from sqlchat.pipeline import Draft, prompt_for


def prompt_text(question: str, db, settings: Settings) -> str:
    return prompt_for(question, db, settings, Draft(question=question)).user_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spider", type=Path, required=True, help="the Spider dev folder")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the checkpoint made before the change")
    parser.add_argument("--before", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable that gives the engine as it was (repeatable)")
    parser.add_argument("--limit", type=int, default=None, help="the --limit the checkpoint was made with")
    parser.add_argument("--out", type=Path, required=True, help="the copy to write")
    args = parser.parse_args()
    if any("=" not in item for item in args.before):
        parser.error("--before takes NAME=VALUE, e.g. --before SQLCHAT_MENTIONS=0")
    if not args.checkpoint.is_file():
        parser.error(f"the checkpoint {args.checkpoint} does not exist")
    if args.out.resolve() == args.checkpoint.resolve():
        parser.error("--out must be another file than --checkpoint (the checkpoint is kept as it was)")
    now = as_scored(Settings.from_env())
    before = as_scored(Settings.from_env({**os.environ, **dict(item.split("=", 1) for item in args.before)}))
    rows = spread(load_spider(args.spider), args.limit)
    try:
        stored = Checkpoint(args.checkpoint)
    except ConfigError as error:  # not a checkpoint file: its sentence, no traceback
        parser.error(error.message)
    lines = [line for line in args.checkpoint.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(stored) and max(json.loads(line)["position"] for line in lines) >= len(rows):
        parser.error(f"the checkpoint has rows past the {len(rows)} questions of this --limit: give the --limit it was made with")
    kept = changed = 0
    with SpiderDatabases(args.spider, now) as databases, args.out.open("w", encoding="utf-8") as out:
        for line in tqdm(lines, desc="prompts compared"):
            position = json.loads(line)["position"]
            row = rows[position]
            db = databases.database(row.db_id)
            if prompt_text(row.question, db, before) == prompt_text(row.question, db, now):
                out.write(line + "\n")
                kept += 1
            else:
                changed += 1
    print(f"{kept} lines kept, {changed} dropped (their prompt changed): {args.out}")


if __name__ == "__main__":
    main()
