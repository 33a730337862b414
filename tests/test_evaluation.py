"""The evaluator scores right SQL 1 and wrong SQL 0, without a language model.

A fake backend returns predetermined SQL per question: that tests the evaluator itself
(metrics, synthesized databases, the Spider runner, the CLI), not a model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from sqlchat.config import ExecutionConfig, Settings
from sqlchat.evaluation.checkpoint import Checkpoint
from sqlchat.evaluation.cli import add_eval_arguments, eval_backend, format_report, run_eval_command
from sqlchat.evaluation.metrics import exact_match, has_order_by, normalize_sql, percentile, results_match
from sqlchat.evaluation.replay import ReplayBackend
from sqlchat.evaluation.runner import EvalReport, engine_only, evaluate_know_sql, evaluate_spider, spread
from sqlchat.evaluation.synthesize import create_schema, run_query, synthesize
from sqlchat.models.backends import Generation
from sqlchat.prompt import Prompt

DATA = Path(__file__).parent / "data"
SPIDER_MINI = DATA / "spider-mini"
SHARED_SPIDER = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "spider-dev"
SUMMARY_KEYS = {
    "n", "exact_match", "execution_accuracy", "valid_sql", "latency_p50_s", "latency_p95_s",
    "tokens_per_s", "peak_memory_mb", "unscorable",
}
RECORD_KEYS = {"question", "gold", "predicted", "em", "ex", "valid", "latency_s", "error"}

PLAYERS = "CREATE TABLE players (name VARCHAR, position VARCHAR, team VARCHAR, points VARCHAR)"
JOINED = "CREATE TABLE singer (singer_id VARCHAR, name VARCHAR); CREATE TABLE song (singer_id VARCHAR, genre VARCHAR)"


class FakeBackend:
    """Answers each question with its predetermined candidates (a Backend for tests)."""

    name = "fake"

    def __init__(self, answers: dict[str, list[str] | Exception]):
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    def generate(self, prompt: Prompt, n: int = 1) -> list[Generation]:
        self.calls.append((prompt, n))
        for question, answer in self.answers.items():
            if prompt.question.strip() == question:
                if isinstance(answer, Exception):
                    raise answer
                return [Generation(text=sql, sql=sql, tokens=10, seconds=0.5) for sql in answer[:n]]
        raise AssertionError(f"unexpected prompt: {prompt!r}")


def _know_sql_file(tmp_path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path = tmp_path / "rows.jsonl"
    lines = [json.dumps({"question": q, "context": c, "answer": a}) for q, c, a in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _score_one(tmp_path: Path, context: str, gold: str, predicted: str | list[str], candidates: int = 1) -> dict:
    """Evaluate a single know_sql row whose model answer is ``predicted``; its record."""
    answers = predicted if isinstance(predicted, list) else [predicted]
    path = _know_sql_file(tmp_path, [("the question?", context, gold)])
    settings = Settings().with_model(num_candidates=candidates)
    report = evaluate_know_sql(path, FakeBackend({"the question?": answers}), settings, progress=False)
    assert report.n == 1
    return report.to_json()["records"][0]


# -- exact match and result comparison -----------------------------------------------------------


def test_exact_match_forgives_case_spacing_and_quote_style_only():
    gold = 'SELECT COUNT(*) FROM t WHERE a = "x"'
    assert exact_match("select count(*)  from t where a='x';", gold)
    assert exact_match('SELECT COUNT(*) FROM "t" WHERE "a" = \'x\'', gold)
    assert not exact_match("SELECT COUNT(*) FROM t WHERE a = 'y'", gold)
    assert not exact_match("SELECT COUNT(*) FROM t WHERE a = 'X'", gold)
    # no looser: reordered conditions are another text (execution accuracy forgives them)
    assert not exact_match("SELECT a FROM t WHERE b = 1 AND c = 2", "SELECT a FROM t WHERE c = 2 AND b = 1")


def test_a_double_quoted_column_stays_a_column_for_exact_match():
    gold = "SELECT name FROM t WHERE name = other"
    assert exact_match('SELECT name FROM t WHERE name = "other"', gold, known_columns=["name", "other"])
    assert not exact_match('SELECT name FROM t WHERE name = "other"', gold)


@pytest.mark.parametrize("garbage", ["SELEC name FORM t", "", "   ", "SELECT 1; SELECT 2", "SELECT (", None])
def test_unparsable_sql_never_matches_and_never_raises(garbage):
    assert normalize_sql(garbage) is None
    assert not exact_match(garbage, "SELECT name FROM t")


def test_exact_match_on_another_dialects_sql_writes_no_warning_to_the_log(caplog):
    """A PostgreSQL run's SQL is compared in SQLite's words; sqlglot's warnings there are no news to its log."""
    with caplog.at_level("WARNING"):
        normalize_sql("SELECT TO_CHAR(d, 'YYYY') FROM t")
    assert not [record for record in caplog.records if record.name.startswith("sqlglot")]


