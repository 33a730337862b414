"""benchmarks/candidate_ceiling.py on a small stored run of the held-out suite (its real Sakila file, no model): a
question is within reach when any of its candidates, run alone through the engine, gives the gold's rows."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "tests" / "data" / "heldout"
RUN = {"records": [
    {"id": "sakila-001", "question": "How many films in our catalogue are rated PG-13?", "answerable": True,
     "answer": False, "candidates": ["SELECT COUNT(*) FROM film WHERE rating = 'PG'",
                                     "SELECT COUNT(film_id) FROM film WHERE rating = 'PG-13'"]},
    {"id": "sakila-002", "question": "What is the average running time of our films, in minutes?", "answerable": True,
     "answer": True, "candidates": ["SELECT AVG(length) FROM film"]},
    {"id": "sakila-003", "question": "How does the number of films vary by MPAA rating?", "answerable": True,
     "answer": False, "candidates": ["SELECT COUNT(*) FROM film", "SELECT COUNT(*) FROM film"]},
    {"id": "sakila-u01", "question": "Which director has the most films in our catalogue?", "answerable": False,
     "answer": None, "candidates": ["SELECT director FROM film"]},
]}


def load_ceiling(monkeypatch):
    spec = importlib.util.spec_from_file_location("candidate_ceiling", ROOT / "benchmarks" / "candidate_ceiling.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "candidate_ceiling", module)
    spec.loader.exec_module(module)
    return module


def test_each_candidate_is_scored_alone_and_any_right_one_counts(tmp_path, monkeypatch, capsys):
    ceiling = load_ceiling(monkeypatch)
    run, out = tmp_path / "run.json", tmp_path / "ceiling.json"
    run.write_text(json.dumps(RUN), encoding="utf-8")
    assert ceiling.main(["--run", str(run), "--heldout", str(HELDOUT), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "answerable questions scored: 3" in printed
    assert "right as the run chose:       1 (33.3%)" in printed
    assert "some candidate right (reach): 2 (66.7%)" in printed
    assert "questions with several candidates: 1; some candidate right in 1" in printed  # twin texts are one
    results = {row["id"]: row["candidates_right"] for row in json.loads(out.read_text(encoding="utf-8"))}
    assert results == {"sakila-001": [False, True], "sakila-002": [True], "sakila-003": [False]}


@pytest.mark.parametrize("run_text, says", [
    (None, "is not the JSON of a `sqlchat eval --heldout"),  # no such file
    ("not json", "is not the JSON of a `sqlchat eval --heldout"),
    (json.dumps({"records": [{"id": "nowhere-001", "answerable": True, "candidates": []}]}),
     "holds no answerable question"),
])
def test_a_run_it_cannot_read_gets_a_sentence(tmp_path, monkeypatch, capsys, run_text, says):
    ceiling = load_ceiling(monkeypatch)
    run = tmp_path / "run.json"
    if run_text is not None:
        run.write_text(run_text, encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        ceiling.main(["--run", str(run), "--heldout", str(HELDOUT)])
    assert exited.value.code == 2 and says in capsys.readouterr().err


def test_a_folder_without_the_suite_gets_a_sentence(tmp_path, monkeypatch, capsys):
    ceiling = load_ceiling(monkeypatch)
    run = tmp_path / "run.json"
    run.write_text(json.dumps(RUN), encoding="utf-8")
    with pytest.raises(SystemExit):
        ceiling.main(["--run", str(run), "--heldout", str(tmp_path)])
    assert "holds no held-out databases" in capsys.readouterr().err
