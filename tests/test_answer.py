"""The answer as one immutable object with a trace: frozen, a retry round carries everything, the trace is the path."""

from __future__ import annotations

import dataclasses

import pytest
from test_pipeline import CallCountingBackend, ScriptedBackend, settings

from sqlchat.answers.result import Answer
from sqlchat.answers.trace import Step, Tracer, timings_of
from sqlchat.config import ModelConfig, Settings
from sqlchat.models.backends import Generation
from sqlchat.pipeline import Round, ask, run_sql
from sqlchat.prompt import Turn

JANE = "How many customers does Jane Peacock look after?"
NOBODY = "SELECT COUNT(*) FROM Customer WHERE SupportRepId = 99"  # runs, says nothing: the retry is asked for
JANES = ("SELECT COUNT(*) FROM Customer AS c JOIN Employee AS e ON c.SupportRepId = e.EmployeeId "
         "WHERE e.FirstName = 'Jane' AND e.LastName = 'Peacock'")
EARLIER = [Turn(question="How many employees are there?", sql="SELECT COUNT(*) FROM Employee", ok=True,
                tables=("Employee",))]
# What a retry round may change: what its choice among more candidates made. Every other field is carried.
ROUND_FIELDS = {"sql", "frame", "candidates", "tokens", "chosen", "repaired", "columns_added", "retried", "executed",
                "explanation", "confidence", "alternatives", "signals", "evidence", "rules", "rule_notes",
                "rule_failures", "error", "error_detail", "error_kind", "capped", "cap_note", "limit_added", "trace",
                "seconds", "shown_seconds"}


def test_an_answer_is_frozen_and_its_timings_are_a_copy(chinook):
    answer = ask("How many customers are there?", chinook, ScriptedBackend(["SELECT COUNT(*) FROM Customer"]), settings())
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer.sql = "SELECT 1"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer.evidence.found = ()  # type: ignore[misc]
    answer.timings["total"] = -1.0
    assert answer.timings["total"] > 0
    assert all(isinstance(getattr(answer, name), tuple) for name in
               ("tables", "candidates", "executed", "alternatives", "mentions", "rules", "rule_notes", "trace"))
    edited = dataclasses.replace(answer, sql="SELECT 2")  # an edit is a new answer
    assert answer.sql != edited.sql and edited.rows == answer.rows


def test_a_retry_round_carries_every_field_of_the_first(chinook):
    no_retry = Settings(model=ModelConfig(num_candidates=1, retry_candidates=0))
    first = ask(JANE, chinook, CallCountingBackend([NOBODY, JANES]), no_retry, earlier=EARLIER)
    backend = CallCountingBackend([NOBODY, JANES])
    retried = ask(JANE, chinook, backend, settings(), earlier=EARLIER)
    assert backend.asked == [1, 3] and retried.retried and retried.rows == [[21]] and first.rows == [[0]]
    assert first.mentions and first.follows and first.context and first.tables  # the fields carried say something
    for name in {f.name for f in dataclasses.fields(Answer)} - ROUND_FIELDS:
        assert getattr(retried, name) == getattr(first, name), name
    assert retried.candidates[: len(first.candidates)] == first.candidates
    assert retried.executed[: len(first.executed)] == first.executed and retried.tokens > first.tokens
    for name in ("declines", "generated", "model_reason", "invented"):
        assert getattr(retried.evidence, name) == getattr(first.evidence, name), name
    assert dict(retried.evidence.generations).items() >= dict(first.evidence.generations).items()


def test_a_later_round_extends_the_first_by_construction():
    def generation(sql: str) -> Generation:
        return Generation(text=sql, sql=sql, tokens=3, seconds=0.0)

    first = Round().extended([generation("a"), generation("-- cannot answer: no b")], first=True)
    later = first.extended([generation("a"), generation("a"), generation("c")])
    assert later.candidates == ("a", "c") and later.votes == {"a": 2, "c": 1} and later.tokens == 15
    changed = {"candidates", "generations", "votes", "tokens"}
    for field in dataclasses.fields(Round):
        if field.name not in changed:
            assert getattr(later, field.name) == getattr(first, field.name), field.name
    assert (first.declines, first.generated, first.model_reason) == (1, 2, "no b")