def test_results_compare_as_bags_with_numbers_normalised():
    assert results_match([(1, "a"), (2, "b")], [(2, "b"), (1, "a")], ordered=False)
    assert not results_match([(1, "a"), (2, "b")], [(2, "b"), (1, "a")], ordered=True)
    assert not results_match([(1,), (1,)], [(1,)], ordered=False)  # multiset, not set
    assert results_match([("9",), (2.5,)], [(9,), ("2.5000000001",)], ordered=False)
    assert results_match([(1 / 3,)], [(0.333333333,)], ordered=False)
    assert not results_match([(0.33,)], [(0.34,)], ordered=False)
    assert not results_match([("a",)], [("A",)], ordered=False)
    assert results_match([(None,)], [(float("nan"),)], ordered=False)


def test_order_matters_only_when_the_outer_gold_query_is_ordered():
    assert has_order_by("SELECT a FROM t ORDER BY a")
    assert not has_order_by("SELECT a FROM t WHERE a IN (SELECT a FROM u ORDER BY a LIMIT 3)")


def test_percentile_and_spread():
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([1.0, 2.0], 0.95) == pytest.approx(1.95)
    assert percentile([], 0.5) is None
    assert spread(list(range(10)), 3) == [0, 3, 6]
    assert spread(list(range(3)), None) == [0, 1, 2]


# -- synthesized databases ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "context, gold",
    [
        (PLAYERS, 'SELECT name FROM players WHERE position = "guard" AND team = "lakers"'),
        (PLAYERS, "SELECT COUNT(name) FROM players WHERE points > 25"),
        (PLAYERS, "SELECT name FROM players WHERE points < 10"),
        (PLAYERS, 'SELECT name FROM players WHERE team LIKE "%ers"'),
        (PLAYERS, "SELECT name FROM players WHERE position IN ('guard', 'center')"),
        (PLAYERS, "SELECT name FROM players WHERE points BETWEEN 10 AND 20"),
        (PLAYERS, "SELECT team FROM players GROUP BY team HAVING AVG(points) < 50"),
        (JOINED, 'SELECT T1.name FROM singer AS T1 JOIN song AS T2 ON T1.singer_id = T2.singer_id WHERE T2.genre = "pop"'),
        ("CREATE TABLE t (year INTEGER, name VARCHAR)", "SELECT MAX(year) FROM t WHERE name = \"x\" AND year < 2000"),
    ],
)
def test_synthesized_database_gives_the_gold_rows(context, gold):
    synthesis = synthesize(context, gold)
    try:
        assert synthesis.scorable, synthesis.reason
        assert synthesis.gold_rows
        with pytest.raises(Exception):  # predictions run on a query_only connection
            synthesis.connection.execute("DELETE FROM " + context.split()[2])
    finally:
        synthesis.close()


def test_text_columns_compared_to_numbers_follow_sqlite_text_order():
    """``points > 25`` on a VARCHAR column is a text comparison in SQLite; the data must agree."""
    synthesis = synthesize(PLAYERS, "SELECT points FROM players WHERE points > 25")
    try:
        assert synthesis.scorable
        assert all(int(value) > 25 for (value,) in synthesis.gold_rows)
    finally:
        synthesis.close()


def test_a_gold_that_cannot_return_rows_is_unscorable():
    for gold in ("SELECT name FROM players WHERE no_such_column = 1", "SELECT name FROM players WHERE 1 = 2"):
        synthesis = synthesize(PLAYERS, gold)
        assert not synthesis.scorable and synthesis.reason
        synthesis.close()
    broken_context = synthesize("CREATE TABLE (", "SELECT 1")
    assert not broken_context.scorable and "context" in broken_context.reason


# -- know_sql runs ----------------------------------------------------------------------------


