"""Model backends behind one small interface: a prompt in, SQL candidates out.

``LocalBackend`` runs a transformers model in-process (the embedded SmolLM2 by
default, any HF id/folder or GGUF file, an optional PEFT adapter, 4-bit NF4 on
CUDA). ``OpenAIBackend`` calls an OpenAI-compatible completions endpoint: vLLM
serving a base plus LoRA (``--enable-lora --lora-modules sql=qlora-out``), TGI,
llama.cpp's server or Ollama. Both return :class:`Generation` objects.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from .config import ModelConfig
from .errors import ConfigError, GenerationFailed, register_secret
from .prompt import ANSWER_END, extract_sql


@dataclass(frozen=True)
class Generation:
    text: str  # the raw completion
    sql: str  # the first statement in it
    tokens: int  # tokens generated
    seconds: float
    logprob: float | None = None  # mean log-probability per generated token; None when the backend cannot tell


class Backend(Protocol):
    name: str

    def generate(self, prompt: str, n: int = 1) -> list[Generation]:
        """Return ``n`` candidates for ``prompt``, best first."""
        ...


class LocalBackend:
    """A transformers model loaded once and shared between threads (Streamlit sessions)."""

    def __init__(self, model, tokenizer, name: str = "local", max_new_tokens: int = 160):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.max_new_tokens = max_new_tokens
        self._lock = threading.Lock()  # one generate at a time: on a CPU they would only contend

    @classmethod
    def from_config(cls, config: ModelConfig) -> "LocalBackend":
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from .model_store import resolve_model_path

        path = resolve_model_path(config.model, config.cache_dir)
        on_gpu = torch.cuda.is_available()
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForCausalLM.from_pretrained(path, **_load_kwargs(on_gpu))
        except OSError as error:
            raise ConfigError(f"The model {config.model or path!r} could not be loaded.", str(error)) from error
        adapter = config.adapter_path()
        if adapter:
            model = _with_adapter(model, adapter, merge=not on_gpu)
        name = f"{config.model or 'SmolLM2-135M-Instruct'}" + (f" + {adapter}" if adapter else "")
        return cls(model.eval(), tokenizer, name=name, max_new_tokens=config.max_new_tokens)

    @classmethod
    def from_loaded(cls, model, tokenizer, name: str = "local") -> "LocalBackend":
        return cls(model.eval(), tokenizer, name=name)

    def generate(self, prompt: str, n: int = 1) -> list[Generation]:
        import torch

        inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(self.model.device)
        options = dict(
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            num_beams=max(1, n),
            num_return_sequences=max(1, n),
            stop_strings=[ANSWER_END, "\n\n"],
            tokenizer=self.tokenizer,
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        )
        started = time.perf_counter()
        with self._lock, torch.inference_mode():
            output = self.model.generate(**inputs, **options)
        seconds = time.perf_counter() - started
        prompt_length = inputs["input_ids"].shape[1]
        generations = []
        for sequence in output:
            new_tokens = sequence[prompt_length:]
            new_tokens = new_tokens[new_tokens != options["pad_token_id"]]
            text = self.tokenizer.decode(new_tokens, skip_special_tokens=True)
            generations.append(Generation(text=text, sql=extract_sql(text), tokens=len(new_tokens), seconds=seconds))
        return generations


def _load_kwargs(on_gpu: bool) -> dict:
    """fp32 on the CPU (greedy decoding measured faster than bf16 there); 4-bit NF4 on CUDA."""
    import torch

    if not on_gpu:
        return {"dtype": torch.float32}
    from transformers import BitsAndBytesConfig

    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)
    return {"quantization_config": quant, "device_map": "auto"}


def _with_adapter(model, adapter: str, merge: bool):
    """Apply a PEFT adapter; on the CPU fold it into the weights so decoding pays nothing for it."""
    from peft import PeftModel

    try:
        model = PeftModel.from_pretrained(model, adapter)
    except (OSError, ValueError) as error:
        raise ConfigError(f"The adapter at {adapter} could not be loaded.", str(error)) from error
    return model.merge_and_unload() if merge else model


class OpenAIBackend:
    """An OpenAI-compatible ``/completions`` endpoint (vLLM, TGI, llama.cpp server, Ollama)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 60.0,
                 max_new_tokens: int = 160):
        if not base_url:
            raise ConfigError("The OpenAI-compatible backend needs a base URL, e.g. http://gpu-box:8000/v1.")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_new_tokens = max_new_tokens
        self.name = f"{model} @ {urlsplit(self.base_url).netloc}"
        register_secret(api_key)

    @classmethod
    def from_config(cls, config: ModelConfig) -> "OpenAIBackend":
        return cls(config.base_url or "", config.model or "sql", config.api_key, config.request_timeout_s, config.max_new_tokens)

    def generate(self, prompt: str, n: int = 1) -> list[Generation]:
        import requests

        payload = {"model": self.model, "prompt": prompt, "max_tokens": self.max_new_tokens, "temperature": 0.0 if n == 1 else 0.7,
                   "n": max(1, n), "stop": [ANSWER_END, "\n\n"]}
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        started = time.perf_counter()
        host = urlsplit(self.base_url).netloc
        try:
            response = requests.post(f"{self.base_url}/completions", json=payload, headers=headers, timeout=self.timeout_s)
        except requests.Timeout as error:
            raise GenerationFailed(f"The model server at {host} did not answer within {self.timeout_s:.0f} s.", str(error)) from error
        except requests.RequestException as error:
            raise GenerationFailed(f"The model server at {host} could not be reached.", str(error)) from error
        seconds = time.perf_counter() - started
        if response.status_code != 200:
            raise GenerationFailed(f"The model server at {host} answered with HTTP {response.status_code}.", response.text[:2000])
        try:
            body = response.json()
            choices = body["choices"]
            completion_tokens = body.get("usage", {}).get("completion_tokens", 0)
        except (ValueError, KeyError, TypeError) as error:
            raise GenerationFailed(f"The model server at {host} did not answer like an OpenAI-compatible API.", response.text[:2000]) from error
        per_choice = completion_tokens // max(1, len(choices))
        return [Generation(text=c.get("text", ""), sql=extract_sql(c.get("text", "")), tokens=per_choice, seconds=seconds)
                for c in choices]


BACKENDS = {"local": LocalBackend, "openai": OpenAIBackend}


def load_backend(config: ModelConfig) -> Backend:
    """The backend ``config`` names, loaded and ready."""
    backend_class = BACKENDS.get(config.backend)
    if backend_class is None:
        raise ConfigError(f"Unknown backend {config.backend!r}: use one of {', '.join(BACKENDS)}.")
    return backend_class.from_config(config)
