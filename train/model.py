"""Load the base model (optionally 4-bit NF4 / 8-bit) and wrap it with a LoRA adapter."""

from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

from sqlchat.config import ModelConfig
from sqlchat.models.store import resolve_model_path

from .config import EMBEDDED_BASE, TrainConfig
LINEAR_TARGETS_FALLBACK = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def base_model_path(config: TrainConfig) -> str:
    """A folder or hub id for ``from_pretrained``; ``embedded`` means the bundled SmolLM2, an embedded
    model's short name its GGUF file dequantized once (cached in ~/.cache/sqlchat)."""
    model = None if config.base_model == EMBEDDED_BASE else config.base_model
    return resolve_model_path(model, ModelConfig().cache_dir)


def quantization_config(config: TrainConfig) -> BitsAndBytesConfig | None:
    """QLoRA: 4-bit NF4 with double quantization (bitsandbytes also runs these layers on the CPU)."""
    if config.quantize_4bit:
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if config.bf16 else torch.float32,
        )
    if config.load_in_8bit:
        return BitsAndBytesConfig(load_in_8bit=True)
    return None


def load_tokenizer(config: TrainConfig, model_path: str):
    tokenizer = AutoTokenizer.from_pretrained(config.tokenizer or model_path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def target_modules(model, config: TrainConfig) -> list[str] | str:
    """``lora_target_linear`` means every linear layer but the output head, as in Axolotl."""
    if config.lora_target_modules:
        return config.lora_target_modules
    if config.lora_target_linear:
        return "all-linear"
    return LINEAR_TARGETS_FALLBACK[:4]


def load_model_for_training(config: TrainConfig):
    """(peft model, tokenizer) ready for the Trainer."""
    model_path = base_model_path(config)
    tokenizer = load_tokenizer(config, model_path)
    quant = quantization_config(config)
    model = AutoModelForCausalLM.from_pretrained(
        model_path,
        quantization_config=quant,
        dtype=torch.float32 if quant is None else None,
    )
    if quant is not None:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    elif config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    if config.lora_model_dir:
        model = PeftModel.from_pretrained(model, config.lora_model_dir, is_trainable=True)
    else:
        lora = LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=target_modules(model, config),
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    if config.base_spec is not None:  # name the hub model, not our cache folder, for vLLM and peft users
        model.peft_config["default"].base_model_name_or_path = config.base_spec.hub_id
    return model, tokenizer


def load_for_inference(base: str, adapter: str | Path | None):
    """(model, tokenizer) of a base plus an optional adapter, for the infer and merge commands."""
    model_path = resolve_model_path(None if base == EMBEDDED_BASE else base, ModelConfig().cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    if adapter:
        model = PeftModel.from_pretrained(model, str(adapter))
    return model.eval(), tokenizer
