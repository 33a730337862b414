"""Adopt a freshly trained adapter for its model only if it passes the gate; then publish it.

The gate (issue 13) scores the adapter and the zero-shot base model side by side, in one run,
with the product's own evaluators, on three sets no training config ever trains on:

- ``dev``: 200 rows of ``sql-create-context/dev.jsonl``, evenly spread (execution accuracy);
- ``spider``: 200 Spider dev questions spread over all its databases (execution accuracy);
- ``business``: ``tests/data/business/questions.jsonl`` on the demo databases (answer accuracy).

The adapter is published (``scripts/publish_adapter.py``: PEFT files in float16 plus
``adapter.gguf`` for llama.cpp, into ``sqlchat/adapters/<model>``, the previous folder kept as
``<model>.previous``) only if it is better on Spider and not worse on dev or business. The
figures go into ``published_from.json`` as ``{"gate": {"dev": {"adapter": .., "base": ..}, ...}}``.
``--against current`` compares with the adapter users have now instead of the bare base (the
feedback loop's question: is the retrained adapter better than the published one?).

    .venv/bin/python scripts/adopt_adapter.py qlora-out/sql-cpu-qwen            # the model: the run's base_model
    .venv/bin/python scripts/adopt_adapter.py qlora-out/sql-cpu-qwen --dry-run  # score and decide, publish nothing

Prints one JSON object with the figures and the verdict. Exit code 0: published; 1: kept what
users have; 2: the candidate or the data could not be used.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from publish_adapter import publish, trained_base  # noqa: E402

from sqlchat.config import NO_ADAPTER, Settings  # noqa: E402
from sqlchat.errors import ConfigError, SqlchatError  # noqa: E402
from sqlchat.evaluation.runner import EvalReport, evaluate_business, evaluate_know_sql, evaluate_spider  # noqa: E402
from sqlchat.models.backends import load_backend  # noqa: E402
from sqlchat.models.registry import ModelSpec  # noqa: E402
from train.config import TrainConfig  # noqa: E402
from train.gguf_lora import GGUF_ADAPTER, convert  # noqa: E402
from train.model import base_model_path  # noqa: E402

SHARED = ROOT.parent / "shared"
DEFAULT_DEV = SHARED / "data" / "sql-create-context" / "dev.jsonl"
DEFAULT_SPIDER = SHARED / "benchmarks" / "spider-dev"
DEFAULT_BUSINESS = ROOT / "tests" / "data" / "business" / "questions.jsonl"
EXIT_ADOPTED, EXIT_KEPT, EXIT_UNUSABLE = 0, 1, 2


@dataclass(frozen=True)
class GateSet:
    """One set the gate scores on: which headline figure counts, and whether the adapter must beat the reference."""

    name: str
    metric: str
    must_improve: bool  # True: strictly better; False: not worse


GATE = (GateSet("dev", "execution_accuracy", False), GateSet("spider", "execution_accuracy", True),
        GateSet("business", "answer_accuracy", False))


def verdict(gate: dict[str, dict[str, float | None]], reference: str = "base") -> tuple[bool, list[str]]:
    """Whether the adapter passes, and a sentence per set that failed.

    The adapter must beat ``reference`` on Spider and be at least as good on dev and business;
    a set the adapter has no score on fails, a set the reference has no score on cannot.
    """
    failures = []
    for rule in GATE:
        adapter, other = gate[rule.name]["adapter"], gate[rule.name][reference]
        if adapter is None:
            failures.append(f"{rule.name}: the adapter has no {rule.metric}")
        elif other is not None and (adapter <= other if rule.must_improve else adapter < other):
            relation = "not better than" if rule.must_improve else "worse than"
            failures.append(f"{rule.name}: {rule.metric} {adapter:.3f} is {relation} the {reference}'s {other:.3f}")
    return not failures, failures


def gate_figures(reports: dict[str, dict[str, EvalReport]]) -> dict[str, dict]:
    """``{set: {arm: headline figure, ..., "metric": name, "n": questions}}`` from the two arms' reports."""
    figures = {}
    for rule in GATE:
        arms = reports[rule.name]
        figures[rule.name] = {arm: getattr(report, rule.metric) for arm, report in arms.items()}
        figures[rule.name].update(metric=rule.metric, n=next(iter(arms.values())).n)
    return figures


