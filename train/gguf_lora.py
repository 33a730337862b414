"""A PEFT LoRA as a GGUF LoRA, so one trained adapter runs in every engine.

transformers and vLLM load the PEFT folder; llama.cpp (the engine's default for the Qwen models)
needs the adapter as GGUF. The conversion is llama.cpp's own ``convert_lora_to_gguf.py``, taken
from the sdist of the very llama-cpp-python release installed here (its ``vendor/llama.cpp``),
so the file is written in the format the loading library reads, tensor names and all. The script
and its ``conversion``/``gguf-py`` packages are fetched with pip once (about 75 MB, pip's cache
makes a second fetch free) and kept in ``~/.cache/sqlchat/llama.cpp-convert-<version>``.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from sqlchat.errors import ConfigError
from sqlchat.models.store import pip

SCRIPT = "convert_lora_to_gguf.py"
VENDORED = ("convert_lora_to_gguf.py", "conversion/", "gguf-py/", "LICENSE")  # under vendor/llama.cpp/ in the sdist
GGUF_ADAPTER = "adapter.gguf"  # the name sqlchat.models.backends looks for beside a PEFT adapter


def llama_cpp_version() -> str:
    try:
        return importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError as error:
        raise ConfigError("llama-cpp-python is not installed, so there is no llama.cpp to convert the adapter for.",
                          "Run bash scripts/setup.sh") from error


def converter_dir(cache_dir: Path) -> Path:
    """The folder holding llama.cpp's converter for the installed llama-cpp-python, fetched once."""
    version = llama_cpp_version()
    target = Path(cache_dir) / f"llama.cpp-convert-{version}"
    if (target / SCRIPT).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".convert-", dir=target.parent) as work:
        pip("download", "--no-deps", "--no-binary", ":all:", "--dest", work, f"llama-cpp-python=={version}",
            what=f"the llama-cpp-python {version} source (for its LoRA converter)")
        [sdist] = Path(work).glob("llama_cpp_python-*.tar.gz")
        staging = Path(work) / "converter"
        with tarfile.open(sdist) as archive:
            prefix = f"{archive.getnames()[0].split('/')[0]}/vendor/llama.cpp/"
            members = [m for m in archive.getmembers()
                       if m.name.startswith(prefix) and m.name[len(prefix):].startswith(VENDORED)]
            for member in members:
                member.name = member.name[len(prefix):]
            archive.extractall(staging, members=members, filter="data")
        if not (staging / SCRIPT).is_file():
            raise ConfigError(f"The llama-cpp-python {version} source has no {SCRIPT}.", str(sdist))
        os.replace(staging, target)
    return target


def convert(adapter_dir: Path, base_dir: Path, out_file: Path, cache_dir: Path, outtype: str = "f16") -> Path:
    """Write ``adapter_dir``'s PEFT LoRA as a GGUF LoRA at ``out_file``.

    ``base_dir`` is the base model's folder (only its ``config.json`` is read: the architecture
    decides the tensor names). The file appears only when the conversion finished.
    """
    script = converter_dir(cache_dir) / SCRIPT
    out_file = Path(out_file)
    staging = out_file.with_name(f".{out_file.name}.part")
    command = [sys.executable, str(script), "--base", str(base_dir), "--outfile", str(staging),
               "--outtype", outtype, str(adapter_dir)]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if result.returncode != 0 or not staging.is_file():
        staging.unlink(missing_ok=True)
        raise ConfigError(f"llama.cpp's converter could not turn the adapter in {adapter_dir} into GGUF.",
                          (result.stderr or result.stdout)[-2000:])
    os.replace(staging, out_file)
    return out_file

