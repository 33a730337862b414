"""The held-out suite (tests/data/heldout): its shape, and every gold answer on SQLite and on PostgreSQL.

The suite measures sqlchat on public databases nobody working on it tuned on; these checks keep it what its
README says: at least 6 databases, 200 answerable and 40 unanswerable questions, each gold runnable on both
copies with the same rows, and nothing borrowed from the sets the engine was tuned on.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from sqlchat.evaluation.heldout import PostgresCopies, load_heldout, suite_databases
from sqlchat.evaluation.metrics import has_order_by, results_match
from sqlchat.config import Settings

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "tests" / "data" / "heldout"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ROWS = load_heldout(SUITE)
ANSWERABLE = [row for row in ROWS if row.answerable]


def test_the_suite_has_its_size():
    assert len(suite_databases(SUITE)) >= 6
    assert len(ANSWERABLE) >= 200
    assert len(ROWS) - len(ANSWERABLE) >= 40
    assert len({row.id for row in ROWS}) == len(ROWS), "ids repeat"
    levels = Counter(row.level for row in ANSWERABLE)
    assert set(levels) == {"everyday", "hard"} and min(levels.values()) >= 60


def test_every_database_says_where_it_comes_from_and_its_licence():
    for db in suite_databases(SUITE):
        source = (SUITE / db / "SOURCE.md").read_text(encoding="utf-8").lower()
        assert "licen" in source and ("github" in source or "pypi" in source), db
    readme = (SUITE / "README.md").read_text(encoding="utf-8")
    assert "frozen" in readme.lower()


def test_no_question_is_taken_from_the_sets_the_engine_was_tuned_on():
    tuned = set()
    for path in (ROOT / "tests" / "data" / "business").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            tuned |= {item.get("question", "")} | {turn["question"] for turn in item.get("turns", [])}
    spider = ROOT.parent / "shared" / "benchmarks" / "spider-dev" / "dev.json"
    if spider.exists():
        tuned |= {item["question"] for item in json.loads(spider.read_text(encoding="utf-8"))}
    normal = {q.strip().lower() for q in tuned}
    assert not [row.id for row in ROWS if row.question.strip().lower() in normal]


@pytest.fixture(scope="module")
def files():
    connections = {db: sqlite3.connect(f"file:{SUITE / db / (db + '.sqlite')}?mode=ro", uri=True)
                   for db in suite_databases(SUITE)}
    yield connections
    for conn in connections.values():
        conn.close()


@pytest.mark.parametrize("row", ANSWERABLE, ids=lambda row: row.id)
def test_every_gold_runs_on_sqlite_and_says_something(files, row):
    rows = files[row.db].execute(row.query).fetchall()
    assert rows and any(value not in (None, "", 0) for r in rows for value in r), row.id


def _copy_script():
    spec = importlib.util.spec_from_file_location("copy_demo_to_postgres", ROOT / "scripts" / "copy_demo_to_postgres.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def postgres_copies():
    """The suite copied to PostgreSQL under a private prefix (as scripts/copy_demo_to_postgres.py makes the copies
    ``sqlchat eval --heldout --postgres`` asks on), removed afterwards."""
    try:
        sa.create_engine(PG_URL).connect().close()
    except sa.exc.SQLAlchemyError:
        pytest.skip("no PostgreSQL server at 127.0.0.1:5432")
    copy, prefix = _copy_script(), f"t{uuid.uuid4().hex[:6]}_"
    names = suite_databases(SUITE)
    files = {name: SUITE / name / f"{name}.sqlite" for name in names}
    copy.copy_to_postgres(PG_URL, names, prefix + "heldout_", files=files)
    copies = PostgresCopies(PG_URL, Settings(), schema_prefix=prefix + "heldout_")
    yield copies
    copies.close()
    copy.drop_copies(PG_URL, None, [f"heldout_{name}" for name in names], prefix)


def test_every_gold_gives_the_same_rows_on_postgresql(files, postgres_copies):
    """Each gold (``query_postgres`` where SQLite's functions differ) on the PostgreSQL copy returns the SQLite
    rows, in order where the gold orders."""
    differ = []
    for row in ANSWERABLE:
        on_sqlite = files[row.db].execute(row.query).fetchall()
        on_postgres = postgres_copies.gold_rows(row.db, row.gold("postgres"), Settings())
        if on_postgres is None or not results_match(on_sqlite, on_postgres, has_order_by(row.query)):
            differ.append(row.id)
    assert not differ


# --------------------------------------------------------------------------- the evaluator on the suite


class Oracle:
    """Writes each answerable question's gold for ``dialect``, and SQL reading a column no table has for an
    unanswerable one (what the model writes when it reaches for data the database lacks)."""

    name = "oracle"

    def __init__(self, dialect: str):
        self.sql = {row.question: row.gold(dialect) if row.answerable else
                    f"SELECT no_such_column FROM {_first_table(row.db)}" for row in ROWS}

    def generate(self, prompt, n: int = 1):
        from sqlchat.models.backends import Generation

        sql = self.sql[prompt.question.strip()]
        return [Generation(text=sql, sql=sql, tokens=1, seconds=0.0)]


def _first_table(db: str) -> str:
    with sqlite3.connect(f"file:{SUITE / db / (db + '.sqlite')}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name LIMIT 1").fetchone()[0]


def _scored(report) -> tuple[float, float, float]:
    return report.answer_accuracy, report.declined_answerable, report.declined_unanswerable


def test_the_gold_scores_full_marks_as_shipped_and_sql_needing_missing_names_is_declined():
    from sqlchat.evaluation.heldout import evaluate_heldout

    report = evaluate_heldout(SUITE, Oracle("sqlite"), Settings(), limit=60, progress=False)
    assert _scored(report) == (1.0, 0.0, 1.0)
    assert {r.db_id for r in report.records} == set(suite_databases(SUITE))


def test_each_record_keeps_the_signals_and_the_seconds_by_stage_it_was_decided_from():
    """A stored run must be re-scorable offline (the doubt check's calibration in docs/benchmarks.md) and say where
    each question's time went: the signals and the stages survive the checkpoint's JSON."""
    from dataclasses import asdict

    from sqlchat.answers.trust import Signals, confidence
    from sqlchat.evaluation.heldout import evaluate_heldout
    from sqlchat.evaluation.runner import QuestionRecord

    settings = Settings()
    report = evaluate_heldout(SUITE, Oracle("sqlite"), settings, limit=12, progress=False)
    for record in report.records:
        again = QuestionRecord.from_json(json.loads(json.dumps(asdict(record))))
        assert again.signals == record.signals and again.stages == record.stages
        assert {"generate", "choose", "settle"} <= set(record.stages) and all(s >= 0 for s in record.stages.values())
        signals = Signals.from_json(record.signals)
        if record.declined:  # the oracle's SQL for an unanswerable question reads a column no table has
            assert not record.answerable and "no_such_column" in signals.invented
        else:
            assert signals.ok and confidence(signals, settings.trust) == record.confidence


def test_the_suite_scores_alike_on_its_postgresql_copies(postgres_copies):
    from sqlchat.evaluation.heldout import evaluate_heldout

    report = evaluate_heldout(SUITE, Oracle("postgres"), Settings(), limit=60, progress=False, postgres=PG_URL,
                              schema_prefix=postgres_copies.schema_prefix)
    assert _scored(report) == (1.0, 0.0, 1.0)


# --------------------------------------------------------------------------- bad input


def test_a_wrong_postgres_url_or_folder_stops_with_one_sentence(capsys):
    import argparse

    from sqlchat.evaluation.cli import add_eval_arguments, run_eval_command

    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    for argv, said in [
        (["--heldout", str(SUITE), "--postgres", "postgresql://nobody@127.0.0.1:1/x", "--limit", "2"], "refused"),
        (["--heldout", "/nonexistent"], "holds no held-out databases"),
        (["--spider", str(SUITE), "--postgres", "postgresql://nobody@127.0.0.1:1/x"], "give it with --heldout"),
    ]:
        args = parser.parse_args([*argv, "--no-progress"])
        assert run_eval_command(args, Oracle("sqlite"), Settings()) == 2, argv
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err, err


def test_rule_report_says_a_missing_run_in_a_sentence(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "rule_report.py"), "--run", str(tmp_path / "no.json")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1 and "is not the JSON of a `sqlchat eval --json` run" in done.stderr
    assert "Traceback" not in done.stderr