def test_the_trace_names_the_stages_a_question_went_through(chinook):
    answer = ask(JANE, chinook, CallCountingBackend([NOBODY, JANES]), settings(), earlier=EARLIER)
    stages = [step.stage for step in answer.trace]
    assert stages == ["schema", "mentions", "tables", "samples", "prompt", "generate", "choose", "readable", "retry",
                      "choose", "readable", "settle"], stages
    assert sum(step.seconds for step in answer.trace) <= answer.timings["total"]
    assert list(answer.timings) == ["schema", "mentions", "generate", "check", "execute", "total"]
    assert answer.timings == {**timings_of(answer.trace), "total": answer.seconds}
    retry = answer.trace[stages.index("retry")]
    assert retry.input == "3 more candidate(s) asked for" and retry.output == "1 new candidate(s)"
    assert answer.trace[-1].output == answer.confidence
    assert [step["stage"] for step in answer.to_json()["trace"]] == stages


def test_the_trace_says_which_rules_fired(chinook):
    answer = ask("How many rock tracks are there?", chinook,
                 ScriptedBackend(["SELECT COUNT(*) FROM Track WHERE genre_id = 1"]), settings())
    choose = next(step for step in answer.trace if step.stage == "choose")
    assert answer.rules == ("invented_names",) and choose.rules == answer.rules
    assert choose.timings and {key for key, _ in choose.timings} <= {"check", "execute"}


def test_a_doubt_check_is_a_step_and_user_sql_has_its_own_trace(chinook):
    unsure = Generation(text="SELECT COUNT(*) FROM Customer", sql="SELECT COUNT(*) FROM Customer", tokens=5,
                        seconds=0.0, logprob=-0.5, least_logprob=-3.0)

    class Unsure(ScriptedBackend):
        def generate(self, prompt, n=1):
            return [unsure] * n

    answer = ask("How many customers are there?", chinook, Unsure([]), settings())
    assert answer.checked and "doubt check" in [step.stage for step in answer.trace]
    ran = run_sql("SELECT Name FROM Genre LIMIT 2", chinook, settings())
    assert [step.stage for step in ran.trace] == ["run", "explain"] and ran.trace[0].output == "2 row(s)"
    assert list(ran.timings) == ["check", "execute", "total"]
    assert Answer(question="q").timings == {}  # nothing ran, nothing timed


def test_steps_do_not_nest_and_a_failing_stage_is_still_recorded():
    tracer = Tracer()
    with pytest.raises(RuntimeError), tracer.step("outer"), tracer.step("inner"):
        pass
    with pytest.raises(ValueError), tracer.step("generate", timing="generate"):
        raise ValueError("boom")
    assert [step.stage for step in tracer.steps] == ["outer", "generate"]
    assert isinstance(tracer.steps[-1], Step) and dict(tracer.steps[-1].timings)["generate"] >= 0


def test_the_json_keeps_every_key_and_adds_the_trace(chinook):
    import json

    data = ask("How many customers are there?", chinook, ScriptedBackend(["SELECT COUNT(*) FROM Customer"]),
               settings()).to_json()
    assert set(data) == {
        "question", "sql", "columns", "rows", "row_count", "capped", "cap_note", "limit_added", "tables", "mentions",
        "candidates", "timings", "error", "error_kind", "chosen", "repaired", "rules", "rule_notes", "rule_failures",
        "columns_added", "retried", "explanation", "confidence", "alternatives", "signals", "trace"}
    assert isinstance(data["tables"], list) and isinstance(data["candidates"], list)
    assert json.loads(json.dumps(data))["trace"][0]["stage"] == "schema"
