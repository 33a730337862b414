"""The shared prompt template and the typed settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlchat.config import ModelConfig, SchemaConfig, Settings
from sqlchat.errors import ConfigError
from sqlchat.models.registry import MODELS
from sqlchat.prompt import CHATML_TEMPLATE, apply_chat_template, build_prompt, build_training_text, extract_sql, render


def test_the_seed_rendering_has_the_seed_format():
    prompt = render(build_prompt("CREATE TABLE head (age INTEGER)", "How many heads are older than 56?"), "seed")
    lines = prompt.split("\n")
    assert lines[0].startswith("SYSTEM: ")
    assert lines[1] == "USER: CREATE TABLE head (age INTEGER)"
    assert lines[2] == "How many heads are older than 56?"
    assert lines[3] == "ASSISTANT: "


def test_the_chat_rendering_puts_the_same_content_in_the_chat_template_and_starts_the_answer():
    prompt = build_prompt("CREATE TABLE head (age INTEGER)", "How many heads are older than 56?")
    assert render(prompt) == (
        "<|im_start|>system\nWrite one SQL query that answers the question using these tables.<|im_end|>\n"
        "<|im_start|>user\nCREATE TABLE head (age INTEGER)\nHow many heads are older than 56?<|im_end|>\n"
        "<|im_start|>assistant\n```sql\n")
    assert [m["role"] for m in prompt.messages()] == ["system", "user"]


def test_the_schema_comes_before_the_question_so_consecutive_questions_share_a_prefix():
    first = render(build_prompt("CREATE TABLE t (a INTEGER)", "Count a?"))
    second = render(build_prompt("CREATE TABLE t (a INTEGER)", "Max a?"))
    shared = len(next(iter(first[i:] for i in range(len(first)) if first[i] != second[i])) or "")
    assert first.index("Count a?") >= len(first) - shared


def test_training_text_is_the_inference_prompt_plus_the_answer():
    for style in ("seed", "chat"):
        prompt, completion = build_training_text("CREATE TABLE t (a INTEGER)", "Count a?", "SELECT COUNT(a) FROM t", style=style)
        assert prompt == render(build_prompt("CREATE TABLE t (a INTEGER)", "Count a?"), style)
    assert build_training_text("CREATE TABLE t (a INTEGER)", "Count a?", "SELECT COUNT(a) FROM t")[1] == "SELECT COUNT(a) FROM t;"
    assert completion == "SELECT COUNT(a) FROM t;\n```<|im_end|>"


def test_few_shot_examples_come_before_the_question():
    prompt = render(build_prompt("CREATE TABLE t (a INTEGER)", "Count a?", examples=[("Max a?", "SELECT MAX(a) FROM t")]))
    assert prompt.index("CREATE TABLE t") < prompt.index("SELECT MAX(a) FROM t") < prompt.index("Count a?")


def test_the_qwen_models_own_template_renders_like_ours():
    """The GGUF's Jinja template (as llama.cpp and transformers render it) gives our ChatML text exactly."""
    gguf = pytest.importorskip("gguf")
    from sqlchat.models.store import model_file

    path = model_file(MODELS["qwen2.5-coder-0.5b"], ModelConfig().cache_dir)
    if not path.exists():
        path = model_file(MODELS["qwen2.5-coder-1.5b"], ModelConfig().cache_dir)
    field = gguf.GGUFReader(path).fields["tokenizer.chat_template"]
    template = bytes(field.parts[field.data[0]]).decode("utf-8")
    messages = build_prompt("CREATE TABLE t (a INTEGER)", "Count a?").messages()
    assert apply_chat_template(messages, template) == apply_chat_template(messages, CHATML_TEMPLATE)


def test_extract_sql_keeps_the_first_statement_only():
    assert extract_sql("\nSELECT a FROM t; DROP TABLE t;") == "SELECT a FROM t"
    assert extract_sql("SELECT a FROM t\n\nUSER: more") == "SELECT a FROM t"
    assert extract_sql("```sql\nSELECT 1\n```") == "SELECT 1"
    assert extract_sql("") == ""


def test_extract_sql_reads_chat_answers():
    assert extract_sql("SELECT a FROM t;\n```") == "SELECT a FROM t"  # the fence was opened by the prompt
    assert extract_sql("Here it is:\n```sql\nSELECT x\nFROM y;\n```\nIt counts.") == "SELECT x\nFROM y"
    assert extract_sql("```\nWITH a AS (SELECT 1) SELECT * FROM a\n```") == "WITH a AS (SELECT 1) SELECT * FROM a"


def test_environment_and_flags_build_the_settings():
    settings = Settings.from_env({"SQLCHAT_BACKEND": "openai", "SQLCHAT_BASE_URL": "http://gpu:8000/v1",
                                  "SQLCHAT_API_KEY": "k-123", "SQLCHAT_CANDIDATES": "3", "SQLCHAT_ROW_LIMIT": "50"})
    assert settings.model.backend == "openai" and settings.model.num_candidates == 3
    assert settings.execution.row_limit == 50
    assert "k-123" not in repr(settings)
    flagged = settings.with_model(model="sql", num_candidates=None)
    assert flagged.model.model == "sql" and flagged.model.num_candidates == 3


def test_the_default_adapter_and_none():
    assert ModelConfig(adapter="none").adapter_path() is None
    assert ModelConfig(adapter="/x/y").adapter_path() == "/x/y"
    smollm2 = MODELS["smollm2-135m"]
    assert ModelConfig().adapter_path(smollm2) == str(smollm2.adapter_dir)
    assert Path(smollm2.adapter_dir, "adapter_config.json").exists()


def test_model_settings_from_the_environment():
    model = Settings.from_env({"SQLCHAT_OPENAI_API": "chat", "SQLCHAT_PROMPT_STYLE": "seed", "SQLCHAT_THREADS": "2"}).model
    assert (model.openai_api, model.prompt_style, model.threads) == ("chat", "seed", 2)
    assert Settings.from_env({}).model.threads is None
    assert Settings.from_env({"SQLCHAT_PREFIX_STATES": "0"}).model.prefix_states == 0
    assert Settings.from_env({}).model.prefix_states == 16
    assert Settings.from_env({"SQLCHAT_MENTIONS": "0"}).schema.mentions is False


@pytest.mark.parametrize(("value", "focus"), [("1", True), ("on", True), ("0", False), ("False", False), ("", SchemaConfig.focus)])
def test_schema_focus_comes_from_the_environment(value, focus):
    assert Settings.from_env({"SQLCHAT_SCHEMA_FOCUS": value}).schema.focus is focus


@pytest.mark.parametrize("name", ["SQLCHAT_PREFIX_STATES", "SQLCHAT_THREADS", "SQLCHAT_TIMEOUT", "SQLCHAT_CONVERSATION_TURNS"])
def test_a_number_setting_that_is_no_number_is_a_clear_error(name):
    with pytest.raises(ConfigError, match=f"{name} must be"):
        Settings.from_env({name: "abc"})
    assert Settings.from_env({name: ""}) == Settings.from_env({})  # empty: the default, as for the flags


def test_a_bad_schema_focus_value_is_a_clear_error():
    with pytest.raises(ConfigError, match="SQLCHAT_SCHEMA_FOCUS"):
        Settings.from_env({"SQLCHAT_SCHEMA_FOCUS": "maybe"})
