"""Question → answer: execution-guided choice, timings, plain errors; the real model end to end."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from sqlchat.config import ModelConfig, Settings
from sqlchat.errors import GenerationFailed
from sqlchat.models.backends import Generation
from sqlchat.pipeline import Answer, ask, run_sql
from sqlchat.prompt import Prompt, render, render_start
from sqlchat.sources.connection import connect, connect_schema_script


@dataclass
class ScriptedBackend:
    """Returns fixed candidates; records the prompts it was sent (to test the pipeline, not a model)."""

    candidates: list[str]
    name: str = "scripted"
    prompts: list[str] = field(default_factory=list)  # as the default model reads them (chat rendering)
    read: list[str] = field(default_factory=list)  # what it was asked to read ahead, rendered the same way
    least_logprob: float | None = None  # below TrustConfig.doubt_logprob: the model is unsure, the doubt check runs

    def generate(self, prompt: Prompt, n: int = 1) -> list[Generation]:
        self.prompts.append(render(prompt))
        return [Generation(text=sql, sql=sql, tokens=5, seconds=0.01, least_logprob=self.least_logprob)
                for sql in self.candidates[:n]]

    def read_ahead(self, prompt: Prompt) -> None:
        self.read.append(render_start(prompt))


class BrokenBackend:
    name = "broken"

    def generate(self, prompt: Prompt, n: int = 1):
        raise GenerationFailed("The model server at gpu:8000 could not be reached.", "connect timeout")


def settings(candidates: int = 1) -> Settings:
    return Settings(model=ModelConfig(num_candidates=candidates))


def ask_scripted(target, question: str, sql: str, with_settings: Settings | None = None) -> Answer:
    """Connect to ``target``, ask ``question`` of a model that writes ``sql``, close: the engine end to end."""
    db = connect(target)
    try:
        return ask(question, db, ScriptedBackend([sql]), with_settings or settings())
    finally:
        db.close()


def ask_compared(target, question: str, sqls: list[str], earlier=None) -> Answer:
    """As :func:`ask_scripted`, the model writing each of ``sqls`` (the candidates compared)."""
    db = connect(target)
    try:
        return ask(question, db, ScriptedBackend(list(sqls)), settings(candidates=len(sqls)), earlier=earlier)
    finally:
        db.close()


def test_the_first_candidate_that_runs_is_the_answer(chinook):
    backend = ScriptedBackend(["SELECT nope FROM Artist", "DELETE FROM Artist", "SELECT COUNT(*) FROM Customer"])
    answer = ask("How many customers are there?", chinook, backend, settings(candidates=3))
    assert answer.ok, answer.error
    assert answer.rows == [[59]]
    assert answer.sql.startswith("SELECT COUNT(*) FROM Customer")
    assert len(answer.candidates) == 3
    assert {"schema", "generate", "check", "execute", "total"} <= set(answer.timings)


def test_the_prompt_carries_the_schema_context_and_the_question(chinook):
    backend = ScriptedBackend(["SELECT 1"])
    answer = ask("Which artists have albums?", chinook, backend, settings())
    assert "CREATE TABLE Artist" in backend.prompts[0] and "Which artists have albums?" in backend.prompts[0]
    assert "Artist" in answer.tables and answer.context in backend.prompts[0]


def test_a_write_is_refused_with_a_plain_sentence_and_never_runs(chinook):
    answer = ask("Remove all artists", chinook, ScriptedBackend(["DELETE FROM Artist"]), settings())
    assert not answer.ok and "read-only" in answer.error.lower()
    assert answer.frame is None
    assert run_sql("SELECT COUNT(*) FROM Artist", chinook, settings()).rows == [[275]]


def test_chosen_is_the_candidate_as_written_without_the_added_limit(chinook):
    backend = ScriptedBackend(["SELECT nope FROM Artist", "SELECT Name FROM Artist"])
    answer = ask("Name the artists", chinook, backend, settings(candidates=2))
    assert answer.ok and answer.limit_added and "LIMIT" in answer.sql
    assert answer.chosen == "SELECT Name FROM Artist" and answer.error_kind is None
    assert answer.to_json()["chosen"] == "SELECT Name FROM Artist"
    assert run_sql("SELECT Name FROM Genre", chinook, Settings()).chosen == "SELECT Name FROM Genre"


@pytest.mark.parametrize(
    ("candidate", "kind", "asked"),
    [("DELETE FROM Artist", "refused", "refused"), ("SELEC Name FRM Artist", "error", "error"),
     # a question whose SQL reads a column no table has is declined; the same SQL typed by the user is an error
     ("SELECT nope FROM Artist", "error", "unanswerable")],
)
def test_error_kind_says_whether_the_safety_check_refused(chinook, candidate, kind, asked):
    answer = ask("Do something", chinook, ScriptedBackend([candidate]), settings())
    assert not answer.ok and answer.chosen is None
    assert answer.error_kind == asked and answer.to_json()["error_kind"] == asked
    assert run_sql(candidate, chinook, Settings()).error_kind == kind


def test_a_failing_backend_is_reported_not_raised(chinook):
    answer = ask("How many customers?", chinook, BrokenBackend(), settings())
    assert answer.error == "The model server at gpu:8000 could not be reached."


def test_an_empty_question_and_empty_sql(chinook):
    assert ask("  ", chinook, ScriptedBackend(["SELECT 1"]), settings()).error == "Please type a question."
    answer = ask("Anything?", chinook, ScriptedBackend([""]), settings())
    assert "could not write SQL" in answer.error


def test_run_sql_adds_a_limit_and_reports_it(chinook):
    answer = run_sql("SELECT Name FROM Track", chinook, Settings())
    assert answer.ok and answer.limit_added and len(answer.frame) == 1000


def test_a_schema_only_database_checks_sql_without_running_it():
    db = connect_schema_script("CREATE TABLE sales (region TEXT, amount NUMERIC);")
    answer = ask("Total sales by region?", db, ScriptedBackend(["SELECT region, SUM(amount) FROM sales GROUP BY region"]), settings())
    assert answer.ok and answer.frame is None and "SUM(amount)" in answer.sql


def test_json_output_has_the_documented_keys(chinook):
    data = run_sql("SELECT Name FROM Artist ORDER BY ArtistId LIMIT 2", chinook, Settings()).to_json()
    assert data["columns"] == ["Name"] and data["rows"] == [["AC/DC"], ["Accept"]]
    assert data["error"] is None and "total" in data["timings"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "question, expected",
    [("How many customers are there?", [[59]]), ("How many artists are there?", [[275]])],
)
def test_the_embedded_model_answers_simple_questions_on_chinook(question, expected, chinook, local_backend):
    answer = ask(question, chinook, local_backend, Settings.from_env({}))
    assert answer.ok, (answer.error, answer.candidates)
    assert answer.rows == expected, answer.sql


class CallCountingBackend(ScriptedBackend):
    """A scripted backend that remembers how many candidates each call asked for."""

    def __init__(self, candidates: list[str], fail_after: int | None = None):
        super().__init__(candidates)
        self.asked: list[int] = []
        self.fail_after = fail_after

    def generate(self, prompt: Prompt, n: int = 1) -> list[Generation]:
        self.asked.append(n)
        if self.fail_after is not None and len(self.asked) > self.fail_after:
            raise GenerationFailed("The model server went away.", "connection reset")
        return super().generate(prompt, n)


EMPTY = "SELECT Name FROM Genre WHERE Name = 'Polka'"
FULL = "SELECT Name FROM Genre WHERE GenreId = 1"


def test_an_empty_first_answer_asks_the_model_for_more_candidates(chinook):
    backend = CallCountingBackend([EMPTY, FULL])
    answer = ask("Which genre is number one?", chinook, backend, settings())
    assert backend.asked == [1, 3]
    assert answer.retried and answer.rows == [["Rock"]] and answer.candidates == (EMPTY, FULL)


def test_an_informative_first_answer_never_pays_for_a_retry(chinook):
    backend = CallCountingBackend([FULL, EMPTY])
    answer = ask("Which genre is number one?", chinook, backend, settings())
    assert backend.asked == [1] and not answer.retried and answer.rows == [["Rock"]]


def test_a_failed_retry_keeps_the_first_answer(chinook):
    backend = CallCountingBackend([EMPTY, FULL], fail_after=1)
    answer = ask("Which genre is polka?", chinook, backend, settings())
    assert backend.asked == [1, 3] and answer.ok and answer.rows == [] and answer.chosen == EMPTY


def test_retry_can_be_turned_off(chinook):
    backend = CallCountingBackend([EMPTY, FULL])
    no_retry = Settings(model=ModelConfig(num_candidates=1, retry_candidates=0))
    answer = ask("Which genre is number one?", chinook, backend, no_retry)
    assert backend.asked == [1] and answer.rows == [] and not answer.retried


def test_a_schema_only_database_is_not_retried():
    db = connect_schema_script("CREATE TABLE t (a INTEGER);")
    try:
        backend = CallCountingBackend(["SELECT a FROM t", "SELECT COUNT(*) FROM t"])
        answer = ask("Which a?", db, backend, settings())
        assert backend.asked == [1] and answer.ok and answer.frame is None
    finally:
        db.close()
