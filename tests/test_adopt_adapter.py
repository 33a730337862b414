"""scripts/adopt_adapter.py's gate without a model: the rule, the figures it records, and what it publishes."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from sqlchat.evaluation.runner import EvalReport, QuestionRecord

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def adopt():
    spec = importlib.util.spec_from_file_location("adopt_adapter", ROOT / "scripts" / "adopt_adapter.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["adopt_adapter"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("adopt_adapter", None)


def report(right: int, of: int, answer: bool = False) -> EvalReport:
    """``right`` of ``of`` questions correct, by execution (and by answer, for the business set)."""
    records = [QuestionRecord(question=f"q{i}", gold="SELECT 1", predicted="SELECT 1", em=False, ex=i < right,
                              valid=True, latency_s=0.1, answer=(i < right) if answer else None) for i in range(of)]
    return EvalReport(dataset="x", backend="scripted", num_candidates=1, records=records)


def figures(dev: tuple[float, float], spider: tuple[float, float], business: tuple[float, float]) -> dict:
    return {name: {"adapter": pair[0], "base": pair[1]} for name, pair in
            (("dev", dev), ("spider", spider), ("business", business))}


@pytest.mark.parametrize("dev, spider, business, passes, failing", [
    ((0.60, 0.60), (0.42, 0.40), (0.50, 0.50), True, []),             # ties on dev and business are fine
    ((0.62, 0.60), (0.40, 0.40), (0.55, 0.50), False, ["spider"]),      # Spider must improve, not tie
    ((0.59, 0.60), (0.45, 0.40), (0.55, 0.50), False, ["dev"]),         # worse on dev
    ((0.61, 0.60), (0.45, 0.40), (0.49, 0.50), False, ["business"]),    # worse on business
    ((0.50, 0.60), (0.30, 0.40), (0.40, 0.50), False, ["dev", "spider", "business"]),
    ((None, 0.60), (0.45, 0.40), (0.55, 0.50), False, ["dev"]),         # no score is no pass
    ((0.60, None), (0.45, None), (0.55, None), True, []),               # nothing to be worse than
])
def test_the_gate_publishes_only_what_beats_the_base_on_spider_and_is_not_worse_elsewhere(
        adopt, dev, spider, business, passes, failing):
    passed, failures = adopt.verdict(figures(dev, spider, business))
    assert passed is passes
    assert [sentence.split(":")[0] for sentence in failures] == failing


def test_the_recorded_figures_are_each_sets_headline(adopt):
    reports = {"dev": {"base": report(3, 4), "adapter": report(4, 4)},
               "spider": {"base": report(1, 5), "adapter": report(2, 5)},
               "business": {"base": report(2, 4, answer=True), "adapter": report(3, 4, answer=True)}}
    gate = adopt.gate_figures(reports)
    assert gate["dev"] == {"base": 0.75, "adapter": 1.0, "metric": "execution_accuracy", "n": 4}
    assert gate["spider"] == {"base": 0.2, "adapter": 0.4, "metric": "execution_accuracy", "n": 5}
    assert gate["business"] == {"base": 0.5, "adapter": 0.75, "metric": "answer_accuracy", "n": 4}
    assert adopt.verdict(gate) == (True, [])


@pytest.mark.parametrize("spider_right, published", [(3, True), (2, False)])
def test_a_run_is_scored_against_the_bare_base_and_published_with_its_gate(
        adopt, tmp_path, monkeypatch, capsys, spider_right, published):
    run = tmp_path / "run"
    run.mkdir()
    (run / "adapter_config.json").write_text("{}")
    (run / "train_summary.json").write_text(json.dumps({"base_model": "smollm2-135m"}))  # transformers: no GGUF needed to score
    arms = []

    def score_arm(spec, adapter, args, settings):
        arms.append((spec.name, adapter))
        right = 2 if adapter == "none" else spider_right
        return {"dev": report(3, 4), "spider": report(right, 5), "business": report(2, 4, answer=True)}

    publishing = []
    monkeypatch.setattr(adopt, "score_arm", score_arm)
    monkeypatch.setattr(adopt, "publish", lambda *args, **kwargs: publishing.append((args, kwargs)))
    code = adopt.main([str(run), "--to", str(tmp_path / "published")])
    printed = json.loads(capsys.readouterr().out)
    assert arms == [("smollm2-135m", "none"), ("smollm2-135m", str(run))]
    assert printed["gate"]["spider"]["adapter"] == spider_right / 5 and printed["gate"]["spider"]["base"] == 0.4
    assert printed["published"] is published and code == (0 if published else 1)
    if published:
        [(args, kwargs)] = publishing
        assert args == (run, run, tmp_path / "published") and kwargs["gate"] == printed["gate"]
        assert kwargs["base_model"] == "smollm2-135m"
    else:
        assert publishing == [] and printed["failures"] == ["spider: execution_accuracy 0.400 is not better than the base's 0.400"]


def test_a_folder_without_an_adapter_is_refused(adopt, tmp_path, capsys):
    assert adopt.main([str(tmp_path)]) == adopt.EXIT_UNUSABLE
    assert "holds no adapter" in capsys.readouterr().err


def test_each_arm_is_written_as_soon_as_it_is_scored(adopt, tmp_path, monkeypatch):
    """A gate that stops in the adapter's arm still leaves the base's questions on disk."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "adapter_config.json").write_text("{}")
    (run / "train_summary.json").write_text(json.dumps({"base_model": "smollm2-135m"}))

    def score_arm(spec, adapter, args, settings):
        if adapter != "none":
            raise KeyboardInterrupt
        return {"dev": report(3, 4), "spider": report(2, 5), "business": report(2, 4, answer=True)}

    monkeypatch.setattr(adopt, "score_arm", score_arm)
    out = tmp_path / "runs" / "gate.json"
    with pytest.raises(KeyboardInterrupt):
        adopt.main([str(run), "--dry-run", "--json", str(out)])
    written = json.loads(out.read_text())
    assert list(written) == ["base"]
    assert written["base"]["spider"]["execution_accuracy"] == 0.4
    assert len(written["base"]["dev"]["records"]) == 4