def test_right_prediction_scores_one(tmp_path):
    gold = 'SELECT name FROM players WHERE position = "guard"'
    record = _score_one(tmp_path, PLAYERS, gold, gold)
    assert (record["em"], record["ex"], record["valid"], record["error"]) == (True, True, True, None)


def test_equivalent_sql_written_differently_scores_one_on_execution(tmp_path):
    gold = 'SELECT COUNT(*) FROM players WHERE team = "x" AND points > 25'
    restyled = _score_one(tmp_path, PLAYERS, gold, "select count(*) from players where team='x' and points > 25")
    assert restyled["em"] and restyled["ex"]
    reordered = _score_one(tmp_path, PLAYERS, gold, "SELECT COUNT(*) FROM players WHERE points > 25 AND team = 'x'")
    assert not reordered["em"] and reordered["ex"]


def test_other_aliases_and_join_order_score_one_on_execution_only(tmp_path):
    gold = 'SELECT T1.name FROM singer AS T1 JOIN song AS T2 ON T1.singer_id = T2.singer_id WHERE T2.genre = "pop"'
    predicted = "SELECT singer.name FROM song JOIN singer ON song.singer_id = singer.singer_id WHERE song.genre = 'pop'"
    record = _score_one(tmp_path, JOINED, gold, predicted)
    assert (record["em"], record["ex"]) == (False, True)


def test_the_empty_result_trap_is_caught(tmp_path):
    gold = 'SELECT name FROM players WHERE position = "guard"'
    wrong = 'SELECT name FROM players WHERE position = "goalkeeper"'
    empty = create_schema(PLAYERS)  # on empty tables the wrong filter would "match"
    assert run_query(empty, gold, 5) == run_query(empty, wrong, 5) == []
    empty.close()
    record = _score_one(tmp_path, PLAYERS, gold, wrong)
    assert (record["em"], record["ex"], record["valid"]) == (False, False, True)


@pytest.mark.parametrize(
    "gold, wrong",
    [
        ('SELECT MAX(points) FROM players WHERE team = "x"', 'SELECT MIN(points) FROM players WHERE team = "x"'),
        ('SELECT SUM(points) FROM players WHERE team = "x"', 'SELECT AVG(points) FROM players WHERE team = "x"'),
        ('SELECT name FROM players WHERE team = "x" AND points > 25', 'SELECT name FROM players WHERE team = "x"'),
        ('SELECT MAX(points) FROM players WHERE team = "x" AND position = "guard"', 'SELECT MAX(points) FROM players WHERE team = "x"'),
        ("SELECT name FROM players WHERE points > 25", "SELECT name FROM players WHERE points < 25"),
        ("SELECT name FROM players WHERE points > 25", "SELECT name FROM players WHERE points >= 25"),
        ('SELECT name FROM players WHERE team = "x"', 'SELECT team FROM players WHERE team = "x"'),
    ],
    ids=["max-vs-min", "sum-vs-avg", "missing-threshold", "missing-filter", "flipped", "off-by-one", "wrong-column"],
)
def test_wrong_aggregates_and_filters_score_zero(tmp_path, gold, wrong):
    assert _score_one(tmp_path, PLAYERS, gold, gold)["ex"] is True
    record = _score_one(tmp_path, PLAYERS, gold, wrong)
    assert (record["em"], record["ex"]) == (False, False)


def test_unparsable_prediction_is_invalid_not_a_crash(tmp_path):
    record = _score_one(tmp_path, PLAYERS, "SELECT name FROM players", "SELEC name FORM players WHERE")
    assert (record["em"], record["ex"], record["valid"]) == (False, False, False)
    assert record["error"]


def test_unsafe_prediction_is_invalid_and_never_runs(tmp_path):
    record = _score_one(tmp_path, PLAYERS, "SELECT name FROM players", "DELETE FROM players")
    assert (record["ex"], record["valid"]) == (False, False)


def test_execution_guided_choice_takes_the_first_candidate_that_runs(tmp_path):
    gold = 'SELECT name FROM players WHERE team = "x"'
    record = _score_one(tmp_path, PLAYERS, gold, ["SELECT nope FROM players", gold], candidates=2)
    assert record["predicted"] == gold and record["ex"] and record["valid"]


