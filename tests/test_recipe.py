"""The 1.5B recipe (train/recipe, issue 30): distractor tables, one-table proportion, dialect rows, no leaks.

Fast: no model, small slices of the training files; the server tests build three small schemas.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest

from sqlchat.answers.declining import model_decline
from sqlchat.prompt import build_training_text
from train.recipe.declines import SOURCE, add_declining_rows, declining_row, selected_columns
from train.recipe.dialects import TEMPLATES, template_rows
from train.recipe.distractors import (MAX_EXTRA, MIN_EXTRA, Databases, add_distractor_tables, database_groups,
                                      extra_table_count, parse_context, widen_context)
from train.recipe.execute import CheckReport, checked_rows
from train.recipe.rows import (DATA, ROOT, SHARED, Row, answer_tables, held_out_questions, is_one_table,
                               keep_one_table_share, load_training_rows, normalized, one_table_share, read_jsonl)
from train.recipe.schemas import SCHEMAS, inserts

RECIPE = ROOT / "data" / "recipe-1.5b.jsonl"
OTHER_DIALECTS = ROOT / "data" / "recipe-1.5b-other-dialects.jsonl"
needs_data = pytest.mark.skipif(not (DATA / "train-spider-extra.jsonl").exists(), reason="../shared/data is not on this machine")


def _row(context: str, answer: str, question: str = "q?", source: str = "train-spider-extra") -> Row:
    return Row(question, context, answer, source)


def _columns(context: str) -> dict[str, set[str]]:
    return {name.lower(): {c.split()[0].lower() for c in columns} for name, columns in parse_context(context)}


# --------------------------------------------------------------------------- distractor tables

def test_widened_context_keeps_the_gold_and_adds_5_to_15_tables() -> None:
    row = _row("CREATE TABLE head (age INTEGER, name VARCHAR)", "SELECT name FROM head WHERE age > 56")
    own = {"head": ("head", ("age INTEGER", "name VARCHAR", "born_state VARCHAR", "head_id INTEGER")),
           "department": ("department", ("department_id INTEGER", "name VARCHAR", "budget REAL")),
           "management": ("management", ("department_id INTEGER", "head_id INTEGER"))}
    others = [{f"t{i}_{j}": (f"t{i}_{j}", ("a INTEGER", "b VARCHAR")) for j in range(3)} for i in range(10)]
    for seed in range(20):
        widened = widen_context(row, own, others, random.Random(seed))
        assert widened.answer == row.answer and widened.question == row.question
        before, after = _columns(row.context), _columns(widened.context)
        assert MIN_EXTRA <= extra_table_count(row.context, widened.context) <= MAX_EXTRA
        assert before["head"] <= after["head"]  # the gold's columns all still there
        assert {"department", "management"} <= after.keys()  # its own database's tables first
        assert "born_state" in after["head"]  # its table's other columns from the same database
        con = sqlite3.connect(":memory:")
        for statement in widened.context.split("; "):
            con.execute(statement)
        con.execute(row.answer)  # the gold still runs, unambiguous, on the widened context


def test_nothing_added_has_a_name_the_answer_spells() -> None:
    row = _row("CREATE TABLE a (id INTEGER, x VARCHAR); CREATE TABLE b (a_id INTEGER, y VARCHAR)",
               "SELECT x, y FROM a JOIN b ON a.id = b.a_id")
    own = {"a": ("a", ("id INTEGER", "x VARCHAR", "y VARCHAR", "z VARCHAR")), "b": ("b", ("a_id INTEGER", "y VARCHAR", "x VARCHAR")),
           "x": ("x", ("q INTEGER",)), "c": ("c", ("k INTEGER",))}
    others = [{f"o{i}": (f"o{i}", ("v INTEGER",)) for i in range(20)}]
    widened = _columns(widen_context(row, own, others, random.Random(1)).context)
    assert "y" not in widened["a"] and "x" not in widened["b"]  # no column that makes x or y ambiguous
    assert "x" not in widened  # no table named like a column of the answer
    assert "z" in widened["a"] and "c" in widened


def test_database_groups_follow_shared_table_names_nearby() -> None:
    contexts = ["CREATE TABLE head (age INTEGER)", "CREATE TABLE department (name VARCHAR)",
                "CREATE TABLE head (name VARCHAR); CREATE TABLE department (id VARCHAR)", "CREATE TABLE ship (type VARCHAR)",
                "CREATE TABLE table_name_1 (x VARCHAR)", "CREATE TABLE table_name_1 (y VARCHAR)"]
    groups = database_groups(contexts)
    assert groups[0] == groups[1] == groups[2] != groups[3]
    assert groups[4] != groups[5]  # WikiSQL's anonymous names prove nothing
    databases = Databases.from_rows(contexts, groups)
    assert databases.group_of("CREATE TABLE department (budget INTEGER)") == groups[0]
    assert databases.group_of("CREATE TABLE table_name_1 (x VARCHAR)") is None


@needs_data
def test_distractors_on_the_training_files_are_deterministic_and_in_range() -> None:
    rows = load_training_rows(excluded=set())
    sample = [r for r in rows if r.source == "train-spider-extra"][:400] + [r for r in rows if r.source == "train"][:200]
    first, again = add_distractor_tables(sample, 0.5, seed=3), add_distractor_tables(sample, 0.5, seed=3)
    assert first == again
    assert first != add_distractor_tables(sample, 0.5, seed=4)
    extras = [extra_table_count(a.context, b.context) for a, b in zip(sample, first)]
    widened = [n for n in extras if n]
    assert 0.35 * len(sample) < len(widened) < 0.65 * len(sample)
    assert all(MIN_EXTRA <= n <= MAX_EXTRA for n in widened)
    for before, after in zip(sample, first):
        assert after.answer == before.answer and after.question == before.question
        old, new = _columns(before.context), _columns(after.context)
        assert all(columns <= new[name] for name, columns in old.items())


# --------------------------------------------------------------------------- one-table rows in proportion

def test_one_table_detection() -> None:
    assert is_one_table(_row("", "SELECT name FROM head WHERE age > (SELECT AVG(age) FROM head)"))
    assert not is_one_table(_row("", "SELECT T1.name FROM a AS T1 JOIN b AS T2 ON T1.id = T2.id"))
    assert answer_tables("SELECT x FROM a, b WHERE a.id = b.id") == {"a", "b"}


def test_keep_one_table_share_leaves_out_multi_table_rows_only() -> None:
    one = [_row("", f"SELECT x FROM a{i}") for i in range(60)]
    multi = [_row("", f"SELECT x FROM a{i} JOIN b ON 1 = 1") for i in range(40)]
    rows = one + multi
    kept = keep_one_table_share(rows, 0.8, seed=1)
    assert one_table_share(kept) >= 0.8 and all(row in kept for row in one)
    assert kept == keep_one_table_share(rows, 0.8, seed=1)
    assert keep_one_table_share(rows, 0.5, seed=1) == rows  # already enough: unchanged


# --------------------------------------------------------------------------- no leaks

def _evaluation_questions() -> set[str]:
    paths = [DATA / "dev.jsonl", SHARED / "benchmarks" / "spider-dev" / "dev.json"]
    if not any(path.exists() for path in paths):
        pytest.skip("neither dev.jsonl nor Spider dev is on this machine")
    return held_out_questions(paths)


@needs_data
def test_training_rows_skip_evaluation_questions() -> None:
    held_out = _evaluation_questions()
    rows = load_training_rows()
    assert rows and not {normalized(row.question) for row in rows} & held_out
    assert {row.source for row in rows} == {"train", "train-spider-extra"}


def test_the_written_recipe_has_no_evaluation_question() -> None:
    if not RECIPE.exists():
        pytest.skip("data/recipe-1.5b.jsonl not written (python -m train.recipe)")
    held_out = _evaluation_questions()
    for path in (RECIPE, OTHER_DIALECTS):
        questions = {normalized(row["question"]) for row in read_jsonl(path)}
        assert questions and not questions & held_out, path


def test_the_written_recipe_is_know_sql_and_loads_for_training() -> None:
    if not RECIPE.exists():
        pytest.skip("data/recipe-1.5b.jsonl not written (python -m train.recipe)")
    rows = read_jsonl(RECIPE)
    assert all(set(row) == {"question", "context", "answer", "dialect"} and row["dialect"] == "sqlite" for row in rows)
    assert {row["dialect"] for row in read_jsonl(OTHER_DIALECTS)} == {"postgresql", "mariadb"}
    report = json.loads(RECIPE.with_name("recipe-1.5b.report.json").read_text())
    assert report["one_table_share"]["recipe"] >= report["one_table_share"]["source"]
    assert report["rows"]["train_file"] == len(rows)


# --------------------------------------------------------------------------- declining rows

def test_a_declining_row_loses_the_asked_column_and_answers_with_the_marker() -> None:
    row = _row("CREATE TABLE employee (name VARCHAR, salary INTEGER, dept VARCHAR)",
               "SELECT AVG(salary) FROM employee WHERE dept = 'Sales'", "What is the average salary in Sales?")
    declining = declining_row(row)
    assert declining is not None and declining.source == SOURCE and declining.question == row.question
    assert _columns(declining.context) == {"employee": {"name", "dept"}}
    prompt, completion = build_training_text(declining.context, declining.question, declining.answer, style="chat")
    assert model_decline(completion.split(";")[0]) == "the tables hold no salary"  # what the engine reads back


def test_no_declining_row_where_the_question_does_not_name_the_column_or_another_could_hold_it() -> None:
    unnamed = _row("CREATE TABLE head (age INTEGER, name VARCHAR)", "SELECT name FROM head WHERE age > 56",
                   "Who is older than 56?")
    assert declining_row(unnamed) is None  # "who" does not say `name`
    shared_word = _row("CREATE TABLE person (name VARCHAR, first_name VARCHAR)", "SELECT name FROM person",
                       "List every person's name.")
    assert declining_row(shared_word) is None  # first_name could hold what was asked
    two_tables = _row("CREATE TABLE a (name VARCHAR, x INT); CREATE TABLE b (name VARCHAR, y INT)",
                      "SELECT a.name FROM a JOIN b ON a.x = b.y", "Give the name.")
    assert declining_row(two_tables) is None  # which table lost it would be a guess
    only_column = _row("CREATE TABLE t (salary INTEGER)", "SELECT salary FROM t", "Show each salary.")
    assert declining_row(only_column) is None  # a table with no column is no schema
    assert selected_columns("SELECT COUNT(*) FROM t") == [] and selected_columns("not sql at all") == []


@needs_data
def test_declining_rows_are_added_beside_their_originals_in_the_share_asked() -> None:
    rows = load_training_rows()[:2000]
    mixed = add_declining_rows(rows, 0.04, seed=7)
    added = mixed[len(rows):]
    assert mixed[: len(rows)] == rows and len(added) == 80
    assert all(row.source == SOURCE and model_decline(row.answer) for row in added)
    originals = {(row.question, row.answer) for row in rows}
    assert all(any(q == row.question for q, _ in originals) for row in added)  # the answerable twin stays in
    assert add_declining_rows(rows, 0.04, seed=7) == mixed and add_declining_rows(rows, 0.04, seed=8) != mixed


# --------------------------------------------------------------------------- dialect rows

def test_template_contexts_are_the_engine_rendering(tmp_path: Path) -> None:
    """Each schema's context is what the engine reflects and renders from a SQLite file of it."""
    from sqlchat.config import Settings
    from sqlchat.schema.context import render_context
    from sqlchat.schema.reflection import reflect_schema
    from sqlchat.sources.connection import connect

    import datetime as dt
    for schema in SCHEMAS.values():
        path = tmp_path / f"{schema.name}.sqlite"
        con = sqlite3.connect(path)
        for statement in [*schema.ddl("sqlite"), *inserts(schema, dt.date(2025, 6, 1))]:
            con.execute(statement)
        con.commit()
        con.close()
        with connect(path) as db:
            rendered = render_context(list(reflect_schema(db)), keys=Settings.from_env({}).schema.include_keys)
        assert rendered == schema.context()


