"""Training data: know_sql rows (question, context, answer) to token ids with answer-only labels.

Rows come from a hub dataset (``knowrohit07/know_sql``, for users with internet)
or local json/jsonl files, through ``datasets``. The text is built by
:mod:`sqlchat.prompt`, the module the engine uses at inference.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from datasets import Dataset, concatenate_datasets, load_dataset

from sqlchat.errors import ConfigError
from sqlchat.history.retrieval import rank_similar
from sqlchat.prompt import CHATML_END, Turn, build_training_text

from .config import DatasetSpec, TrainConfig
from .features import sql_features

log = logging.getLogger(__name__)
IGNORE_INDEX = -100
REQUIRED_FIELDS = ("question", "context", "answer")
MAX_EXAMPLES = 3  # the engine retrieves up to 3 verified pairs per question (HistoryStore.similar_examples)
# WikiSQL's anonymous table names repeat across unrelated tables: a shared name proves nothing.
_ANONYMOUS_TABLE = re.compile(r"table_(name_)?\d+$", re.I)


@dataclass
class PreparedData:
    train: Dataset
    eval: Dataset | None
    dropped_too_long: int


def check_local_files(specs: list[DatasetSpec]) -> None:
    """Fail before the model loads when a dataset written as a local file is not there, naming the command that
    makes one from the app's verified answers (the feedback configs train on such a file)."""
    for spec in specs:
        path = spec.path
        local = path.startswith(("./", "../", "/", "~")) or path.endswith((".json", ".jsonl"))
        if local and not Path(path).expanduser().exists():
            raise ConfigError(f"The dataset file {path!r} does not exist (a relative path is read from {Path.cwd()}).",
                              f"Users' verified answers become such a file with: sqlchat export-training --out {path}")


def _load_one(spec: DatasetSpec) -> Dataset:
    """Load one dataset entry from a local file/folder or the hub."""
    local = Path(spec.path).expanduser()
    split = spec.split or "train"
    try:
        if local.is_file():
            data = load_dataset("json", data_files=str(local), split="train")
        elif local.is_dir():
            files = [str(local / f) for f in spec.data_files] if spec.data_files else None
            data = load_dataset("json", data_files=files, split="train") if files else load_dataset(str(local), split=split)
        else:
            data = load_dataset(spec.path, spec.name, data_files=spec.data_files, split=split)
    except ConfigError:
        raise
    except Exception as error:  # datasets raises many types; the user needs one sentence
        raise ConfigError(
            f"Could not load the dataset {spec.path!r} (split {split!r}). "
            "Without internet, point 'path' at a local .json/.jsonl file.",
            str(error),
        ) from error
    missing = [name for name in REQUIRED_FIELDS if name not in data.column_names]
    if missing:
        raise ConfigError(f"The dataset {spec.path!r} lacks the field(s) {', '.join(missing)} of the know_sql format.")
    return data.select_columns(list(REQUIRED_FIELDS))


def chosen_rows(data: Dataset, spec: DatasetSpec, seed: int) -> Dataset:
    """The entry's ``select`` (rows whose answer uses one of those SQL features), then at most
    ``max_rows`` of them, a sample seeded like the rest of the run (the same rows every time)."""
    if spec.select:
        wanted = set(spec.select)
        data = data.filter(lambda row: bool(sql_features(row["answer"]) & wanted), desc=f"Selecting {', '.join(spec.select)}")
    if spec.max_rows is not None and spec.max_rows < len(data):
        data = data.shuffle(seed=seed).select(range(spec.max_rows))
    return data


def load_rows(specs: list[DatasetSpec], seed: int = 0) -> Dataset:
    """All rows of all listed datasets (each narrowed by its ``select``/``max_rows``), in order,
    each dataset ``repeat`` times."""
    return concatenate_datasets([data for spec in specs for data in [chosen_rows(_load_one(spec), spec, seed)] * spec.repeat])


_CREATE = re.compile(r"CREATE TABLE\s+(\S+)\s*\((.*)\)\s*$", re.S)


def _split_tables(context: str) -> list[tuple[str, list[str]]]:
    """``CREATE TABLE a (x INT, y TEXT); CREATE TABLE b (...)`` -> [(a, [x INT, y TEXT]), (b, [...])]."""
    tables = []
    for statement in context.split("; "):
        match = _CREATE.match(statement.strip().rstrip(";"))
        if not match:
            return []
        tables.append((match[1], [column.strip() for column in match[2].split(",")]))
    return tables