def test_a_run_survives_failures_and_reports_everything(tmp_path):
    rows = [
        ("right?", PLAYERS, 'SELECT name FROM players WHERE team = "x"'),
        ("wrong?", PLAYERS, 'SELECT name FROM players WHERE team = "x"'),
        ("broken backend?", PLAYERS, "SELECT name FROM players"),
        ("unscorable?", PLAYERS, "SELECT name FROM players WHERE 1 = 2"),
    ]
    backend = FakeBackend({
        "right?": ["SELECT name FROM players WHERE team = 'x'"],
        "wrong?": ["SELECT name FROM players WHERE team = 'y'"],
        "broken backend?": RuntimeError("GPU on fire"),
        "unscorable?": ["SELECT name FROM players WHERE 1 = 2"],
    })
    report = evaluate_know_sql(_know_sql_file(tmp_path, rows), backend, Settings(), progress=False)
    summary = report.to_json()
    assert SUMMARY_KEYS <= summary.keys()
    assert all(RECORD_KEYS <= r.keys() for r in summary["records"])
    assert summary["n"] == 4 and summary["unscorable"] == 1
    assert report.execution_accuracy == pytest.approx(1 / 3)  # over the 3 scorable rows
    assert report.exact_match == pytest.approx(2 / 4)
    assert report.valid_sql == pytest.approx(3 / 4)
    broken = summary["records"][2]
    assert broken["ex"] is False and "GPU on fire" in broken["error"]
    for key in ("exact_match", "execution_accuracy", "valid_sql"):
        assert 0.0 <= summary[key] <= 1.0
    assert summary["tokens_per_s"] == pytest.approx(10 / 0.5)
    assert 0 <= summary["latency_p50_s"] <= summary["latency_p95_s"] < 5
    assert summary["peak_memory_mb"] > 10
    json.dumps(summary)  # serialisable as it is


def test_limit_and_candidates_reach_the_backend(tmp_path):
    rows = [(f"q{i}?", PLAYERS, "SELECT name FROM players") for i in range(6)]
    backend = FakeBackend({f"q{i}?": ["SELECT name FROM players"] * 3 for i in range(6)})
    settings = Settings().with_model(num_candidates=3)
    report = evaluate_know_sql(_know_sql_file(tmp_path, rows), backend, settings, limit=2, progress=False)
    assert report.n == 2 and {n for _, n in backend.calls} == {3}


# -- Spider --------------------------------------------------------------------------------------


def _spider_rows(directory: Path) -> list[dict]:
    return json.loads((directory / "dev.json").read_text(encoding="utf-8"))


def _oracle(rows: list[dict]) -> FakeBackend:
    return FakeBackend({r["question"]: [r["query"]] for r in rows})


def test_spider_gold_as_prediction_scores_everything(tmp_path):
    rows = _spider_rows(SPIDER_MINI)
    report = evaluate_spider(SPIDER_MINI, _oracle(rows), Settings(), progress=False)
    summary = report.to_json()
    assert summary["n"] == len(rows) == 5
    assert (summary["execution_accuracy"], summary["exact_match"], summary["valid_sql"]) == (1.0, 1.0, 1.0)
    assert summary["unscorable"] == 0
    assert {r["db_id"] for r in summary["records"]} == {"concert_singer"}


def test_spider_wrong_predictions_score_zero():
    rows = _spider_rows(SPIDER_MINI)
    wrong = {
        rows[1]["question"]: ["SELECT name, country, age FROM singer ORDER BY age ASC"],  # order matters here
        rows[2]["question"]: ["SELECT avg(age), min(age), max(age) FROM singer WHERE country = 'Netherlands'"],
        rows[4]["question"]: ["SELECT name, country FROM singer WHERE song_name LIKE '%Love%'"],
    }
    backend = FakeBackend({r["question"]: wrong.get(r["question"], [r["query"]]) for r in rows})
    report = evaluate_spider(SPIDER_MINI, backend, Settings(), progress=False)
    assert [r.ex for r in report.records] == [True, False, False, True, False]


def test_spider_equivalent_join_key_scores_one_on_execution_only():
    rows = _spider_rows(SPIDER_MINI)
    backend = FakeBackend({r["question"]: [r["query"].replace("GROUP BY T1.stadium_id", "GROUP BY T2.stadium_id")] for r in rows})
    report = evaluate_spider(SPIDER_MINI, backend, Settings(), progress=False)
    assert report.execution_accuracy == 1.0  # grouped by the joined key on the other side: same rows
    assert report.records[3].em is False