def test_template_rows_are_deterministic_and_ask_the_same_in_each_dialect() -> None:
    sqlite_rows = template_rows("sqlite", seed=5)
    assert sqlite_rows == template_rows("sqlite", seed=5)
    assert [r.question for r in sqlite_rows] == [r.question for r in template_rows("postgresql", seed=5)]
    assert len({r.question for r in sqlite_rows}) == len(sqlite_rows) >= 5 * len(TEMPLATES)


def _check(dialect: str, **urls: str) -> tuple[list[Row], CheckReport]:
    report = CheckReport()
    rows = template_rows(dialect, seed=42)
    kept = checked_rows(rows, dialect, report=report, **urls)
    errors = [reason for _, reason in report.dropped[dialect] if reason != "no rows"]
    assert not errors, errors[:3]  # every gold is valid SQL for its dialect; only empty results are dropped
    assert len(kept) >= 0.9 * len(rows)
    return kept, report


def test_sqlite_template_rows_execute() -> None:
    kept, _ = _check("sqlite")
    assert any("strftime" in row.answer for row in kept) and any("julianday" in row.answer for row in kept)


@pytest.mark.postgres
def test_postgresql_template_rows_execute(pg_url: str) -> None:
    kept, _ = _check("postgresql", pg_url=pg_url)
    assert {r.question for r in kept} == {r.question for r in _check("sqlite")[0]}
    assert any("INTERVAL" in r.answer for r in kept) and any("EXTRACT" in r.answer for r in kept)