def add_distractors(rows: Dataset, fraction: float, seed: int) -> Dataset:
    """Give ``fraction`` of the rows extra columns and tables that the answer does not use.

    sql-create-context lists exactly the columns its answer uses, so a model trained on it
    learns to use every column it is shown, and fails on real schemas, where most columns are
    irrelevant. Distractors drawn from other rows teach it to choose.
    """
    if not fraction:
        return rows
    rng = random.Random(seed)
    parsed = [_split_tables(context) for context in rows["context"]]
    column_pool = [column for tables in parsed for _, columns in tables for column in columns]
    table_pool = [table for tables in parsed for table in tables]

    def widen(context: str, index: int) -> str:
        tables = parsed[index]
        if not tables or rng.random() >= fraction:
            return context
        widened = []
        for name, columns in tables:
            used = {column.split()[0].lower() for column in columns}
            extra = [c for c in rng.sample(column_pool, k=rng.randint(2, 8)) if c.split()[0].lower() not in used]
            mixed = columns + list(dict.fromkeys(extra))
            rng.shuffle(mixed)
            widened.append((name, mixed))
        names = {name.lower() for name, _ in tables}
        for name, columns in rng.sample(table_pool, k=rng.randint(0, 3)):
            if name.lower() not in names:
                names.add(name.lower())
                widened.insert(rng.randint(0, len(widened)), (name, columns))
        return "; ".join(f"CREATE TABLE {name} ({', '.join(columns)})" for name, columns in widened)

    return rows.map(lambda row, index: {"context": widen(row["context"], index)}, with_indices=True,
                    desc="Adding distractor columns and tables")


def _table_sets(contexts: list[str]) -> list[frozenset[str]]:
    """Each context's table names, lowercased (empty when the context is not plain ``CREATE TABLE`` statements)."""
    return [frozenset(name.lower() for name, _ in _split_tables(context)) for context in contexts]


def _normalized(text: str) -> str:
    """Text compared as a person would: case and spacing do not make a question (or a query) different."""
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class _Solved:
    """A training row as a retrieval candidate (the shape :func:`sqlchat.history.retrieval.rank_similar` ranks)."""

    id: int
    question: str


def add_examples(rows: Dataset, fraction: float, seed: int) -> Dataset:
    """Show ``fraction`` of the rows that can have them up to 3 solved rows about the same tables.

    At inference the engine puts users' verified pairs for the schema in the prompt as examples.
    A model never trained with examples ignores them; these rows teach it to use them. Examples
    are chosen as the engine chooses them (:func:`sqlchat.history.retrieval.rank_similar`, with its
    similarity threshold) among other rows whose tables all appear in this row's context, so
    they are answers that could run on it (Spider's many questions per database supply them).
    The result has an ``examples`` column: JSON ``[[question, answer], ...]``, ``"[]"`` for none.
    """
    if not fraction:
        return rows.map(lambda _: {"examples": "[]"}, desc="No examples")
    rng = random.Random(seed + 1)
    questions, answers = rows["question"], rows["answer"]
    tables = _table_sets(rows["context"])
    by_table: dict[str, set[int]] = defaultdict(set)
    for index, names in enumerate(tables):
        for name in names:
            if not _ANONYMOUS_TABLE.match(name):
                by_table[name].add(index)

    def examples_for(index: int) -> str:
        if rng.random() >= fraction:
            return "[]"
        near = set().union(*(by_table.get(name, set()) for name in tables[index]))
        own = _normalized(questions[index])
        candidates = [_Solved(other, questions[other]) for other in sorted(near)
                      if other != index and tables[other] <= tables[index] and _normalized(questions[other]) != own]
        ranked = rank_similar(questions[index], candidates, k=rng.randint(1, MAX_EXAMPLES))
        return json.dumps([[questions[pair.id], answers[pair.id]] for _, pair in ranked])

    return rows.map(lambda _, index: {"examples": examples_for(index)}, with_indices=True,
                    desc="Adding solved examples")


def add_followups(rows: Dataset, fraction: float, seed: int) -> Dataset:
    """Make ``fraction`` of the rows follow-ups: another row's question and gold SQL on the same tables come first.

    At inference the engine shows a follow-up the conversation's earlier turns (:class:`sqlchat.prompt.Turn`);
    a model trained only on standalone questions has never read that layout. The earlier turn is a row with
    exactly this row's tables (Spider's many questions per database supply them; WikiSQL's anonymous tables
    never pair) and a different question and SQL, chosen with ``seed``; rows without one stay standalone.
    The result has an ``earlier`` column, JSON ``[[question, sql]]`` (``"[]"`` for none), that
    :func:`tokenize_row` lays out as the engine lays out a conversation; with ``fraction`` 0 the rows are unchanged.
    """
    if not fraction:
        return rows
    rng = random.Random(seed + 2)
    questions, answers = rows["question"], rows["answer"]
    tables = _table_sets(rows["context"])
    by_tables: dict[frozenset[str], list[int]] = defaultdict(list)
    for index, names in enumerate(tables):
        if names and not any(_ANONYMOUS_TABLE.match(name) for name in names):
            by_tables[names].append(index)

    def earlier_for(index: int) -> str:
        if rng.random() >= fraction:
            return "[]"
        own = (_normalized(questions[index]), _normalized(answers[index]))
        partners = [other for other in by_tables.get(tables[index], [])
                    if _normalized(questions[other]) != own[0] and _normalized(answers[other]) != own[1]]
        if not partners:
            return "[]"
        partner = rng.choice(partners)
        return json.dumps([[questions[partner], answers[partner]]])

    return rows.map(lambda _, index: {"earlier": earlier_for(index)}, with_indices=True,
                    desc="Adding earlier turns (follow-ups)")


