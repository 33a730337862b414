"""``sqlchat eval --business``: answer accuracy beside execution accuracy, per level, without a model.

A scripted backend answers each question with fixed SQL (the gold, a wrong query, or the gold
with its columns moved or one added), so the figures the evaluator prints are known in advance.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import pytest

from sqlchat.config import DEMO_DIR, Settings
from sqlchat.evaluation.cli import add_eval_arguments, eval_backend, run_eval_command
from sqlchat.evaluation.metrics import answer_match, results_match
from sqlchat.evaluation.runner import DemoDatabases, QuestionRecord, engine_only, evaluate_business, load_business
from sqlchat.errors import ConfigError
from tests.test_evaluation import FakeBackend

QUESTIONS = Path(__file__).parent / "data" / "business" / "questions.jsonl"


# -- answer_match ---------------------------------------------------------------------------------

NAMES = [("Rock", 1297), ("Latin", 579), ("Metal", 374)]


@pytest.mark.parametrize(
    "gold, predicted, ordered",
    [
        (NAMES, [(1297, "Rock"), (579, "Latin"), (374, "Metal")], True),  # columns swapped
        ([("Rock",), ("Latin",)], [("Rock", 1297), ("Latin", 579)], True),  # a count beside the names
        ([("Rock",), ("Latin",)], [(1, "Latin", 579), (2, "Rock", 1297)], False),  # unordered gold: any row order
        ([(1 / 3, "a")], [("a", 0.333333333)], False),  # float rounding as results_match
        ([("9", "x")], [("x", 9, None)], False),  # numeric strings as numbers, a NULL column extra
        ([(1, 1), (2, 2)], [(2, 2), (1, 1)], False),  # two gold columns with the same values
        ([("Jane", "Peacock"), ("Steve", "Johnson")], [("Peacock", "Jane"), ("Johnson", "Steve")], False),
        ([], [], False),
    ],
    ids=["swapped", "extra-column", "unordered", "float", "numeric-text", "twin-columns", "names-swapped", "both-empty"],
)
def test_answer_match_forgives_column_order_and_extra_columns(gold, predicted, ordered):
    assert answer_match(gold, predicted, ordered)


@pytest.mark.parametrize(
    "gold, predicted, ordered",
    [
        ([("Jane", "Peacock")], [("Jane",)], False),  # a gold column is missing
        ([("Rock", 1297)], [("Rock", 1298)], False),  # a wrong value
        ([("Rock",), ("Latin",)], [("Rock",), ("Metal",)], False),  # a wrong row
        ([("Rock",), ("Latin",)], [("Rock",), ("Latin",), ("Metal",)], False),  # an extra row
        ([("Rock",), ("Latin",)], [("Rock",)], False),  # a missing row
        ([("Rock",), ("Rock",)], [("Rock",)], False),  # a bag, not a set
        ([("Rock",), ("Latin",)], [("Latin",), ("Rock",)], True),  # wrong order under ORDER BY
        (NAMES, [(579, "Rock"), (1297, "Latin"), (374, "Metal")], False),  # right columns, rows paired wrongly
        ([("a",)], [("A",)], False),  # letter case is a different value
        ([("a",)], [], False),
        ([], [("a",)], False),
    ],
    ids=["missing-column", "wrong-value", "wrong-row", "extra-row", "missing-row", "bag", "order", "mispaired",
         "case", "empty-prediction", "empty-gold"],
)
def test_answer_match_fails_a_wrong_answer(gold, predicted, ordered):
    assert not answer_match(gold, predicted, ordered)


def test_answer_match_holds_whenever_execution_match_does():
    predictions = [NAMES, NAMES[::-1], [("Rock", 1297)], [(1297, "Rock"), (579, "Latin"), (374, "Metal")]]
    outcomes = {(results_match(NAMES, p, ordered), answer_match(NAMES, p, ordered))
                for p in predictions for ordered in (True, False)}
    assert (True, False) not in outcomes
    assert {(True, True), (False, True), (False, False)} <= outcomes  # every other combination occurs


def test_answer_match_stays_fast_on_many_identical_columns():
    gold = [tuple([1] * 12)]
    assert answer_match(gold, [tuple([1] * 14)], False)
    assert not answer_match(gold + [tuple([1] * 12)], [tuple([1] * 14), tuple([2] * 14)], False)


# -- the business runner ----------------------------------------------------------------------------


def _rows(*ids: str) -> list[dict]:
    rows = {r["id"]: r for r in map(json.loads, QUESTIONS.read_text(encoding="utf-8").splitlines())}
    return [rows[i] for i in ids]


def _file(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "business.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# ch-002 everyday count; ch-009 everyday top 2 with the amount; nw-026 hard self-join; nw-029 hard subquery
PICKED = ("ch-002", "ch-009", "nw-026", "nw-029")
SCRIPTED = {
    "ch-002": "SELECT COUNT(*) FROM Customer WHERE Country = 'Brazil'",  # right, as the gold
    # right answer, columns in another order: strict execution accuracy says no, answer accuracy yes
    "ch-009": "SELECT SUM(Invoice.Total) AS spent, Customer.LastName, Customer.FirstName FROM Customer JOIN Invoice"
              " ON Invoice.CustomerId = Customer.CustomerId WHERE Invoice.InvoiceDate LIKE '2024%'"
              " GROUP BY Customer.CustomerId ORDER BY spent DESC LIMIT 2",
    # the wrong manager: wrong on both
    "nw-026": "SELECT e.FirstName, e.LastName FROM Employees AS e JOIN Employees AS m ON e.ReportsTo = m.EmployeeID"
              " WHERE m.LastName = 'Fuller'",
    # the right products with their price added: answer yes, execution no
    "nw-029": "SELECT ProductName, UnitPrice FROM Products WHERE UnitPrice > (SELECT AVG(UnitPrice) FROM Products)",
}


def _scripted(rows: list[dict]) -> FakeBackend:
    return FakeBackend({r["question"]: [SCRIPTED[r["id"]]] for r in rows})


def test_a_business_run_scores_both_accuracies_and_each_level(tmp_path):
    rows = _rows(*PICKED)
    report = evaluate_business(_file(tmp_path, rows), _scripted(rows), Settings(), progress=False)
    summary = report.to_json()
    assert summary["dataset"] == "business:business.jsonl" and summary["n"] == 4 and summary["unscorable"] == 0
    assert [(r["id"], r["ex"], r["answer"]) for r in summary["records"]] == [
        ("ch-002", True, True), ("ch-009", False, True), ("nw-026", False, False), ("nw-029", False, True)]
    assert summary["execution_accuracy"] == 0.25 and summary["answer_accuracy"] == 0.75
    levels = summary["by_level"]
    assert {level: {k: v for k, v in figures.items() if k != "latency_p50_s"} for level, figures in levels.items()} == {
        "everyday": {"n": 2, "execution_accuracy": 0.5, "answer_accuracy": 1.0},
        "hard": {"n": 2, "execution_accuracy": 0.0, "answer_accuracy": 0.5},
    }
    assert all(figures["latency_p50_s"] >= 0 for figures in levels.values())  # first turns and follow-ups compared by it
    record = summary["records"][1]
    assert record["level"] == "everyday" and record["tags"] == rows[1]["tags"] and record["db_id"] == "chinook"
    json.dumps(summary)


class UnsureBackend(FakeBackend):
    """The scripted SQL with an unsure token in it, so the product runs its doubt check after showing the rows."""

    def generate(self, prompt, n: int = 1):
        return [replace(generation, least_logprob=-3.0) for generation in super().generate(prompt, n)]


def test_a_run_times_the_rows_apart_from_the_doubt_check_that_follows_them(tmp_path):
    rows = _rows("ch-002")
    backend = UnsureBackend({rows[0]["question"]: [SCRIPTED["ch-002"]] * 3})
    report = evaluate_business(_file(tmp_path, rows), backend, Settings(), progress=False)
    (record,) = report.records
    assert record.checked and record.answer and 0 < record.shown_latency_s < record.latency_s
    assert record.shown_latency_s + record.stages["doubt check"] <= record.latency_s
    summary = report.to_json()
    assert summary["shown_p50_s"] == round(record.shown_latency_s, 4) < summary["latency_p50_s"]
    older = {key: value for key, value in summary["records"][0].items() if key != "shown_latency_s"}
    assert QuestionRecord.from_json(older).shown_s == pytest.approx(record.latency_s - record.stages["doubt check"], abs=1e-3)


def test_a_business_run_never_touches_the_bundled_files(tmp_path):
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in DEMO_DIR.glob("*.sqlite")}
    with DemoDatabases(Settings()) as databases:
        copy = databases.path("northwind")
        assert copy.exists() and DEMO_DIR not in copy.parents
        databases.database("northwind")
    assert not copy.exists()  # the copies go with the run
    assert {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in DEMO_DIR.glob("*.sqlite")} == before


def test_the_whole_set_scores_full_marks_when_the_model_writes_the_gold():
    """Every gold query survives the engine's own path (check, read-only run, comparison)."""
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    oracle = FakeBackend({r["question"]: [r["query"]] for r in rows})
    report = evaluate_business(QUESTIONS, oracle, engine_only(Settings()), progress=False)
    failed = [(r.id, r.error) for r in report.records if not (r.ex and r.answer)]
    assert report.n == len(rows) and not failed


