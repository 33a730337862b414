"""How many prompt tokens the held-out suite makes llama.cpp read, under ways of keeping cache states.

No model runs: each question's prompt is built as the engine builds it (``pipeline.prompt_for``, as shipped) and
tokenized, in the suite's order. A question then reads what llama.cpp does not hold already: its schema prefix
after the longest start it shares with the cache (the last prompt, a kept state of the same prefix, or with
``partial`` any kept state's start, as ``PrefixStates`` does since the seventeenth session), then the rest of its
prompt. Kept states are the last ``capacity`` prefixes read. Tokens read cost time on a CPU (about 93 a second on
two Intel cores, docs/benchmarks.md), so fewer is faster; the time itself is measured side by side by ``sqlchat eval``.

    .venv/bin/python benchmarks/bench_prefix_reads.py --suite tests/data/heldout
"""

from __future__ import annotations

import argparse
import sys
from collections import OrderedDict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlchat.config import Settings  # noqa: E402
from sqlchat.evaluation.heldout import SuiteFiles, load_heldout  # noqa: E402
from sqlchat.evaluation.runner import as_scored  # noqa: E402
from sqlchat.models.backends import MIN_SHARED_TOKENS, shared_length  # noqa: E402
from sqlchat.models.registry import MODELS, DEFAULT_MODEL  # noqa: E402
from sqlchat.models.store import model_file  # noqa: E402
from sqlchat.pipeline import Draft, prompt_for  # noqa: E402
from sqlchat.prompt import render  # noqa: E402

ANSWER_TOKENS = 40  # what a question's answer adds to the cache after its prompt (then the next prompt parts from it)
POLICIES = ((8, False), (16, False), (64, False), (8, True), (16, True))  # (capacity, partial starts)


def prompts(suite: Path, settings: Settings, vocabulary) -> list[tuple[list[int], list[int]]]:
    """Each question's prompt tokens and its schema prefix's (the start that kept states hold)."""
    out = []
    with SuiteFiles(suite, settings) as databases:
        for row in load_heldout(suite):
            prompt = prompt_for(row.question, databases.database(row.db), settings, Draft(question=row.question))
            text = render(prompt, "chat")
            tokens = vocabulary.tokenize(text.encode(), add_bos=False, special=True)
            cut = text.find(prompt.context.strip()) + len(prompt.context.strip()) + 1
            prefix = vocabulary.tokenize(text[:cut].encode(), add_bos=False, special=True)
            out.append((tokens, prefix if tokens[: len(prefix)] == prefix else []))
    return out


def tokens_read(questions: list[tuple[list[int], list[int]]], capacity: int, partial: bool) -> int:
    states: OrderedDict[tuple[int, ...], None] = OrderedDict()
    cache: list[int] = []
    read = 0
    for tokens, prefix in questions:
        key = tuple(prefix)
        held = shared_length(cache, prefix)
        if prefix and held < len(prefix):
            if key in states:
                states.move_to_end(key)
                cache = list(key)
            else:
                start = max((shared_length(kept, key) for kept in states), default=0) if partial else 0
                if start > held + MIN_SHARED_TOKENS:
                    cache = list(key[:start])
                read += len(prefix) - shared_length(cache, prefix)
                cache = list(prefix)
                states[key] = None
                while len(states) > capacity:
                    states.popitem(last=False)
        read += len(tokens) - shared_length(cache, tokens)
        cache = list(tokens) + [-1] * ANSWER_TOKENS
    return read


def main() -> None:
    from llama_cpp import Llama

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default="tests/data/heldout")
    args = parser.parse_args()
    settings = as_scored(Settings.from_env())
    vocabulary = Llama(model_path=str(model_file(MODELS[DEFAULT_MODEL], settings.model.cache_dir)), vocab_only=True,
                       verbose=False)
    questions = prompts(Path(args.suite), settings, vocabulary)
    print(f"{len(questions)} prompts, {sum(len(t) for t, _ in questions) / len(questions):.0f} tokens on average")
    for capacity, partial in POLICIES:
        read = tokens_read(questions, capacity, partial)
        print(f"{capacity} kept states, {'partial starts' if partial else 'whole prefixes only'}: {read} tokens read "
              f"({read / len(questions):.0f} a question)")


if __name__ == "__main__":
    main()