def test_spider_scores_the_repaired_sql_when_the_models_own_failed():
    rows = _spider_rows(SPIDER_MINI)
    invented = {r["question"]: [r["query"].replace("country", "countrys")] for r in rows}
    report = evaluate_spider(SPIDER_MINI, FakeBackend(invented), Settings(), progress=False)
    touched = [record for record, row in zip(report.records, rows) if "country" in row["query"]]
    assert touched and all(record.ex and "countrys" not in record.predicted for record in touched)
    assert all("LIMIT" not in record.predicted for record in touched)  # as the model wrote it, not as run


@pytest.mark.skipif(not SHARED_SPIDER.exists(), reason="../shared/benchmarks/spider-dev is not on this machine")
def test_spider_dev_gold_scores_full_marks_on_every_database():
    rows = _spider_rows(SHARED_SPIDER)
    report = evaluate_spider(SHARED_SPIDER, _oracle(rows), engine_only(Settings()), limit=40, progress=False)
    assert report.n == 40 and len({r.db_id for r in report.records}) >= 10
    assert report.execution_accuracy == 1.0


# -- the CLI -----------------------------------------------------------------------------------


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    return parser.parse_args(argv)


def test_cli_prints_one_json_object(tmp_path, capsys):
    path = _know_sql_file(tmp_path, [("q?", PLAYERS, "SELECT name FROM players")])
    args = _parse(["--data", str(path), "--json", "--no-progress", "--candidates", "1"])
    assert run_eval_command(args, FakeBackend({"q?": ["SELECT name FROM players"]}), Settings()) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["n"] == 1 and printed["execution_accuracy"] == 1.0 and len(printed["records"]) == 1


def test_cli_prints_a_table_for_spider(capsys):
    args = _parse(["--spider", str(SPIDER_MINI), "--limit", "2", "--no-progress"])
    assert run_eval_command(args, _oracle(_spider_rows(SPIDER_MINI)), Settings()) == 0
    out = capsys.readouterr().out
    assert "execution accuracy" in out and "100.0%" in out


def test_cli_reports_missing_data_without_a_traceback(tmp_path, capsys):
    args = _parse(["--data", str(tmp_path / "missing.jsonl"), "--no-progress"])
    assert run_eval_command(args, FakeBackend({}), Settings()) == 2
    assert "could not be read" in capsys.readouterr().err


def test_cli_keeps_an_existing_candidates_flag():
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int)
    add_eval_arguments(parser)
    assert parser.parse_args(["--data", "x", "--candidates", "4"]).candidates == 4


def test_human_table_handles_an_empty_report():
    text = format_report(EvalReport(dataset="d", backend="b", num_candidates=1))
    assert "questions" in text and "-" in text



# -- replaying a stored run ----------------------------------------------------------------------


def _stored_run(tmp_path: Path, rows: list[tuple[str, str, str]], answers: dict[str, list[str]], candidates: int) -> Path:
    """Evaluate ``rows`` with fixed answers and keep the JSON, as `sqlchat eval --json > run.json` does."""
    settings = Settings().with_model(num_candidates=candidates)
    report = evaluate_know_sql(_know_sql_file(tmp_path, rows), FakeBackend(answers), settings, progress=False)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(report.to_json()), encoding="utf-8")
    return path


def test_a_replay_scores_the_stored_candidates_without_the_model(tmp_path, capsys):
    gold = 'SELECT name FROM players WHERE team = "x"'
    rows = [("first wrong?", PLAYERS, gold), ("right?", PLAYERS, gold)]
    answers = {
        "first wrong?": ["SELECT nope FROM players", "SELECT name FROM players WHERE team = 'x'"],
        "right?": ["SELECT name FROM players WHERE team = 'x'", "SELECT 1"],
    }
    run = _stored_run(tmp_path, rows, answers, candidates=2)
    assert [r["candidates"] for r in json.loads(run.read_text())["records"]] == list(answers.values())
    data = str(tmp_path / "rows.jsonl")

    replayed = _parse(["--data", data, "--replay", str(run), "--json", "--no-progress"])
    assert run_eval_command(replayed, eval_backend(replayed, Settings()), Settings()) == 0
    both = json.loads(capsys.readouterr().out)
    assert both["num_candidates"] == 2 and both["execution_accuracy"] == 1.0  # as stored

    first_only = _parse(["--data", data, "--replay", str(run), "--candidates", "1", "--json", "--no-progress"])
    no_retry = Settings().with_model(retry_candidates=0)
    assert run_eval_command(first_only, eval_backend(first_only, no_retry), no_retry) == 0
    assert json.loads(capsys.readouterr().out)["execution_accuracy"] == 0.5  # the first candidate alone

    # the engine's retry: the first candidate failed, so the stored second one is asked for and runs
    assert run_eval_command(first_only, eval_backend(first_only, Settings()), Settings()) == 0
    retried = json.loads(capsys.readouterr().out)
    assert retried["execution_accuracy"] == 1.0 and retried["records"][0]["candidates"] == answers["first wrong?"]


