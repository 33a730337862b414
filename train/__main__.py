"""Command line: ``python -m train CONFIG.yml`` (also under ``accelerate launch -m train``).

    python -m train configs/sql-cpu.yml                 train (resumes from the last checkpoint)
    python -m train merge --adapter DIR --out DIR       fold an adapter into its base, full precision
    python -m train infer --adapter DIR --context "CREATE TABLE ..." --question "..."
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from sqlchat.errors import SqlchatError

from .config import EMBEDDED_BASE


def _train(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m train", description="Train a LoRA/QLoRA adapter from an Axolotl-style config.")
    parser.add_argument("config", help="YAML config, e.g. configs/sql-cpu.yml")
    parser.add_argument("--max-steps", type=int, help="override max_steps (quick trials)")
    parser.add_argument("--output-dir", help="override output_dir")
    args = parser.parse_args(argv)
    from .config import load_config
    from .trainer import run_training

    config = load_config(args.config)
    if args.max_steps:
        config.max_steps = args.max_steps
    if args.output_dir:
        config.output_dir = args.output_dir
    summary = run_training(config)
    print(json.dumps(summary, indent=2))
    return 0


def _merge(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m train merge", description="Merge an adapter into its base model (for serving without LoRA support).")
    parser.add_argument("--base", default=EMBEDDED_BASE, help="base model: short name, id or folder (default: the embedded SmolLM2)")
    parser.add_argument("--adapter", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    from .model import load_for_inference

    model, tokenizer = load_for_inference(args.base, args.adapter)
    merged = model.merge_and_unload()
    merged.save_pretrained(args.out, safe_serialization=True)
    tokenizer.save_pretrained(args.out)
    print(f"merged model written to {args.out}")
    return 0


def _infer(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m train infer", description="Try an adapter on one context and question.")
    parser.add_argument("--base", default=EMBEDDED_BASE, help="the base the adapter was trained on, as in its config's base_model")
    parser.add_argument("--adapter", help="adapter folder (omit for the bare base model)")
    parser.add_argument("--context", required=True, help="CREATE TABLE statements")
    parser.add_argument("--question", required=True)
    args = parser.parse_args(argv)
    from sqlchat.models.backends import LocalBackend
    from sqlchat.prompt import build_prompt

    from .config import TrainConfig
    from .model import load_for_inference

    model, tokenizer = load_for_inference(args.base, args.adapter)
    style = TrainConfig(base_model=args.base).style  # the rendering the recipes train this base on
    backend = LocalBackend.from_loaded(model, tokenizer, prompt_style=style)
    print(backend.generate(build_prompt(args.context, args.question))[0].sql)
    return 0


COMMANDS = {"merge": _merge, "infer": _infer, "train": _train}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    command = COMMANDS.get(argv[0]) if argv else None
    try:
        return command(argv[1:]) if command else _train(argv)
    except SqlchatError as error:
        print(f"error: {error.message}", file=sys.stderr)
        if error.detail:
            print(error.detail, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