def test_a_row_naming_an_unknown_database_is_refused_with_a_sentence(tmp_path):
    row = _rows("ch-001")[0] | {"db": "sakila"}
    with pytest.raises(ConfigError, match="names the database 'sakila'; the demo databases are chinook, northwind"):
        load_business(_file(tmp_path, [row]))
    with pytest.raises(ConfigError, match="Line 1 of business.jsonl is not a business question row"):
        load_business(_file(tmp_path, [{"id": "x", "db": "chinook"}]))


# -- the command -------------------------------------------------------------------------------------


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    return parser.parse_args(argv)


def test_the_command_prints_both_accuracies_and_the_levels(tmp_path, capsys):
    rows = _rows(*PICKED)
    args = _parse(["--business", str(_file(tmp_path, rows)), "--no-progress"])
    assert run_eval_command(args, _scripted(rows), Settings()) == 0
    out = capsys.readouterr().out
    lines = {line.strip().split("  ")[0]: line for line in out.splitlines()}
    assert "25.0% of 4 scorable" in lines["execution accuracy"]
    assert "75.0%" in lines["answer accuracy"]
    assert "execution 50.0%, answer 100.0%" in lines["everyday (2)"]
    assert "execution 0.0%, answer 50.0%" in lines["hard (2)"]


def test_the_command_limits_prints_json_and_replays(tmp_path, capsys):
    rows = _rows(*PICKED)
    path = str(_file(tmp_path, rows))
    args = _parse(["--business", path, "--limit", "2", "--json", "--no-progress"])
    assert run_eval_command(args, _scripted(rows), Settings()) == 0
    run = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in run["records"]] == ["ch-002", "nw-026"]  # evenly spread: both databases
    assert (run["execution_accuracy"], run["answer_accuracy"]) == (0.5, 0.5)
    stored = tmp_path / "run.json"
    stored.write_text(json.dumps(run), encoding="utf-8")

    replay = _parse(["--business", path, "--limit", "2", "--replay", str(stored), "--json", "--no-progress"])
    assert run_eval_command(replay, eval_backend(replay, Settings()), Settings()) == 0
    replayed = json.loads(capsys.readouterr().out)
    assert replayed["backend"].startswith("replay of run.json")
    scores = [(r["id"], r["ex"], r["answer"]) for r in run["records"]]
    assert [(r["id"], r["ex"], r["answer"]) for r in replayed["records"]] == scores


def test_the_command_reports_a_missing_file_without_a_traceback(tmp_path, capsys):
    args = _parse(["--business", str(tmp_path / "missing.jsonl"), "--no-progress"])
    assert run_eval_command(args, FakeBackend({}), Settings()) == 2
    assert "could not be read" in capsys.readouterr().err


def test_sqlchat_eval_business_runs_from_the_real_command_line(tmp_path, capsys):
    """`sqlchat eval --business FILE --replay RUN.json`: the flag is registered on the real parser."""
    from sqlchat.cli import main

    rows = _rows(*PICKED)
    stored = {"backend": "fake", "num_candidates": 1, "records": [
        {"question": r["question"], "candidates": [SCRIPTED[r["id"]]]} for r in rows]}
    run = tmp_path / "run.json"
    run.write_text(json.dumps(stored), encoding="utf-8")
    assert main(["eval", "--business", str(_file(tmp_path, rows)), "--replay", str(run), "--json", "--no-progress"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["execution_accuracy"], printed["answer_accuracy"]) == (0.25, 0.75)
    assert set(printed["by_level"]) == {"everyday", "hard"}
