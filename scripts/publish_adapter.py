"""Make a trained adapter the engine's default: copy it into ``sqlchat/adapters/<model>``.

The weights are stored in float16 (half the size of the float32 that training saves; LoRA
weights lose nothing that shows in accuracy at that precision), with the adapter config,
the training summary and the loss curve beside them, so the repo carries only a few MB.

    .venv/bin/python scripts/publish_adapter.py qlora-out/sql-cpu [--checkpoint checkpoint-640]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import date
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]
TRAINED_MODEL = "smollm2-135m"  # the model the CPU recipes (configs/sql-cpu*.yml) train an adapter for
sys.path.insert(0, str(ROOT))

from sqlchat.models.registry import MODELS  # noqa: E402

WEIGHTS = "adapter_model.safetensors"
CONFIG = "adapter_config.json"
EXTRAS = ("train_summary.json", "loss.png", "train_log.jsonl")


def publish(run_dir: Path, source: Path, target: Path = MODELS[TRAINED_MODEL].adapter_dir) -> Path:
    """Copy the adapter in ``source`` (a run's output or one of its checkpoints) to ``target``."""
    if not (source / WEIGHTS).exists():
        raise SystemExit(f"error: no {WEIGHTS} in {source}")
    target.mkdir(parents=True, exist_ok=True)
    tensors = {name: tensor.to(torch.float16).contiguous() for name, tensor in load_file(source / WEIGHTS).items()}
    save_file(tensors, target / WEIGHTS, metadata={"format": "pt"})
    shutil.copy(source / CONFIG, target / CONFIG)
    for extra in EXTRAS:
        if (run_dir / extra).exists():
            shutil.copy(run_dir / extra, target / extra)
    # Where the weights came from: a checkpoint's trainer state, else the finished run's summary.
    state_file = source / "trainer_state.json" if (source / "trainer_state.json").exists() else run_dir / "train_summary.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        (target / "published_from.json").write_text(json.dumps(
            {"source": str(source) if source != run_dir else f"{run_dir} (final adapter)",
             "global_step": state.get("global_step"), "epoch": state.get("epoch"),
             "published_with": f"python scripts/publish_adapter.py {run_dir}", "published": date.today().isoformat()},
            indent=2) + "\n")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="a training output_dir, e.g. qlora-out/sql-cpu")
    parser.add_argument("--checkpoint", help="publish this checkpoint of the run instead of its final adapter")
    parser.add_argument("--to", type=Path, default=MODELS[TRAINED_MODEL].adapter_dir)
    args = parser.parse_args()
    source = args.run_dir / args.checkpoint if args.checkpoint else args.run_dir
    target = publish(args.run_dir, source, args.to)
    size = sum(p.stat().st_size for p in target.iterdir()) / 1e6
    print(f"published {source} to {target} ({size:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
