"""Training speed: sqlchat's trainer against a plain transformers Trainer baseline, side by side.

Both train the same LoRA (configs/sql-cpu.yml settings) on the same rows of the same model for the
same number of optimizer steps, each in its own subprocess so peak memory is its own:

- ``sqlchat``: length-grouped batches (``sample_packing``), dynamic padding, bf16 autocast as configured;
- ``baseline``: transformers' Trainer with default collation (every row padded to ``sequence_len``),
  random batches, fp32 — what a first LoRA script usually looks like.

    .venv/bin/python benchmarks/bench_train.py --rows 128 --steps 6 --micro-batch 4

Prints one JSON object per run and the ratio (sqlchat / baseline) of examples/s and tokens/s.
To compare settings of one recipe instead (precision, LoRA targets, rank), time only sqlchat's
trainer, once per ``--set`` group:

    nice -n 10 .venv/bin/python benchmarks/bench_train.py --config configs/sql-cpu-qwen.yml --only sqlchat \
        --rows 12 --steps 3 --micro-batch 4 --variant bf16=false --variant bf16=true

Each run also reports the process's CPU seconds: on a shared machine, tokens per CPU-second x cores
estimates what a quiet machine would do, where wall-clock tokens/s only says how busy it was.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_one(mode: str, config_path: str, rows: int, steps: int, micro_batch: int | None, overrides: str = "") -> dict:
    import torch
    from transformers import Trainer, TrainingArguments, default_data_collator

    from train.config import load_config
    from train.data import prepare_data
    from train.model import load_model_for_training
    from train.trainer import training_arguments

    config = load_config(config_path)
    for key, value in parse_overrides(overrides).items():
        setattr(config, key, value)
    config.max_rows, config.val_set_size, config.max_steps = rows, 0, steps
    config.micro_batch_size = micro_batch or config.micro_batch_size
    config.output_dir = f"/tmp/sqlchat-bench-{mode}"
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    model, tokenizer = load_model_for_training(config)
    data = prepare_data(config, tokenizer).train
    real_tokens_per_row = sum(data["length"]) / len(data)
    args = training_arguments(config, len(data), has_eval=False)
    if mode == "baseline":
        pad = tokenizer.pad_token_id

        def pad_row(row):
            extra = config.sequence_len - len(row["input_ids"])
            return {"input_ids": row["input_ids"] + [pad] * extra, "attention_mask": row["attention_mask"] + [0] * extra,
                    "labels": row["labels"] + [-100] * extra}

        data = data.map(pad_row, remove_columns=["length"])
        args = TrainingArguments(**{**args.to_dict(), "bf16": False, "train_sampling_strategy": "random",
                                    "save_strategy": "no", "logging_steps": 1000})
        collator = default_data_collator
    else:
        from transformers import DataCollatorForSeq2Seq

        args.save_strategy = "no"
        collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=collator)
    started, cpu_started = time.perf_counter(), time.process_time()
    trainer.train()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    examples = steps * config.micro_batch_size * config.gradient_accumulation_steps
    return {
        "mode": mode,
        "settings": overrides,
        "steps": steps,
        "examples_per_s": round(examples / seconds, 3),
        "tokens_per_s": round(examples * real_tokens_per_row / seconds, 1),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "tokens_per_cpu_s": round(examples * real_tokens_per_row / cpu_seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def parse_overrides(text: str) -> dict:
    """``bf16=true,lora_r=8,lora_target_modules=[q_proj,v_proj]`` -> config values (YAML-typed)."""
    import yaml

    if not text:
        return {}
    pairs = [item.split("=", 1) for item in text.split(";")]
    return {key.strip(): yaml.safe_load(value) for key, value in pairs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "sql-cpu.yml"))
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--micro-batch", type=int, help="override micro_batch_size (padding to sequence_len needs far more memory)")
    parser.add_argument("--only", choices=["sqlchat", "baseline"], help="time one trainer, no ratio")
    parser.add_argument("--variant", action="append", default=[],
                        help="config values for one run, KEY=VALUE;KEY=VALUE (repeat to compare settings; needs --only)")
    parser.add_argument("--mode", choices=["sqlchat", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--overrides", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_one(args.mode, args.config, args.rows, args.steps, args.micro_batch, args.overrides)))
        return 0
    results = {}
    runs = [(args.only, variant) for variant in args.variant or [""]] if args.only else [("baseline", ""), ("sqlchat", "")]
    for mode, variant in runs:
        out = subprocess.run([sys.executable, __file__, "--mode", mode, "--config", args.config, "--rows", str(args.rows),
                              "--steps", str(args.steps), "--overrides", variant]
                             + (["--micro-batch", str(args.micro_batch)] if args.micro_batch else []),
                             cwd=ROOT, capture_output=True, text=True, check=True)
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(results[mode]), flush=True)
    if args.only:
        return 0
    ratio = {k: round(results["sqlchat"][k] / results["baseline"][k], 2) for k in ("examples_per_s", "tokens_per_s")}
    print(json.dumps({"ratio_sqlchat_over_baseline": ratio}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
