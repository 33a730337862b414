"""The trainer on a tiny randomly initialised Llama built here: fast enough for CI on a CPU."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sqlchat.errors import ConfigError
from sqlchat.prompt import Turn, build_prompt, render
from train.config import load_config, parse_config
from train.data import IGNORE_INDEX, load_rows, prepare_data
from train.model import load_tokenizer
from train.trainer import last_complete_checkpoint, run_training

ROOT = Path(__file__).resolve().parents[1]
ROWS = [
    {"question": f"How many {noun} are older than {age}?", "context": f"CREATE TABLE {noun} (age INTEGER, name VARCHAR{', country VARCHAR, joined DATE' * (age > 56)})",
     "answer": f"SELECT COUNT(*) FROM {noun} WHERE age > {age}"}
    for noun in ("head", "singer", "player", "teacher", "pilot", "artist")
    for age in (20, 30, 40, 56, 61)
]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer Llama with SmolLM2's tokenizer, random weights, saved as a local folder."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from sqlchat.config import ModelConfig
    from sqlchat.models.store import embedded_model_dir

    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir(ModelConfig().cache_dir))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         tie_word_embeddings=True)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture()
def data_file(tmp_path) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    return path


def tiny_config(tiny_model: Path, data_file: Path, output_dir: Path, **overrides) -> dict:
    config = {
        "base_model": str(tiny_model), "adapter": "lora", "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
        "lora_target_linear": True, "datasets": [{"path": str(data_file), "type": "know_sql"}],
        "val_set_size": 4, "sequence_len": 128, "sample_packing": True, "micro_batch_size": 8,
        "num_epochs": 1, "max_steps": 12, "learning_rate": 0.01, "lr_scheduler": "constant", "logging_steps": 1,
        "save_steps": 4, "output_dir": str(output_dir), "seed": 7, "bf16": False, "torch_threads": 1,
    }
    config.update(overrides)
    return config


def logged_losses(output_dir: Path) -> list[float]:
    records = [json.loads(line) for line in (output_dir / "train_log.jsonl").read_text().splitlines()]
    return [r["loss"] for r in records if "loss" in r]


@pytest.mark.parametrize("adapter", ["lora", "qlora"])
def test_a_few_steps_lower_the_loss_and_save_a_loadable_adapter(adapter, tiny_model, data_file, tmp_path):
    out = tmp_path / "out"
    summary = run_training(parse_config(tiny_config(tiny_model, data_file, out, adapter=adapter)))
    losses = logged_losses(out)
    assert summary["global_step"] == 12
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses
    assert (out / "adapter_model.safetensors").exists() and (out / "adapter_config.json").exists()
    assert (out / "loss.png").stat().st_size > 1000

    from sqlchat.config import ModelConfig
    from sqlchat.models.backends import TransformersBackend, load_backend

    backend = load_backend(ModelConfig(model=str(tiny_model), adapter=str(out), max_new_tokens=8))
    assert isinstance(backend, TransformersBackend)
    generations = backend.generate(build_prompt(ROWS[0]["context"], ROWS[0]["question"]))
    assert len(generations) == 1 and generations[0].tokens > 0


def test_answer_only_labels_and_the_engine_prompt_byte_for_byte(tiny_model, data_file):
    config = parse_config(tiny_config(tiny_model, data_file, Path("unused")))
    tokenizer = load_tokenizer(config, str(tiny_model))
    data = prepare_data(config, tokenizer)
    row = data.train[0]
    prompt_length = row["labels"].index(next(label for label in row["labels"] if label != IGNORE_INDEX))
    prompt_text = tokenizer.decode(row["input_ids"][:prompt_length])
    sent = {render(build_prompt(r["context"], r["question"]), "seed") for r in ROWS}
    assert prompt_text in sent, "the training prompt differs from what the engine sends"
    assert tokenizer(prompt_text, add_special_tokens=False)["input_ids"] == row["input_ids"][:prompt_length]
    answer = tokenizer.decode(row["input_ids"][prompt_length:], skip_special_tokens=True)
    assert answer.startswith("SELECT COUNT(*) FROM") and answer.endswith(";")


def test_over_long_rows_are_dropped_and_counted(tiny_model, data_file):
    config = parse_config(tiny_config(tiny_model, data_file, Path("unused"), val_set_size=0))
    tokenizer = load_tokenizer(config, str(tiny_model))
    lengths = sorted(prepare_data(config, tokenizer).train["length"])
    limit = lengths[-1] - 1
    config.sequence_len = limit
    data = prepare_data(config, tokenizer)
    assert data.dropped_too_long == sum(length > limit for length in lengths) > 0
    assert len(data.train) + data.dropped_too_long == len(ROWS)
    assert max(data.train["length"]) <= limit


def test_the_split_is_deterministic(tiny_model, data_file):
    config = parse_config(tiny_config(tiny_model, data_file, Path("unused")))
    tokenizer = load_tokenizer(config, str(tiny_model))
    first, second = prepare_data(config, tokenizer), prepare_data(config, tokenizer)
    assert first.eval["input_ids"] == second.eval["input_ids"]
    assert len(first.eval) == 4


@pytest.mark.parametrize(
    "change, named",
    [({"lora_rank": 8}, "lora_rank"), ({"adapter": "prefix"}, "adapter"), ({"datasets": []}, "datasets"),
     ({"datasets": [{"path": "x.jsonl", "type": "alpaca"}]}, "alpaca"),
     ({"datasets": [{"path": "x.jsonl", "typo": 1}]}, "typo"),
     ({"datasets": [{"path": "x.jsonl", "repeat": 0}]}, "repeat"), ({"context_examples": 1.5}, "context_examples"),
     ({"context_followups": 1.5}, "context_followups"), ({"context_followups": -0.1}, "context_followups"),
     ({"context_followups": "half"}, "context_followups"),
     ({"datasets": [{"path": "x.jsonl", "select": ["joins"]}]}, "select"),
     ({"datasets": [{"path": "x.jsonl", "max_rows": 0}]}, "max_rows"), ({"prompt_style": "alpaca"}, "prompt_style")],
)
def test_a_bad_config_key_is_a_clear_error_naming_it(change, named, tiny_model, data_file, tmp_path):
    raw = tiny_config(tiny_model, data_file, tmp_path) | change
    with pytest.raises(ConfigError) as error:
        parse_config(raw)
    assert named in error.value.message


def test_the_shipped_configs_parse():
    for path in sorted((ROOT / "configs").glob("*.yml")):
        config = load_config(path)
        assert config.datasets, path


def test_a_killed_run_resumes_from_its_last_checkpoint(tiny_model, data_file, tmp_path):
    out = tmp_path / "out"
    config_path = tmp_path / "run.yml"
    config_path.write_text(yaml.safe_dump(tiny_config(tiny_model, data_file, out, max_steps=40, save_steps=2)))
    command = [sys.executable, "-m", "train", str(config_path)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        while not list(out.glob("checkpoint-4")) and time.time() < deadline and process.poll() is None:
            time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # The kill may land mid-save: only checkpoints whose save finished count.
    checkpoints = sorted(
        int(p.name.split("-")[1]) for p in out.glob("checkpoint-*") if (p / "trainer_state.json").exists()
    )
    assert checkpoints, "no checkpoint was written before the kill"
    assert not (out / "train_summary.json").exists(), "the run finished before it could be killed"
    resumed_from = max(checkpoints)

    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    steps = [json.loads(line)["step"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    after_restart = steps[steps.index(max(s for s in steps if s <= resumed_from)) + 1:]
    assert json.loads((out / "train_summary.json").read_text())["global_step"] == 40
    assert min(after_restart) > resumed_from, "the second run started again from step 0"


def test_resume_skips_a_checkpoint_cut_off_mid_save(tmp_path):
    for step, finished in ((2, True), (4, True), (6, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if finished:
            (folder / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-notes").mkdir()
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-4")
    assert last_complete_checkpoint(tmp_path / "missing") is None


def test_repeat_weights_a_small_file_in_the_mix(tmp_path, data_file):
    feedback = tmp_path / "verified.jsonl"
    feedback.write_text(json.dumps({"question": "q?", "context": "CREATE TABLE t (a INT)", "answer": "SELECT a FROM t"}) + "\n")
    specs = parse_config({"datasets": [{"path": str(data_file)}, {"path": str(feedback), "repeat": 5}],
                          "output_dir": str(tmp_path / "out")}).datasets
    rows = load_rows(specs)
    assert len(rows) == len(ROWS) + 5 and rows["question"].count("q?") == 5


def test_rows_are_shown_solved_rows_about_the_same_tables_as_the_engine_shows_examples(tiny_model, data_file):
    from train.data import add_examples, tokenize_row

    rows = load_rows(parse_config({"datasets": [{"path": str(data_file)}]}).datasets)
    shown = add_examples(rows, 1.0, seed=3)
    for row in shown:
        examples = json.loads(row["examples"])
        assert 1 <= len(examples) <= 3, row  # every noun table has four other solved rows
        table = row["context"].split()[2]
        for question, answer in examples:
            assert question != row["question"] and f"FROM {table} " in answer + " "
    assert all(json.loads(e) == [] for e in add_examples(rows, 0.0, seed=3)["examples"])

    config = parse_config(tiny_config(tiny_model, data_file, Path("unused")))
    tokenizer = load_tokenizer(config, str(tiny_model))
    row = shown[0]
    tokens = tokenize_row(row, tokenizer, 512, train_on_inputs=False)
    prompt_length = sum(label == IGNORE_INDEX for label in tokens["labels"])
    examples = [tuple(pair) for pair in json.loads(row["examples"])]
    assert tokenizer.decode(tokens["input_ids"][:prompt_length]) == render(build_prompt(row["context"], row["question"], examples), "seed")

    earlier = [["How many rows?", "SELECT COUNT(*) FROM t"]]  # a conversation row: the follow-up after its turn
    follow_up = tokenize_row({**row, "earlier": json.dumps(earlier)}, tokenizer, 512, train_on_inputs=False)
    prompt_length = sum(label == IGNORE_INDEX for label in follow_up["labels"])
    expected = render(build_prompt(row["context"], row["question"], examples, earlier=[Turn(*pair) for pair in earlier]), "seed")
    assert tokenizer.decode(follow_up["input_ids"][:prompt_length]) == expected and "Q: How many rows?" in expected


def test_follow_up_rows_show_a_row_on_the_same_tables_as_the_engine_shows_an_earlier_turn(tiny_model, data_file, tmp_path):
    from dataclasses import replace

    from sqlchat.config import Settings
    from sqlchat.pipeline import ask
    from sqlchat.sources.connection import connect
    from tests.test_evaluation import FakeBackend
    from train.data import add_followups, tokenize_row

    rows = load_rows(parse_config({"datasets": [{"path": str(data_file)}]}).datasets)
    followed = add_followups(rows, 1.0, seed=3)
    gold = {row["question"]: row for row in ROWS}
    for row in followed:
        [[question, sql]] = json.loads(row["earlier"])  # every noun table has four other rows
        assert question != row["question"] and sql == gold[question]["answer"] != row["answer"]
        assert gold[question]["context"].split()[2] == row["context"].split()[2]  # the same table

    # The engine's prompt for ask(question, earlier=[that turn]), on a database with the row's table
    row = followed[0]
    [[question, sql]] = json.loads(row["earlier"])
    database = tmp_path / "row.sqlite"
    with sqlite3.connect(database) as con:
        con.executescript(row["context"])
    backend = FakeBackend({row["question"]: [row["answer"]]})
    db = connect(database)
    try:
        ask(row["question"], db, backend, Settings(), earlier=[Turn(question, sql)])
    finally:
        db.close()
    engine_prompt = backend.calls[0][0]
    config = parse_config(tiny_config(tiny_model, data_file, Path("unused")))
    tokenizer = load_tokenizer(config, str(tiny_model))
    tokens = tokenize_row(row, tokenizer, 512, train_on_inputs=False)
    prompt_length = sum(label == IGNORE_INDEX for label in tokens["labels"])
    trained = tokenizer.decode(tokens["input_ids"][:prompt_length])
    assert trained == render(replace(engine_prompt, context=row["context"]), "seed")  # the engine's layout; its schema text differs
    assert f"Q: {question}" in trained and sql in trained and trained.index(sql) < trained.index(row["question"])
    answer = tokenizer.decode(tokens["input_ids"][prompt_length:], skip_special_tokens=True)
    assert answer == row["answer"] + ";"  # only the new turn's SQL is learned


def test_follow_ups_are_seeded_and_a_fraction_of_zero_changes_nothing(tiny_model, data_file, tmp_path):
    from train.data import add_followups

    rows = load_rows(parse_config({"datasets": [{"path": str(data_file)}]}).datasets)
    half = add_followups(rows, 0.5, seed=3)["earlier"]
    assert half == add_followups(rows, 0.5, seed=3)["earlier"] != add_followups(rows, 0.5, seed=4)["earlier"]
    assert 0 < sum(e != "[]" for e in half) < len(ROWS)
    assert add_followups(rows, 0.0, seed=3)[:] == rows[:]

    tokenizer = load_tokenizer(parse_config(tiny_config(tiny_model, data_file, tmp_path)), str(tiny_model))

    def trained(**keys) -> list:
        return prepare_data(parse_config(tiny_config(tiny_model, data_file, tmp_path, **keys)), tokenizer).train["input_ids"]

    assert trained(context_followups=0.0) == trained()
    assert trained(context_followups=1.0) == trained(context_followups=1.0) != trained()


def test_wikisql_style_anonymous_tables_never_lend_examples_or_earlier_turns(tmp_path):
    from train.data import add_examples, add_followups

    path = tmp_path / "wikisql.jsonl"
    path.write_text("".join(json.dumps({"question": f"What is the pick for team {n}?",
                                        "context": "CREATE TABLE table_name_52 (pick VARCHAR, team VARCHAR)",
                                        "answer": f"SELECT pick FROM table_name_52 WHERE team = '{n}'"}) + "\n"
                            for n in range(4)))
    rows = load_rows(parse_config({"datasets": [{"path": str(path)}]}).datasets)
    assert all(json.loads(e) == [] for e in add_examples(rows, 1.0, seed=0)["examples"])
    assert all(json.loads(e) == [] for e in add_followups(rows, 1.0, seed=0)["earlier"])


def test_sql_features_name_what_an_answer_uses_outside_its_strings():
    from train.features import sql_features

    assert sql_features("SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.id = T2.sid "
                        "GROUP BY T1.name HAVING COUNT(*) > 1") == {"join", "group_by", "having"}
    assert sql_features("SELECT T1.name FROM singer AS T1, concert AS T2 WHERE T1.id = T2.sid") == {"join"}
    assert sql_features("SELECT name FROM t WHERE age > (SELECT AVG(age) FROM t)") == {"nested"}
    assert sql_features("SELECT name FROM a EXCEPT SELECT name FROM b") == {"set_op"}
    assert sql_features("SELECT COUNT(*) FROM orders WHERE strftime('%Y', day) = '2024'") == {"date"}
    assert sql_features("SELECT a FROM t WHERE b IN (1, 2) ORDER BY a, b") == {"order_by"}
    assert sql_features('SELECT event FROM table_name_87 WHERE position = "join us, group by (select)"') == set()


def test_select_keeps_rows_that_teach_a_feature_and_max_rows_samples_the_same_rows_each_run(tmp_path, data_file):
    joins = tmp_path / "joins.jsonl"
    joins.write_text("".join(json.dumps({
        "question": f"Names of singers in concert {n}?", "context": "CREATE TABLE singer (id INT, name TEXT); CREATE TABLE concert (id INT, sid INT)",
        "answer": f"SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.id = T2.sid WHERE T2.id = {n}"}) + "\n" for n in range(5)))
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(data_file.read_text() + joins.read_text())
    config = parse_config({"datasets": [{"path": str(mixed), "select": ["join", "group_by"]},
                                        {"path": str(data_file), "max_rows": 7}], "output_dir": str(tmp_path / "out")})
    rows = load_rows(config.datasets, seed=3)
    assert len(rows) == 5 + 7
    assert all(" JOIN " in answer for answer in rows["answer"][:5])
    assert rows["question"][5:] == load_rows(config.datasets, seed=3)["question"][5:]
    assert set(rows["question"][5:]) < {row["question"] for row in ROWS}
    assert rows["question"][5:] != load_rows(config.datasets, seed=4)["question"][5:]


def test_rows_are_rendered_as_the_engine_renders_prompts_for_the_base_model(tmp_path):
    def style(**keys) -> str:
        return parse_config({"datasets": [{"path": "x.jsonl"}], "output_dir": str(tmp_path), **keys}).style

    assert style(base_model="qwen2.5-coder-0.5b") == style(base_model="Qwen2.5-Coder-1.5B") == "chat"
    assert style(base_model="embedded") == style(base_model="smollm2-135m") == "seed"
    assert style(base_model=str(tmp_path)) == "seed"  # a folder of the user's: the historic default
    assert style(base_model="qwen2.5-coder-0.5b", prompt_style="seed") == "seed"


def test_chat_rows_are_the_engines_chat_prompt_and_end_the_turn_once(tiny_model, data_file):
    from sqlchat.models.backends import TransformersBackend
    from sqlchat.prompt import CHATML_END

    config = parse_config(tiny_config(tiny_model, data_file, Path("unused"), prompt_style="chat"))
    tokenizer = load_tokenizer(config, str(tiny_model))
    assert "<|im_start|>" in tokenizer.chat_template  # SmolLM2's template is ChatML, like Qwen's
    row = prepare_data(config, tokenizer).train[0]
    prompt_length = sum(label == IGNORE_INDEX for label in row["labels"])
    engine = TransformersBackend(None, tokenizer, prompt_style="chat")  # what the engine sends this model
    sent = {engine.render(build_prompt(r["context"], r["question"])) for r in ROWS}
    assert tokenizer.decode(row["input_ids"][:prompt_length]) in sent
    answer = row["input_ids"][prompt_length:]
    end = tokenizer.convert_tokens_to_ids(CHATML_END)
    assert answer[-1] == end and answer.count(end) == 1
    assert tokenizer.decode(answer).startswith("SELECT COUNT(*) FROM")
    assert tokenizer.decode(answer).endswith(";\n```" + CHATML_END)


def test_a_feedback_config_without_its_exported_file_says_how_to_make_it_before_loading_the_model(tmp_path):
    result = subprocess.run([sys.executable, "-m", "train", str(ROOT / "configs" / "sql-cpu-qwen-feedback.yml")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert "The dataset file './feedback/verified.jsonl' does not exist" in result.stderr
    assert "sqlchat export-training --out ./feedback/verified.jsonl" in result.stderr
    assert not (tmp_path / "qlora-out").exists()  # it stopped before the run began
