"""Adopt a freshly trained adapter only if it is not worse than the one users have now.

Both adapters are scored with the product's evaluator (``evaluate_know_sql``) on the same dev
rows, which no training config ever trains on; the candidate replaces ``sqlchat/adapters/<model>``
only when its execution accuracy is at least the current one's. The previous adapter is kept
next to it (``default.previous``), so a bad adoption is one rename away from undone.

    .venv/bin/python scripts/adopt_adapter.py ./qlora-out/sql-cpu-feedback --limit 200

Prints one JSON object with both figures. Exit code 0: adopted; 1: kept the current adapter;
2: the candidate or the dev file could not be used.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAINED_MODEL = "smollm2-135m"  # the model the CPU recipes (configs/sql-cpu*.yml) train an adapter for
sys.path.insert(0, str(ROOT))

from sqlchat.config import NO_ADAPTER, Settings  # noqa: E402
from sqlchat.errors import SqlchatError  # noqa: E402
from sqlchat.evaluation.runner import evaluate_know_sql  # noqa: E402
from sqlchat.models.backends import load_backend  # noqa: E402
from sqlchat.models.registry import MODELS  # noqa: E402

DEFAULT_DEV = ROOT.parent / "shared" / "data" / "sql-create-context" / "dev.jsonl"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", "train_summary.json")
EXIT_ADOPTED, EXIT_KEPT, EXIT_UNUSABLE = 0, 1, 2


def is_adapter(folder: Path) -> bool:
    return (folder / "adapter_config.json").is_file()


def score(adapter: str, dev: Path, limit: int | None, settings: Settings) -> dict:
    """Execution accuracy and exact match of the embedded model with ``adapter`` on ``dev``."""
    settings = settings.with_model(model=TRAINED_MODEL, adapter=adapter)
    backend = load_backend(settings.model)
    try:
        report = evaluate_know_sql(dev, backend, settings, limit=limit)
    finally:
        del backend
        gc.collect()  # one model in memory at a time
    summary = report.summary()
    return {"adapter": adapter, **{key: summary[key] for key in ("n", "execution_accuracy", "exact_match", "unscorable")}}


def should_adopt(current: float | None, candidate: float | None) -> bool:
    """Not worse: a tie adopts (the candidate has seen the users' answers), no score never does."""
    return candidate is not None and (current is None or candidate >= current)


def install(candidate: Path, target: Path) -> None:
    """Copy the adapter files into ``target``, keeping the old folder as ``<target>.previous``."""
    staging = target.with_name(target.name + ".new")
    backup = target.with_name(target.name + ".previous")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in ADAPTER_FILES:
        if (candidate / name).is_file():
            shutil.copy2(candidate / name, staging / name)
    if target.exists():
        shutil.rmtree(backup, ignore_errors=True)
        target.rename(backup)
    staging.rename(target)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("candidate", type=Path, help="the trained adapter folder (adapter_config.json inside)")
    parser.add_argument("dev", type=Path, nargs="?", default=DEFAULT_DEV, help="know_sql dev file (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=200, help="dev questions, evenly spread (default: %(default)s)")
    parser.add_argument("--target", type=Path, default=MODELS[TRAINED_MODEL].adapter_dir, help="the adapter users get (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="compare only, never copy")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not is_adapter(args.candidate):
        print(f"error: {args.candidate} holds no adapter (adapter_config.json)", file=sys.stderr)
        return EXIT_UNUSABLE
    settings = Settings.from_env()
    try:
        current = score(str(args.target) if is_adapter(args.target) else NO_ADAPTER, args.dev, args.limit, settings)
        candidate = score(str(args.candidate), args.dev, args.limit, settings)
    except SqlchatError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return EXIT_UNUSABLE
    adopted = should_adopt(current["execution_accuracy"], candidate["execution_accuracy"])
    if adopted and not args.dry_run:
        install(args.candidate, args.target)
    print(json.dumps({"dev": str(args.dev), "limit": args.limit, "current": current, "candidate": candidate,
                      "adopted": adopted and not args.dry_run, "would_adopt": adopted}, indent=2))
    return EXIT_ADOPTED if adopted and not args.dry_run else EXIT_KEPT


if __name__ == "__main__":
    sys.exit(main())