def with_gguf(candidate: Path, base_model: str, settings: Settings) -> None:
    """llama.cpp runs the Qwen models: give the candidate its ``adapter.gguf`` (once) before scoring it."""
    if not (candidate / GGUF_ADAPTER).is_file():
        convert(candidate, Path(base_model_path(TrainConfig(base_model=base_model))), candidate / GGUF_ADAPTER,
                settings.model.cache_dir)


def score_arm(spec: ModelSpec, adapter: str, args: argparse.Namespace, settings: Settings) -> dict[str, EvalReport]:
    """The three sets' reports for ``spec`` with ``adapter`` (``none``: the bare base), one model in memory."""
    settings = settings.with_model(model=spec.name, adapter=adapter)
    backend = load_backend(settings.model)
    try:
        return {
            "dev": evaluate_know_sql(args.dev, backend, settings, limit=args.limit),
            "spider": evaluate_spider(args.spider, backend, settings, limit=args.spider_limit),
            "business": evaluate_business(args.business, backend, settings),
        }
    finally:
        del backend
        gc.collect()


def write_reports(path: Path, arms: dict[str, dict[str, EvalReport]]) -> None:
    """Every scored arm's reports, questions included, as JSON (replaced whole after each arm)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({arm: {name: report.to_json() for name, report in reports.items()}
                                for arm, reports in arms.items()}, default=str))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("candidate", type=Path, help="the training run (or one checkpoint folder) holding the adapter")
    parser.add_argument("--model", help="the embedded model it was trained for (default: the run's base_model)")
    parser.add_argument("--against", choices=["base", "current"], default="base",
                        help="the zero-shot base (default), or the adapter published now")
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="know_sql dev file (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=200, help="dev rows, evenly spread (default: %(default)s)")
    parser.add_argument("--spider", type=Path, default=DEFAULT_SPIDER, help="Spider dev folder (default: %(default)s)")
    parser.add_argument("--spider-limit", type=int, default=200, help="Spider questions, spread over all databases (default: %(default)s)")
    parser.add_argument("--business", type=Path, default=DEFAULT_BUSINESS, help="business questions (default: %(default)s)")
    parser.add_argument("--to", type=Path, help="publish here (default: sqlchat/adapters/<model>)")
    parser.add_argument("--dry-run", action="store_true", help="score and decide, publish nothing")
    parser.add_argument("--json", type=Path, help="also write every arm's full reports here, each arm as soon as it "
                        "is scored (a long gate that stops later keeps what it measured)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    candidate = args.candidate
    run_dir = candidate.parent if candidate.name.startswith("checkpoint-") else candidate
    if not (candidate / "adapter_config.json").is_file():
        print(f"error: {candidate} holds no adapter (adapter_config.json)", file=sys.stderr)
        return EXIT_UNUSABLE
    base_model = args.model or trained_base(run_dir)
    spec = TrainConfig(base_model=base_model).base_spec
    if spec is None:
        print(f"error: {base_model} is not an embedded model; the gate compares adapters of sqlchat's own models",
              file=sys.stderr)
        return EXIT_UNUSABLE
    settings = Settings.from_env()
    reference = NO_ADAPTER if args.against == "base" else str(spec.adapter_dir)
    try:
        if args.against == "current" and not (spec.adapter_dir / "adapter_config.json").is_file():
            raise ConfigError(f"{spec.name} has no published adapter to compare with; use --against base.")
        if spec.engine == "llama.cpp":
            with_gguf(candidate, base_model, settings)
        arms: dict[str, dict[str, EvalReport]] = {}
        for arm, adapter in ((args.against, reference), ("adapter", str(candidate))):
            arms[arm] = score_arm(spec, adapter, args, settings)
            if args.json:
                write_reports(args.json, arms)
    except SqlchatError as error:
        print(f"error: {error.message}\n{error.detail or ''}", file=sys.stderr)
        return EXIT_UNUSABLE
    gate = gate_figures({rule.name: {arm: reports[rule.name] for arm, reports in arms.items()} for rule in GATE})
    passed, failures = verdict(gate, args.against)
    published, target = passed and not args.dry_run, args.to or spec.adapter_dir
    if published:
        publish(run_dir, candidate, target, base_model=base_model, gate=gate)
    print(json.dumps({"model": spec.name, "candidate": str(candidate), "against": args.against, "gate": gate,
                      "passed": passed, "failures": failures, "published": published,
                      "to": str(target) if published else None}, indent=2))
    return EXIT_ADOPTED if published else EXIT_KEPT


if __name__ == "__main__":
    sys.exit(main())
