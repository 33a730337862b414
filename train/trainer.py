"""Train a LoRA/QLoRA adapter with transformers' Trainer (accelerate underneath for several GPUs).

What sqlchat adds over a plain Trainer run: Axolotl's config keys, answer-only
labels, length-grouped batches (our ``sample_packing``: similar lengths share a
batch so almost no compute is spent on padding, with no cross-example
attention), JSON-lines logs, a loss-curve PNG and automatic resume.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

import torch
from transformers import DataCollatorForSeq2Seq, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .config import TrainConfig
from .data import IGNORE_INDEX, check_local_files, prepare_data
from .model import load_model_for_training

log = logging.getLogger(__name__)
LOG_FILE = "train_log.jsonl"
LOSS_PLOT = "loss.png"


class JsonLinesLogger(TrainerCallback):
    """Append every log event (loss, eval_loss, learning rate, speed) to ``train_log.jsonl``."""

    def __init__(self, path: Path):
        self.path = path
        self.started = time.time()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        record = {"step": state.global_step, "epoch": state.epoch, "elapsed_s": round(time.time() - self.started, 1), **logs}
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def bf16_enabled(config: TrainConfig) -> bool:
    """``bf16: auto`` uses bf16 where the hardware supports it (on CPUs: autocast, faster with AMX)."""
    if config.bf16 == "auto":
        return torch.cuda.is_bf16_supported() if torch.cuda.is_available() else True
    return bool(config.bf16)


def steps_per_epoch(n_rows: int, config: TrainConfig) -> int:
    world = int(os.environ.get("WORLD_SIZE", "1"))  # set by accelerate/torchrun
    return max(1, math.ceil(n_rows / (config.micro_batch_size * config.gradient_accumulation_steps * world)))


def training_arguments(config: TrainConfig, n_train: int, has_eval: bool) -> TrainingArguments:
    per_epoch = steps_per_epoch(n_train, config)
    eval_steps = config.eval_steps or (max(1, per_epoch // config.evals_per_epoch) if config.evals_per_epoch else None)
    save_steps = config.save_steps or (max(1, per_epoch // config.saves_per_epoch) if config.saves_per_epoch else per_epoch)
    return TrainingArguments(
        output_dir=config.output_dir,
        per_device_train_batch_size=config.micro_batch_size,
        per_device_eval_batch_size=config.micro_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        num_train_epochs=config.num_epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps if config.warmup_ratio is None else int(config.warmup_ratio * per_epoch * config.num_epochs),
        optim=config.optimizer,
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        bf16=bf16_enabled(config),
        fp16=config.fp16,
        tf32=config.tf32 if torch.cuda.is_available() else None,
        logging_steps=config.logging_steps,
        eval_strategy="steps" if has_eval and eval_steps else "no",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        data_seed=config.seed,
        train_sampling_strategy="group_by_length" if config.sample_packing else "random",
        length_column_name="length",
        report_to=[],
        remove_unused_columns=False,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
    )


def resume_checkpoint(config: TrainConfig) -> str | bool | None:
    """An explicit ``resume_from_checkpoint``, else the last checkpoint in ``output_dir`` if any."""
    if config.resume_from_checkpoint:
        return config.resume_from_checkpoint
    if config.auto_resume_from_checkpoints and Path(config.output_dir).is_dir():
        return last_complete_checkpoint(Path(config.output_dir))
    return None


def last_complete_checkpoint(output_dir: Path) -> str | None:
    """The newest checkpoint whose save finished, skipping one cut off mid-write.

    A run killed while saving leaves ``checkpoint-N`` without ``trainer_state.json``
    (the Trainer writes it last); resuming from it would crash, so fall back to the
    previous one.
    """
    numbered = []
    for path in output_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        suffix = path.name.rsplit("-", 1)[-1]
        if path.is_dir() and suffix.isdigit():
            numbered.append((int(suffix), path))
    for _, path in sorted(numbered, reverse=True):
        if (path / "trainer_state.json").is_file():
            return str(path)
        log.warning("Skipping %s: its save did not finish (no trainer_state.json)", path.name)
    return None


def plot_losses(output_dir: Path) -> Path | None:
    """Draw train and eval loss from the JSON-lines log into ``loss.png``."""
    log_path = output_dir / LOG_FILE
    if not log_path.exists():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    evals = [(r["step"], r["eval_loss"]) for r in records if "eval_loss" in r]
    figure, axes = plt.subplots(figsize=(7, 4))
    for points, label in ((train, "train loss"), (evals, "eval loss")):
        if points:
            axes.plot(*zip(*points), label=label, marker="o" if label == "eval loss" else None)
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.legend()
    axes.grid(alpha=0.3)
    path = output_dir / LOSS_PLOT
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def run_training(config: TrainConfig) -> dict:
    """Train, save the adapter to ``output_dir`` and return a summary (also written as JSON)."""
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    check_local_files([*config.datasets, *config.test_datasets])  # now, not after minutes of loading the model
    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_model_for_training(config)
    data = prepare_data(config, tokenizer)
    log.info("Training rows: %d, eval rows: %d, dropped as too long: %d",
             len(data.train), len(data.eval) if data.eval is not None else 0, data.dropped_too_long)
    trainer = Trainer(
        model=model,
        args=training_arguments(config, len(data.train), data.eval is not None),
        train_dataset=data.train,
        eval_dataset=data.eval,
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX),
        callbacks=[JsonLinesLogger(output_dir / LOG_FILE)],
    )
    started = time.time()
    result = trainer.train(resume_from_checkpoint=resume_checkpoint(config))
    metrics = dict(result.metrics)
    if data.eval is not None:
        metrics.update(trainer.evaluate())
    if trainer.is_world_process_zero():
        trainer.model.save_pretrained(output_dir)
        plot_losses(output_dir)
    summary = {
        "base_model": config.base_model,  # publish_adapter.py reads which model the adapter is for
        "prompt_style": config.style,
        "train_rows": len(data.train),
        "eval_rows": len(data.eval) if data.eval is not None else 0,
        "dropped_too_long": data.dropped_too_long,
        "train_tokens": int(sum(data.train["length"])),
        "wall_s": round(time.time() - started, 1),
        "global_step": trainer.state.global_step,
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()},
    }
    if trainer.is_world_process_zero():
        (output_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
    return summary