def tokenize_row(row: dict, tokenizer, sequence_len: int, train_on_inputs: bool, style: str = "seed") -> dict:
    """Token ids and labels for one row; labels mask the prompt unless ``train_on_inputs``.

    ``chat``: the prompt is the model's own chat template as the engine renders it (the template
    the tokenizer carries is the GGUF file's), and the completion ends the turn with
    ``<|im_end|>``, the token llama.cpp stops on; ``seed``: plain text ended by the EOS token.
    The prompt is tokenized on its own, as the engine feeds it before generating.
    """
    examples = [tuple(pair) for pair in json.loads(row.get("examples") or "[]")]
    # a conversation row: the earlier turns as [question, sql] pairs, laid out as the engine shows a follow-up's
    earlier = [Turn(question, sql) for question, sql in json.loads(row.get("earlier") or "[]")]
    template = getattr(tokenizer, "chat_template", None) if style == "chat" else None
    prompt, completion = build_training_text(row["context"], row["question"], row["answer"], examples=examples,
                                             style=style, chat_template=template if isinstance(template, str) else None,
                                             earlier=earlier)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    if style != "chat" or answer_ids[-1] != tokenizer.convert_tokens_to_ids(CHATML_END):
        answer_ids.append(tokenizer.eos_token_id)
    input_ids = prompt_ids + answer_ids
    labels = input_ids.copy() if train_on_inputs else [IGNORE_INDEX] * len(prompt_ids) + answer_ids
    return {
        "input_ids": input_ids,
        "attention_mask": [1] * len(input_ids),
        "labels": labels,
        "length": len(input_ids),
        "keep": len(input_ids) <= sequence_len,
    }


def tokenize(rows: Dataset, tokenizer, config: TrainConfig) -> tuple[Dataset, int]:
    """Tokenize ``rows``; drop and count those longer than ``sequence_len``."""
    tokenized = rows.map(
        tokenize_row,
        fn_kwargs={"tokenizer": tokenizer, "sequence_len": config.sequence_len, "train_on_inputs": config.train_on_inputs,
                   "style": config.style},
        remove_columns=rows.column_names,
        desc="Tokenizing",
    )
    kept = tokenized.filter(lambda row: row["keep"], desc="Dropping over-long rows")
    dropped = len(tokenized) - len(kept)
    if dropped:
        log.warning("Dropped %d rows longer than sequence_len=%d tokens", dropped, config.sequence_len)
    return kept.remove_columns("keep"), dropped


def prepare_data(config: TrainConfig, tokenizer) -> PreparedData:
    """Load, tokenize and split the data deterministically (seeded shuffle, then hold-out)."""
    rows = load_rows(config.datasets, config.seed).shuffle(seed=config.seed)
    if config.max_rows:
        rows = rows.select(range(min(config.max_rows, len(rows))))
    rows = add_examples(rows, config.context_examples, config.seed)  # before distractors: they widen contexts
    rows = add_followups(rows, config.context_followups, config.seed)
    rows = add_distractors(rows, config.context_distractors, config.seed)
    train_rows, eval_rows = rows, None
    if config.test_datasets:
        eval_rows = load_rows(config.test_datasets, config.seed)
    elif config.val_set_size:
        size = config.val_set_size if config.val_set_size < 1 else int(config.val_set_size)
        split = rows.train_test_split(test_size=size, seed=config.seed, shuffle=False)
        train_rows, eval_rows = split["train"], split["test"]
    train, dropped = tokenize(train_rows, tokenizer, config)
    evaluation = tokenize(eval_rows, tokenizer, config)[0] if eval_rows is not None else None
    if len(train) == 0:
        raise ConfigError("No training rows are left: every row is longer than sequence_len.")
    return PreparedData(train=train, eval=evaluation, dropped_too_long=dropped)