def test_a_replays_later_round_is_the_greedy_answer_again_and_n_minus_one_new_candidates(tmp_path):
    """As the live backend answers a retry (its cached greedy answer first), so fewer retry candidates replay
    as a live run with that setting would, not as the same stored samples."""
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"records": [{"question": "q?", "candidates": ["g", "s1", "s2", "s3"]}]}), encoding="utf-8")
    replay = ReplayBackend(run)
    prompt = Prompt(context="", question="q?")
    assert [g.sql for g in replay.generate(prompt, 1)] == ["g"]
    assert [g.sql for g in replay.generate(prompt, 2)] == ["g", "s1"]  # a one-sample retry: s2 is not served
    assert [g.sql for g in replay.generate(prompt, 3)] == ["g", "s2", "s3"]  # a later round: the rest
    assert [g.sql for g in replay.generate(prompt, 3)] == ["g"]


def test_a_replay_of_another_file_fails_per_question_not_the_run(tmp_path):
    run = _stored_run(tmp_path, [("q?", PLAYERS, "SELECT name FROM players")], {"q?": ["SELECT name FROM players"]}, 1)
    other = _know_sql_file(tmp_path, [("another question?", PLAYERS, "SELECT name FROM players")])
    report = evaluate_know_sql(other, ReplayBackend(run), Settings(), progress=False)
    assert report.records[0].ex is False and "not in the stored run" in report.records[0].error


def test_a_file_that_is_not_a_run_is_refused_with_a_sentence(tmp_path, capsys):
    from sqlchat.cli import main

    bad = tmp_path / "notes.json"
    bad.write_text("{\"hello\": 1}", encoding="utf-8")
    assert main(["eval", "--data", str(bad), "--replay", str(bad)]) == 2
    assert "is not the JSON of a `sqlchat eval --json` run" in capsys.readouterr().err


def test_an_informative_candidate_is_chosen_over_an_empty_one(tmp_path):
    gold = 'SELECT name FROM players WHERE team = "x"'
    empty_first = ["SELECT name FROM players WHERE team = 'no such team'", "SELECT name FROM players WHERE team = 'x'"]
    assert _score_one(tmp_path, PLAYERS, gold, empty_first, candidates=2)["ex"] is True
    first_that_runs = Settings(execution=ExecutionConfig(prefer_informative=False)).with_model(num_candidates=2)
    path = _know_sql_file(tmp_path, [("the question?", PLAYERS, gold)])
    report = evaluate_know_sql(path, FakeBackend({"the question?": empty_first}), first_that_runs, progress=False)
    assert report.records[0].ex is False


def test_a_value_written_in_other_letter_case_is_linked_to_the_stored_one(tmp_path):
    gold = 'SELECT points FROM players WHERE name = "lybrant robinson"'
    record = _score_one(tmp_path, PLAYERS, gold, "SELECT points FROM players WHERE name = 'Lybrant Robinson'")
    assert record["ex"] is True and "'lybrant robinson'" in record["predicted"]  # the SQL the engine ran
    assert record["candidates"] == ["SELECT points FROM players WHERE name = 'Lybrant Robinson'"]  # the model's


# -- a run that stops and goes on (--checkpoint) ----------------------------------------------------


