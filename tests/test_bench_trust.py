"""benchmarks/bench_trust.py end to end with a scripted model: the reliability table and the declining
figures from a run on the demo databases, then the same run re-scored from its stored signals."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sqlchat.answers.declining import DECLINE_MARKER
from sqlchat.models import backends
from sqlchat.models.backends import Generation
from sqlchat.prompt import Prompt, extract_sql

ROOT = Path(__file__).resolve().parents[1]

QUESTIONS = [
    {"db": "chinook", "question": "How many customers are there?", "query": "SELECT COUNT(*) FROM Customer"},
    {"db": "chinook", "question": "How many employees are there?", "query": "SELECT COUNT(*) FROM Employee"},
    {"db": "chinook", "question": "How many genres are there?", "query": "SELECT COUNT(*) FROM Genre"},
    {"db": "northwind", "question": "How many products are there?", "query": "SELECT COUNT(*) FROM Products"},
    {"db": "chinook", "question": "How many tracks are there?", "query": "SELECT COUNT(*) FROM Track"},
]
UNANSWERABLE = [
    {"db": "chinook", "question": "What is the average salary of employees?", "missing": "salaries"},
    {"db": "chinook", "question": "Will it rain tomorrow?", "missing": "weather"},
]
COMPLETIONS = {  # what the scripted model writes for each question (two candidates)
    "How many customers are there?": ["SELECT COUNT(*) FROM Customer", "SELECT COUNT(CustomerId) FROM Customer"],
    "How many employees are there?": ["SELECT COUNT(*) FROM Customer", "SELECT Name FROM Genre"],  # wrong, disagreeing
    "How many genres are there?": ["SELECT COUNT(*) FROM Genre", "SELECT COUNT(*) FROM Genre"],  # the same text twice
    "How many tracks are there?": ["SELECT COUNT(*) FROM Track"],  # one candidate, nothing to compare
    "How many products are there?": ["SELECT COUNT(*) FROM Products", "SELECT COUNT(ProductID) FROM Products"],
    "What is the average salary of employees?": ["SELECT AVG(Salary) FROM Employee"] * 2,  # a column no table has
    "Will it rain tomorrow?": [f"{DECLINE_MARKER} no weather data"] * 2,
}


@dataclass
class QuestionModel:
    name: str = "scripted"

    def generate(self, prompt: Prompt, n: int = 1) -> list[Generation]:
        question = next(q for q in COMPLETIONS if q in prompt.question)
        return [Generation(text=t, sql=extract_sql(t), tokens=3, seconds=0.0) for t in COMPLETIONS[question][:n]]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(backends, "load_backend", lambda config: QuestionModel())
    spec = importlib.util.spec_from_file_location("bench_trust", ROOT / "benchmarks" / "bench_trust.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_trust", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def test_the_reliability_table_and_declining_figures(bench, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    questions = write_jsonl(tmp_path / "questions.jsonl", QUESTIONS)
    unanswerable = write_jsonl(tmp_path / "unanswerable.jsonl", UNANSWERABLE)
    stored = tmp_path / "run.json"
    assert bench.main(["--questions", questions, "--unanswerable", unanswerable, "--candidates", "2",
                       "--json", str(stored)]) == 0
    printed = capsys.readouterr().out
    assert "| high | 3 | 3 | 100.0 % |" in printed  # a text sampled twice is two agreeing votes
    assert "| medium | 1 | 1 | 100.0 % |" in printed  # one candidate and no log-probability: no evidence
    assert "| low | 1 | 0 | 0.0 % |" in printed
    assert "| declined | 0 | 0 | – |" in printed
    assert "wrong answers marked low or declined: 1/1 = 100.0 %" in printed
    assert "right answers marked low: 0/4 = 0.0 %" in printed
    assert "unanswerable questions declined: 2/2 = 100.0 %" in printed
    assert "answerable questions wrongly declined: 0/5 = 0.0 %" in printed
    assert "declined for names the schema lacks: 1, by the model alone: 1" in printed
    assert "ranking (AUROC): a right answer is rated above a wrong one 1.000 of the time" in printed

    records = json.loads(stored.read_text())["records"]
    assert [r["right"] for r in records] == [True, False, True, True, True, None, None]

    # the same run under other thresholds, without the model
    assert bench.main(["--signals", str(stored), "--set", "low_agreement=0.0"]) == 0
    retuned = capsys.readouterr().out
    assert "wrong answers marked low or declined: 0/1 = 0.0 %" in retuned
    assert bench.main(["--signals", str(stored), "--set", "decline=false"]) == 0
    assert "unanswerable questions declined: 0/2 = 0.0 %" in capsys.readouterr().out


def test_a_bad_threshold_name_is_a_clear_error(bench, tmp_path: Path) -> None:
    stored = tmp_path / "run.json"
    stored.write_text(json.dumps({"records": []}))
    with pytest.raises(SystemExit, match="not a TrustConfig field"):
        bench.main(["--signals", str(stored), "--set", "nonsense=1"])


def test_a_stricter_doubt_threshold_re_scores_a_run_without_the_model(bench) -> None:
    from sqlchat.config import TrustConfig
    from sqlchat.answers.trust import Signals

    checked = Signals(informative=True, checked=True, compared=3, agreeing=1, logprob=-0.05, least_logprob=-2.0)
    as_run = bench.as_checked_under(checked, TrustConfig(doubt_logprob=-1.0))
    assert as_run == checked  # the check ran under this threshold: the disagreement stands
    stricter = bench.as_checked_under(checked, TrustConfig(doubt_logprob=-3.0))
    assert (stricter.compared, stricter.agreeing, stricter.checked) == (1, 1, False)  # it would have stood alone
    assert bench.as_checked_under(checked, TrustConfig(doubt_candidates=0)).compared == 1


def test_a_threshold_that_is_not_a_number_is_a_clear_error(bench, tmp_path: Path) -> None:
    stored = tmp_path / "run.json"
    stored.write_text(json.dumps({"records": []}))
    with pytest.raises(SystemExit, match="doubt_logprob=abc: not a float"):
        bench.main(["--signals", str(stored), "--set", "doubt_logprob=abc"])


def test_an_eval_run_as_shipped_is_re_scored_with_and_without_its_doubt_check(bench, tmp_path: Path, capsys) -> None:
    def record(question, answer, signals, answerable=True, declined=False):
        return {"question": question, "predicted": "SELECT 1", "answer": answer, "answerable": answerable,
                "declined": declined, "signals": signals, "db_id": "db", "latency_s": 1.0}

    sure = {"informative": True, "compared": 1, "agreeing": 1, "logprob": -0.05, "least_logprob": -0.3}
    # an unsure answer the doubt check found disagreeing, and one it found agreeing
    doubted_wrong = {**sure, "checked": True, "compared": 3, "agreeing": 1, "least_logprob": -2.0}
    doubted_right = {**sure, "checked": True, "compared": 3, "agreeing": 3, "least_logprob": -2.0}
    stored = tmp_path / "eval.json"
    stored.write_text(json.dumps({"records": [
        record("a", True, sure), record("b", True, doubted_right), record("c", False, doubted_wrong),
        record("d", False, None),  # it failed: no signals, rated low
        record("e", None, {"ok": True, "invented": ["weather"], "generated": 1}, answerable=False, declined=True),
    ]}))
    assert bench.main(["--signals", str(stored)]) == 0
    shipped = capsys.readouterr().out
    assert "right (rows equal the gold's): 2/4 = 50.0 %" in shipped
    assert "wrong answers marked low or declined: 2/2 = 100.0 %" in shipped
    assert "unanswerable questions declined: 1/1 = 100.0 %" in shipped
    assert "one 1.000 of the time" in shipped
    assert bench.main(["--signals", str(stored), "--set", "doubt_candidates=0"]) == 0
    unchecked = capsys.readouterr().out  # without the check the unsure wrong answer stands alone, as sure as the right
    assert "wrong answers marked low or declined: 1/2 = 50.0 %" in unchecked
    assert "one 0.750 of the time" in unchecked
