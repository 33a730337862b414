"""The shared prompt template and the typed settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlchat.config import DEFAULT_ADAPTER_DIR, ModelConfig, SchemaConfig, Settings
from sqlchat.errors import ConfigError
from sqlchat.prompt import build_prompt, build_training_text, extract_sql


def test_prompt_has_the_seed_format():
    prompt = build_prompt("CREATE TABLE head (age INTEGER)", "How many heads are older than 56?")
    lines = prompt.split("\n")
    assert lines[0].startswith("SYSTEM: ")
    assert lines[1] == "USER: CREATE TABLE head (age INTEGER)"
    assert lines[2] == "How many heads are older than 56?"
    assert lines[3] == "ASSISTANT: "


def test_training_text_is_the_inference_prompt_plus_the_answer():
    prompt, completion = build_training_text("CREATE TABLE t (a INTEGER)", "Count a?", "SELECT COUNT(a) FROM t")
    assert prompt == build_prompt("CREATE TABLE t (a INTEGER)", "Count a?")
    assert completion == "SELECT COUNT(a) FROM t;"


def test_few_shot_examples_come_before_the_question():
    prompt = build_prompt("CREATE TABLE t (a INTEGER)", "Count a?", examples=[("Max a?", "SELECT MAX(a) FROM t")])
    assert prompt.index("SELECT MAX(a) FROM t") < prompt.index("Count a?")


def test_extract_sql_keeps_the_first_statement_only():
    assert extract_sql("\nSELECT a FROM t; DROP TABLE t;") == "SELECT a FROM t"
    assert extract_sql("SELECT a FROM t\n\nUSER: more") == "SELECT a FROM t"
    assert extract_sql("```sql\nSELECT 1\n```") == "SELECT 1"
    assert extract_sql("") == ""


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
    expected = str(DEFAULT_ADAPTER_DIR) if (Path(DEFAULT_ADAPTER_DIR) / "adapter_config.json").exists() else None
    assert ModelConfig().adapter_path() == expected


@pytest.mark.parametrize(("value", "focus"), [("1", True), ("on", True), ("0", False), ("False", False), ("", SchemaConfig.focus)])
def test_schema_focus_comes_from_the_environment(value, focus):
    assert Settings.from_env({"SQLCHAT_SCHEMA_FOCUS": value}).schema.focus is focus


def test_a_bad_schema_focus_value_is_a_clear_error():
    with pytest.raises(ConfigError, match="SQLCHAT_SCHEMA_FOCUS"):
        Settings.from_env({"SQLCHAT_SCHEMA_FOCUS": "maybe"})