def test_a_checkpointed_run_goes_on_where_it_stopped(tmp_path, capsys):
    rows = _spider_rows(SPIDER_MINI)
    checkpoint = tmp_path / "run.jsonl"
    whole = run_eval_command(_parse(["--spider", str(SPIDER_MINI), "--json", "--no-progress"]), _oracle(rows), Settings())
    expected = json.loads(capsys.readouterr().out)
    # the first run is cut short after three questions, the last line half written
    first = FakeBackend({r["question"]: [r["query"]] for r in rows[:3]})
    evaluate_spider(SPIDER_MINI, first, Settings(), progress=False, checkpoint=Checkpoint(checkpoint))
    lines = checkpoint.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(rows) == 5
    checkpoint.write_text("\n".join(lines[:3]) + "\n" + lines[3][:40], encoding="utf-8")

    again = _oracle(rows)
    args = _parse(["--spider", str(SPIDER_MINI), "--json", "--no-progress", "--checkpoint", str(checkpoint)])
    assert whole == run_eval_command(args, again, Settings()) == 0
    resumed = json.loads(capsys.readouterr().out)
    asked = {prompt.question.strip() for prompt, _ in again.calls}
    assert asked == {r["question"] for r in rows[3:]}  # only the rows the first run had not finished
    assert [r["question"] for r in resumed["records"]] == [r["question"] for r in rows]
    assert resumed["execution_accuracy"] == expected["execution_accuracy"] == 1.0


def test_a_checkpoint_replays_as_one_run(tmp_path, capsys):
    rows = _spider_rows(SPIDER_MINI)
    checkpoint = tmp_path / "run.jsonl"
    live = evaluate_spider(SPIDER_MINI, _oracle(rows), Settings(), progress=False, checkpoint=Checkpoint(checkpoint))
    args = _parse(["--spider", str(SPIDER_MINI), "--replay", str(checkpoint), "--json", "--no-progress"])
    assert run_eval_command(args, eval_backend(args, Settings()), Settings()) == 0
    replayed = json.loads(capsys.readouterr().out)
    assert replayed["n"] == live.n == len(rows) and replayed["execution_accuracy"] == live.execution_accuracy == 1.0


def test_a_checkpoint_of_other_questions_is_refused_with_a_sentence(tmp_path, capsys):
    checkpoint = tmp_path / "run.jsonl"
    evaluate_spider(SPIDER_MINI, _oracle(_spider_rows(SPIDER_MINI)), Settings(), limit=2, progress=False,
                    checkpoint=Checkpoint(checkpoint))
    args = _parse(["--spider", str(SPIDER_MINI), "--no-progress", "--checkpoint", str(checkpoint)])
    assert run_eval_command(args, FakeBackend({}), Settings()) == 2
    assert "written for other questions" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.jsonl", None, "is not a file"),
    ("empty.jsonl", "", "holds no scored rows"),
])
def test_a_checkpoint_that_cannot_be_replayed_is_refused_with_a_sentence(tmp_path, capsys, name, content, message):
    from sqlchat.cli import main

    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["eval", "--spider", str(SPIDER_MINI), "--replay", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_a_checkpoint_that_cannot_be_written_stops_the_run_with_a_sentence(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    args = _parse(["--spider", str(SPIDER_MINI), "--no-progress", "--checkpoint", str(blocker / "run.jsonl")])
    assert run_eval_command(args, _oracle(_spider_rows(SPIDER_MINI)), Settings()) == 2
    assert "could not be written" in capsys.readouterr().err


def _prune(tmp_path: Path, checkpoint: Path, *before: str) -> tuple[int, list[dict]]:
    import subprocess
    import sys

    out = tmp_path / "pruned.jsonl"
    args = [sys.executable, str(Path(__file__).resolve().parents[1] / "benchmarks" / "prune_checkpoint.py"),
            "--spider", str(SPIDER_MINI), "--checkpoint", str(checkpoint), "--out", str(out)]
    for item in before:
        args += ["--before", item]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []
    return done.returncode, lines


def test_prune_checkpoint_keeps_only_the_lines_whose_prompt_a_change_leaves_alone(tmp_path):
    rows = _spider_rows(SPIDER_MINI)
    checkpoint = tmp_path / "spider.jsonl"
    evaluate_spider(SPIDER_MINI, _oracle(rows), Settings(), progress=False, checkpoint=Checkpoint(checkpoint))
    code, kept = _prune(tmp_path, checkpoint, "SQLCHAT_SCHEMA_FOCUS=1")  # the engine as it is: nothing changes
    assert code == 0 and len(kept) == len(rows)
    code, kept = _prune(tmp_path, checkpoint, "SQLCHAT_SCHEMA_FOCUS=0")  # every table sent before: prompts differ
    assert code == 0 and 0 < len(rows) - len(kept) and {k["key"] for k in kept} < {r["question"] for r in rows}
    code, _ = _prune(tmp_path, checkpoint, "SQLCHAT_SCHEMA_FOCUS")  # no value: a sentence, exit 2
    assert code == 2
