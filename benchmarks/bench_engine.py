"""llama.cpp's raw speed on this machine: prompt reading and generation, tokens per second, for each thread count.

The engine's latency is these two rates times a question's tokens (the schema and question read, the SQL
written), so this tells a slow machine from a slow change. The guide's figures for the 2-core machines
(AVX-512 + AMX): 1.5B Q4_K_M, one thread, ~90 tokens/s reading and ~26 writing.

    .venv/bin/python benchmarks/bench_engine.py [--model qwen2.5-coder-1.5b] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import time

from sqlchat.config import Settings
from sqlchat.models.store import installed_gguf

PROMPT = b"CREATE TABLE Invoice (InvoiceId INTEGER, CustomerId INTEGER, Total NUMERIC, BillingCountry TEXT);\n" * 20


def rates(path: str, threads: int, prompt_tokens: int = 500, new_tokens: int = 64) -> tuple[float, float]:
    """(prompt tokens/s, generated tokens/s) for one fresh model with ``threads`` threads."""
    from llama_cpp import Llama

    llama = Llama(path, n_ctx=2048, n_batch=512, n_threads=threads, n_threads_batch=threads, verbose=False)
    tokens = llama.tokenize(PROMPT)[:prompt_tokens]
    started = time.perf_counter()
    llama.eval(tokens)
    reading = len(tokens) / (time.perf_counter() - started)
    started, written = time.perf_counter(), 0
    for _ in llama.generate(llama.tokenize(b" SELECT", add_bos=False), temp=0.0, reset=False):
        written += 1
        if written >= new_tokens:
            break
    return reading, written / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="an embedded llama.cpp model's name (default: the default)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    settings = Settings.from_env()
    found = installed_gguf(args.model or settings.model.model, settings.model.cache_dir)
    if found is None:
        raise SystemExit("Give an embedded llama.cpp model: see `sqlchat models`.")
    spec, path = found[0], str(found[1])
    print("| model | threads | prompt tokens/s | generated tokens/s |\n|---|---|---|---|")
    for threads in args.threads:
        reading, writing = rates(path, threads)
        print(f"| {spec.name} | {threads} | {reading:.1f} | {writing:.1f} |")


if __name__ == "__main__":
    main()
