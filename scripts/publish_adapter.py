"""Make a trained adapter the engine's default for its model: copy it into ``sqlchat/adapters/<model>``.

The weights are stored in float16 (half the size of the float32 that training saves; LoRA
weights lose nothing that shows in accuracy at that precision), with the adapter config,
the training summary and the loss curve beside them, so the repo carries only a few MB.
Beside the PEFT files goes ``adapter.gguf``, the same adapter converted by llama.cpp's own
converter (:mod:`train.gguf_lora`), so one adapter runs in every engine: llama.cpp (the Qwen
models' engine), transformers and vLLM.

The model is the one the run trained (``base_model`` in its ``train_summary.json``).

    .venv/bin/python scripts/publish_adapter.py qlora-out/sql-cpu-qwen [--checkpoint checkpoint-640]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from datetime import date
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlchat.config import ModelConfig  # noqa: E402
from sqlchat.errors import SqlchatError  # noqa: E402
from train.config import TrainConfig  # noqa: E402
from train.gguf_lora import GGUF_ADAPTER, convert  # noqa: E402
from train.model import base_model_path  # noqa: E402

WEIGHTS = "adapter_model.safetensors"
CONFIG = "adapter_config.json"
SUMMARY = "train_summary.json"
EXTRAS = (SUMMARY, "loss.png", "train_log.jsonl")
RECORD = "published_from.json"


def trained_base(run_dir: Path) -> str:
    """The ``base_model`` the run trained on (runs from before it was recorded: the embedded SmolLM2)."""
    summary = run_dir / SUMMARY
    return json.loads(summary.read_text()).get("base_model", "embedded") if summary.exists() else "embedded"


def default_target(base_model: str) -> Path:
    spec = TrainConfig(base_model=base_model).base_spec
    if spec is None:
        raise SystemExit(f"error: {base_model} is not an embedded model; say where the adapter goes with --to")
    return spec.adapter_dir


def publish(run_dir: Path, source: Path, target: Path | None = None, base_model: str | None = None,
            gguf: bool = True, gate: dict | None = None) -> Path:
    """Copy the adapter in ``source`` (a run's output or one of its checkpoints) to ``target``,
    with its GGUF version; ``gate`` (the adoption figures) is recorded in ``published_from.json``."""
    if not (source / WEIGHTS).exists():
        raise SystemExit(f"error: no {WEIGHTS} in {source}")
    base_model = base_model or trained_base(run_dir)
    target = target or default_target(base_model)
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    tensors = {name: tensor.to(torch.float16).contiguous() for name, tensor in load_file(source / WEIGHTS).items()}
    save_file(tensors, staging / WEIGHTS, metadata={"format": "pt"})
    shutil.copy(source / CONFIG, staging / CONFIG)
    for extra in EXTRAS:
        if (run_dir / extra).exists():
            shutil.copy(run_dir / extra, staging / extra)
    if gguf:
        cache_dir = ModelConfig().cache_dir
        if (source / GGUF_ADAPTER).is_file():  # converted already (adopt_adapter.py scored it in llama.cpp)
            shutil.copy(source / GGUF_ADAPTER, staging / GGUF_ADAPTER)
        else:
            convert(source, Path(base_model_path(TrainConfig(base_model=base_model))), staging / GGUF_ADAPTER, cache_dir)
    # Where the weights came from: a checkpoint's trainer state, else the finished run's summary.
    state_file = source / "trainer_state.json" if (source / "trainer_state.json").exists() else run_dir / SUMMARY
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    record = {"source": str(source) if source != run_dir else f"{run_dir} (final adapter)", "base_model": base_model,
              "global_step": state.get("global_step"), "epoch": state.get("epoch"),
              "published_with": f"python scripts/publish_adapter.py {run_dir}", "published": date.today().isoformat()}
    if gate is not None:
        record["gate"] = gate
    (staging / RECORD).write_text(json.dumps(record, indent=2) + "\n")
    swap_in(staging, target)
    return target


def swap_in(staging: Path, target: Path) -> None:
    """Put ``staging`` at ``target``, keeping the old folder as ``<target>.previous`` (one rename from undone)."""
    backup = target.with_name(target.name + ".previous")
    if target.exists():
        shutil.rmtree(backup, ignore_errors=True)
        os.replace(target, backup)
    os.replace(staging, target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="a training output_dir, e.g. qlora-out/sql-cpu-qwen")
    parser.add_argument("--checkpoint", help="publish this checkpoint of the run instead of its final adapter")
    parser.add_argument("--to", type=Path, help="where (default: sqlchat/adapters/<the run's model>)")
    parser.add_argument("--no-gguf", action="store_true", help="only the PEFT files, no adapter.gguf for llama.cpp")
    args = parser.parse_args()
    source = args.run_dir / args.checkpoint if args.checkpoint else args.run_dir
    try:
        target = publish(args.run_dir, source, args.to, gguf=not args.no_gguf)
    except SqlchatError as error:
        print(f"error: {error.message}\n{error.detail or ''}", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in target.iterdir()) / 1e6
    print(f"published {source} to {target} ({size:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