@pytest.mark.mariadb
def test_mariadb_template_rows_execute(mysql_url: str) -> None:
    kept, _ = _check("mariadb", mariadb_url=mysql_url)
    assert {r.question for r in kept} == {r.question for r in _check("sqlite")[0]}
    assert any("DATE_FORMAT" in r.answer for r in kept) and any("DATEDIFF" in r.answer for r in kept)


# --------------------------------------------------------------------------- the CPU-sized slice

def test_the_cpu_slice_keeps_each_declining_row_beside_its_original() -> None:
    from train.recipe.subset import cpu_subset, is_declining

    rows = [{"question": f"q{i}?", "context": "CREATE TABLE t (a INTEGER, b INTEGER)", "answer": "SELECT a FROM t",
             "dialect": "sqlite"} for i in range(200)]
    rows += [{**rows[i], "context": "CREATE TABLE t (b INTEGER)", "answer": "-- cannot answer: the tables hold no a"}
             for i in range(0, 100, 2)]
    chosen = cpu_subset(rows, size=60, declining_share=0.1, seed=7)
    declining = [row for row in chosen if is_declining(row)]
    assert len(chosen) == 60 and len(declining) == 6
    answered = {row["question"] for row in chosen if not is_declining(row)}
    assert all(row["question"] in answered for row in declining)
    assert len({json.dumps(row, sort_keys=True) for row in chosen}) == 60  # no row twice
    assert chosen == cpu_subset(rows, size=60, declining_share=0.1, seed=7)
    assert chosen != cpu_subset(rows, size=60, declining_share=0.1, seed=8)


def test_the_written_cpu_slice_comes_from_the_recipe() -> None:
    slice_file = ROOT / "data" / "recipe-1.5b-cpu.jsonl"
    if not (RECIPE.exists() and slice_file.exists()):
        pytest.skip("the recipe or its CPU slice is not written")
    recipe = {json.dumps(row, sort_keys=True) for row in read_jsonl(RECIPE)}
    assert all(json.dumps(row, sort_keys=True) in recipe for row in read_jsonl(slice_file))


def test_the_cpu_slice_says_what_is_wrong_with_its_input(tmp_path, capsys) -> None:
    from train.recipe.subset import main

    broken = tmp_path / "recipe.jsonl"
    broken.write_text('{"question": "q", "answer": "SELECT 1"}\nnot json\n', encoding="utf-8")
    for argv, said in ([["--from", str(tmp_path / "none.jsonl")], "does not exist"],
                       [["--from", str(broken)], "is not a recipe"],
                       [["--from", str(broken), "--declining", "0.9"], "between 0 and 0.5"]):
        with pytest.raises(SystemExit) as stopped:
            main([*argv, "--out", str(tmp_path / "out.jsonl")])
        assert stopped.value.code == 2 and said in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()  # nothing half-written
