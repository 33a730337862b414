"""Follow-up questions: the engine keeps a conversation, `sqlchat chat` answers line by line after the lines
before it, and `sqlchat eval --business` scores a conversations file turn by turn.

Fast tests use a scripted backend that records the prompts it is sent (what the model would read); the
slow one asks the real embedded model a follow-up that only makes sense after the first question.
"""

from __future__ import annotations

import argparse
import io
import json
import sqlite3
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

from sqlchat.cli import main
from sqlchat.config import ConversationConfig, DEMO_DIR, Settings
from sqlchat.conversation import Conversation, selection_text
from sqlchat.evaluation.cli import add_eval_arguments, run_eval_command
from sqlchat.evaluation.runner import FIRST_TURN, FOLLOW_UP, evaluate_conversations, is_conversation_file
from sqlchat.models import backends
from sqlchat.models.backends import Generation
from sqlchat.pipeline import ask, follow_up_start, read_ahead, run_sql
from sqlchat.prompt import (
    FAILED_MARK, FOLLOW_UP_LABEL, NO_SQL, Prompt, Turn, build_prompt, build_training_text, render, render_start,
)
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import connect
from tests.test_pipeline import ScriptedBackend

ROOT = Path(__file__).resolve().parents[1]
CONVERSATIONS = ROOT / "tests" / "data" / "business" / "conversations.jsonl"
GERMANY = "How many invoices went to Germany?"
GERMANY_SQL = "SELECT COUNT(*) FROM Invoice WHERE BillingCountry = 'Germany'"
FRANCE = "And to France?"
FRANCE_SQL = "SELECT COUNT(*) FROM Invoice WHERE BillingCountry = 'France'"


def invoices_to(country: str) -> int:
    with sqlite3.connect((DEMO_DIR / "chinook.sqlite").resolve().as_uri() + "?mode=ro", uri=True) as con:
        return con.execute("SELECT COUNT(*) FROM Invoice WHERE BillingCountry = ?", (country,)).fetchone()[0]


# -- the prompt -------------------------------------------------------------------------------------


def test_a_follow_up_prompt_shows_the_previous_question_and_its_sql_before_the_question(chinook):
    backend = ScriptedBackend([GERMANY_SQL])
    first = ask(GERMANY, chinook, backend, Settings())
    conversation = Conversation()
    conversation.add(GERMANY, first)
    backend.candidates = [FRANCE_SQL]
    second = ask(FRANCE, chinook, backend, Settings(), earlier=conversation.turns)
    assert second.ok and second.rows == [[invoices_to("France")]] != first.rows
    sent = backend.prompts[-1]
    shown = f"Q: {GERMANY}\nSQL: {GERMANY_SQL};\n{FOLLOW_UP_LABEL} {FRANCE}"
    assert shown in sent and sent.index("CREATE TABLE") < sent.index(GERMANY)  # the schema stays the cached prefix
    assert GERMANY not in backend.prompts[0].split("<|im_start|>user")[1].split(GERMANY, 1)[0]  # nothing before turn 1
    assert "Invoice" in second.tables  # "And to France?" names no table: the earlier turn chooses it


def test_a_failed_earlier_turn_is_marked_and_one_without_sql_says_so():
    failed = Turn("How many widgets?", "SELECT COUNT(*) FROM Widget", ok=False)
    unanswered = Turn("What is the weather?", None, ok=False)
    text = build_prompt("CREATE TABLE t (a INTEGER)", "And yesterday?", earlier=[failed, unanswered]).user_text
    assert f"SQL {FAILED_MARK}: SELECT COUNT(*) FROM Widget;" in text
    assert f"Q: What is the weather?\nSQL: {NO_SQL}" in text
    assert Turn("q", "SELECT 1").text() == "Q: q\nSQL: SELECT 1;\n"  # a turn that worked carries no mark


def test_the_engine_marks_a_turn_whose_sql_failed(chinook):
    backend = ScriptedBackend(["SELECT COUNT(*) FROM Invoice WHERE"])  # unparsable: nothing to repair
    settings = Settings().with_model(retry_candidates=0)
    failed = ask("How many bills?", chinook, backend, settings)
    conversation = Conversation()
    turn = conversation.add("How many bills?", failed)
    assert not failed.ok and turn == Turn("How many bills?", "SELECT COUNT(*) FROM Invoice WHERE", ok=False,
                                          error=failed.error, tables=tuple(failed.tables))
    ask("And to France?", chinook, backend, settings, earlier=conversation.turns)
    assert f"SQL (this SQL failed: {failed.error.rstrip('.')}): SELECT COUNT(*) FROM Invoice WHERE;" in backend.prompts[-1]


def test_a_follow_up_is_shown_the_turns_from_the_last_answered_one_on(chinook):
    """The last answered turn's SQL carries the scope so far; failed turns after it say what was asked since."""
    turns = [Turn(f"Question {n}?", f"SELECT {n}") for n in range(5)]
    backend = ScriptedBackend(["SELECT 1"])
    ask("And then?", chinook, backend, Settings(), earlier=turns)
    assert "Question 3?" not in backend.prompts[-1] and "Q: Question 4?\nSQL: SELECT 4;" in backend.prompts[-1]
    failed = [*turns, Turn("Question 5?", "SELECT x FROM nowhere", ok=False, error="No such table."),
              Turn("Question 6?", None, ok=False)]
    ask("And then?", chinook, backend, Settings(), earlier=failed)
    shown = backend.prompts[-1]
    assert "Question 3?" not in shown and all(f"Q: Question {n}?" in shown for n in (4, 5, 6))
    assert "SQL (this SQL failed: No such table): SELECT x FROM nowhere;" in shown
    ask("And then?", chinook, backend, Settings(conversation=ConversationConfig(turns=2)), earlier=failed)
    assert "Question 4?" not in backend.prompts[-1] and "Q: Question 5?" in backend.prompts[-1]  # at most 2
    ask("And then?", chinook, backend, Settings(conversation=ConversationConfig(turns=0)), earlier=turns)
    assert "Question" not in backend.prompts[-1] and FOLLOW_UP_LABEL not in backend.prompts[-1]  # standalone
    assert Settings.from_env({"SQLCHAT_CONVERSATION_TURNS": "0"}).conversation.turns == 0
    assert Settings.from_env({}).conversation.turns == ConversationConfig.turns


def test_an_edited_turn_replaces_the_models_sql_and_reset_starts_over(chinook):
    conversation = Conversation()
    backend = ScriptedBackend(["SELECT COUNT(*) FROM Invoice"])
    conversation.add(GERMANY, ask(GERMANY, chinook, backend, Settings()))
    conversation.add(FRANCE, ask(FRANCE, chinook, backend, Settings(), earlier=conversation.turns))
    edited = conversation.edited(0, run_sql(GERMANY_SQL, chinook, Settings()))  # the user corrects the first answer
    assert conversation.turns[-1] == edited == Turn(GERMANY, GERMANY_SQL, ok=True)
    ask("What was their total?", chinook, backend, Settings(), earlier=conversation.turns)
    assert f"Q: {GERMANY}\nSQL: {GERMANY_SQL};\n{FOLLOW_UP_LABEL}" in backend.prompts[-1]  # what the user ran, last
    assert "SQL: SELECT COUNT(*) FROM Invoice;" not in backend.prompts[-1]
    conversation.reset()
    assert len(conversation) == 0


def test_tables_for_a_follow_up_are_chosen_from_the_earlier_questions_and_sql():
    text = selection_text("And to France?", [Turn(GERMANY, GERMANY_SQL)])
    assert text.endswith("And to France?") and "Invoice" in text


def test_a_follow_up_prompt_begins_as_the_last_one_did_so_its_schema_is_read_from_the_cache(chinook):
    first_sql = "SELECT COUNT(*) FROM Customer WHERE Country = 'Brazil'"
    backend = ScriptedBackend([first_sql])
    conversation = Conversation()
    first = ask("How many customers are in Brazil?", chinook, backend, Settings())
    conversation.add("How many customers are in Brazil?", first)
    assert conversation.turns[-1].tables == tuple(first.tables)
    backend.candidates = ["SELECT SUM(i.Total) FROM Invoice AS i JOIN Customer AS c ON c.CustomerId = i.CustomerId "
                          "WHERE c.Country = 'Brazil'"]
    second = ask("How much have they spent on albums?", chinook, backend, Settings(), earlier=conversation.turns)
    assert second.ok
    # chosen afresh, "albums" puts Album first in schema order; the last turn's tables come first instead
    assert "Album" in second.tables and second.tables[:len(first.tables)] == first.tables
    earlier_user, later_user = (prompt.split("<|im_start|>user\n")[1] for prompt in backend.prompts)
    assert later_user.startswith(first.context)
    # the user's own SQL showed no tables: the follow-up's are chosen as for any question
    edited = Turn("How many customers are in Brazil?", first_sql)
    third = ask("How much have they spent on albums?", chinook, backend, Settings(), earlier=[edited])
    assert third.tables == tuple(sorted(third.tables, key=[t.name for t in reflect_schema(chinook)].index))


def test_the_start_read_ahead_is_what_every_question_after_the_same_turns_begins_with():
    context, earlier = "CREATE TABLE Invoice (BillingCountry VARCHAR)", (Turn(GERMANY, GERMANY_SQL),)
    for style in ("chat", "seed"):
        start = render_start(build_prompt(context, "", earlier=earlier), style)
        assert start.endswith(f"Q: {GERMANY}\nSQL: {GERMANY_SQL};\n{FOLLOW_UP_LABEL}")
        assert render(build_prompt(context, FRANCE, earlier=earlier), style).startswith(start)
        # a question whose stored values the prompt tells about parts from it before the label only
        told = render(build_prompt(context, FRANCE, earlier=earlier, mentions=["Invoice.BillingCountry = 'France'"]), style)
        assert told.startswith(start.removesuffix(FOLLOW_UP_LABEL)) and not told.startswith(start)
        alone = render_start(build_prompt(context, ""), style)  # a first question: the schema is the start
        assert alone.endswith(context + "\n") and render(build_prompt(context, GERMANY), style).startswith(alone)


def test_after_an_answer_the_model_reads_ahead_what_the_follow_up_will_begin_with(chinook):
    backend = ScriptedBackend([GERMANY_SQL])
    conversation = Conversation()
    conversation.add(GERMANY, ask(GERMANY, chinook, backend, Settings()))
    read_ahead(backend, follow_up_start(chinook, Settings(), conversation.turns))
    assert len(backend.read) == 1  # read before the follow-up was asked
    backend.candidates = [FRANCE_SQL]
    second = ask(FRANCE, chinook, backend, Settings(), earlier=conversation.turns)
    assert second.rows == [[invoices_to("France")]]
    read = backend.read[-1]
    assert backend.prompts[-1].startswith(read) and read.endswith(f"SQL: {GERMANY_SQL};\n{FOLLOW_UP_LABEL}")
    assert len(backend.prompts[-1]) - len(read) < 80  # what is left to read when the question comes: it alone
    # off, or with no earlier turns shown, there is nothing to read ahead
    for settings in (Settings(conversation=ConversationConfig(read_ahead=False)),
                     Settings(conversation=ConversationConfig(turns=0))):
        assert follow_up_start(chinook, settings, conversation.turns) is None
    assert follow_up_start(chinook, Settings(), []) is None


def test_training_renders_a_conversation_row_exactly_as_the_engine_asks_it():
    context, earlier = "CREATE TABLE Invoice (BillingCountry VARCHAR)", [Turn(GERMANY, GERMANY_SQL)]
    for style in ("chat", "seed"):
        prompt, completion = build_training_text(context, FRANCE, FRANCE_SQL, earlier=earlier, style=style)
        assert prompt == render(Prompt(context, FRANCE, earlier=tuple(earlier)), style)
        assert f"Q: {GERMANY}" in prompt and completion.startswith(FRANCE_SQL + ";")
    assert build_training_text(context, GERMANY, GERMANY_SQL) == build_training_text(context, GERMANY, GERMANY_SQL, earlier=[])


# -- sqlchat chat ------------------------------------------------------------------------------------


def test_sqlchat_chat_answers_each_line_after_the_ones_before_and_new_starts_over(
        chinook_path, monkeypatch, capsys, tmp_path):
    backend = ScriptedBackend([GERMANY_SQL])
    loads = []
    monkeypatch.setattr(backends, "load_backend", lambda config: loads.append(config) or backend)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{GERMANY}\n{FRANCE}\n\n/new\n{FRANCE}\n"))
    assert main(["chat", "--db", str(chinook_path), "--json", "--history", str(tmp_path / "h.sqlite")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["question"] for line in lines] == [GERMANY, FRANCE, FRANCE]
    assert len(loads) == 1  # one model for the whole conversation
    ask_fields = set(ask(GERMANY, connect(chinook_path), backend, Settings()).to_json())
    assert all(set(line) == ask_fields for line in lines)
    follow_up, after_new = backend.prompts[1], backend.prompts[2]
    assert f"Q: {GERMANY}" in follow_up and FOLLOW_UP_LABEL in follow_up
    assert GERMANY not in after_new and FOLLOW_UP_LABEL not in after_new
    # after each answer the model read ahead: the follow-up began with what it read after the first answer
    assert len(backend.read) == 3 and follow_up.startswith(backend.read[0])


def test_sqlchat_chat_prints_each_answer_under_its_question(chinook_path, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(backends, "load_backend", lambda config: ScriptedBackend([GERMANY_SQL]))
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{GERMANY}\n/new\n"))
    assert main(["chat", "--db", str(chinook_path), "--history", str(tmp_path / "h.sqlite")]) == 0
    out = capsys.readouterr().out
    assert out.index(f"> {GERMANY}") < out.index(GERMANY_SQL) < out.index("(new conversation)")


@pytest.mark.slow
def test_sqlchat_chat_answers_a_follow_up_with_the_real_model(tmp_path):
    """Two turns on Chinook; "And to France?" only makes sense after the first question."""
    result = subprocess.run(
        [sys.executable, "-m", "sqlchat", "chat", "--db", str(DEMO_DIR / "chinook.sqlite"), "--json",
         "--history", str(tmp_path / "history.sqlite")],
        input=f"{GERMANY}\n{FRANCE}\n", cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    first, second = [json.loads(line) for line in result.stdout.splitlines()]
    assert first["rows"] == [[invoices_to("Germany")]], first
    assert second["error"] is None and second["rows"] == [[invoices_to("France")]] != first["rows"], second
    assert "France" in second["sql"]


# -- the conversations evaluation -------------------------------------------------------------------------


class GoldInOrder:
    """Writes each turn's gold SQL, in the file's order, checking that each prompt is the turn it expects."""

    name = "gold"

    def __init__(self, rows: list[dict], wrong: dict[str, str] | None = None):
        self.turns = deque((t["question"], (wrong or {}).get(t["question"], t["query"])) for r in rows for t in r["turns"])
        self.prompts: list[Prompt] = []

    def generate(self, prompt: Prompt, n: int = 1) -> list[Generation]:
        question, sql = self.turns.popleft()
        assert prompt.question == question
        self.prompts.append(prompt)
        return [Generation(text=sql, sql=sql, tokens=1, seconds=0.0)]


def _conversations() -> list[dict]:
    return [json.loads(line) for line in CONVERSATIONS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_conversation_scores_full_marks_when_the_model_writes_the_gold():
    """Every turn's gold survives the product's path after the earlier turns (and still runs: see test_business_sets)."""
    rows = _conversations()
    report = evaluate_conversations(CONVERSATIONS, GoldInOrder(rows), Settings(), progress=False)
    assert report.n == sum(len(r["turns"]) for r in rows)
    assert [(r.id, r.error) for r in report.records if not r.answer] == []
    levels = report.by_level()
    assert levels[FIRST_TURN]["n"] == len(rows) and levels[FOLLOW_UP]["n"] == report.n - len(rows)
    assert all(record.read_ahead_s == 0.0 for record in report.records)  # a backend that cannot read ahead


def test_the_evaluator_reads_ahead_after_each_turn_as_the_app_does_and_times_it_apart(tmp_path):
    rows = [r for r in _conversations() if r["id"] == "ch-c01"]
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    read: list[Prompt] = []
    backend = GoldInOrder(rows)
    backend.read_ahead = read.append
    report = evaluate_conversations(path, backend, Settings(), progress=False)
    assert len(read) == len(report.records) == 4
    assert [prompt.earlier[-1].question for prompt in read] == [turn["question"] for turn in rows[0]["turns"]]
    assert all(record.read_ahead_s > 0 for record in report.records)
    assert all(render(prompt).startswith(render_start(read[number - 2]))
               for number, prompt in enumerate(backend.prompts, start=1) if number > 1)
    # the stored run, read by the latency script: both levels, how many right, the time read ahead
    stored = tmp_path / "run.json"
    stored.write_text(json.dumps(report.to_json()), encoding="utf-8")
    script = [sys.executable, str(ROOT / "benchmarks" / "conversation_latency.py")]
    done = subprocess.run([*script, str(stored), "--baseline", str(stored)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "read ahead after an answer" in done.stdout and "first turn (1): right 1 (100.0 %)" in done.stdout
    assert "follow-up (3): right 3 (100.0 %)" in done.stdout and "3 turns answered alike, median change" in done.stdout
    refused = subprocess.run([*script, str(path)], capture_output=True, text=True, timeout=60)  # the questions, not a run
    assert refused.returncode == 2 and "is not a stored run" in refused.stderr and "Traceback" not in refused.stderr


def test_each_turn_follows_the_models_own_earlier_answers(tmp_path):
    rows = [r for r in _conversations() if r["id"] == "ch-c01"]
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    wrong = {FRANCE: "SELECT COUNT(*) FROM Invoice WHERE BillingCountry = 'Spain'"}
    backend = GoldInOrder(rows, wrong)
    report = evaluate_conversations(path, backend, Settings(), progress=False)
    assert [(r.id, r.level, r.answer) for r in report.records] == [
        ("ch-c01/1", FIRST_TURN, True), ("ch-c01/2", FOLLOW_UP, False), ("ch-c01/3", FOLLOW_UP, True),
        ("ch-c01/4", FOLLOW_UP, True)]
    assert backend.prompts[0].earlier == ()
    said = backend.prompts[2].earlier[-1]
    assert (said.question, said.sql, said.ok) == (FRANCE, wrong[FRANCE], True)  # what the model said, not the gold
    assert said.tables == tuple(report.records[1].tables) and "Invoice" in said.tables


def test_eval_business_scores_a_conversations_file_by_first_turns_and_follow_ups(capsys):
    assert is_conversation_file(CONVERSATIONS) and not is_conversation_file(CONVERSATIONS.with_name("questions.jsonl"))
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    args = parser.parse_args(["--business", str(CONVERSATIONS), "--limit", "2", "--no-progress"])
    rows = [r for r in _conversations() if r["id"] in ("ch-c01", "nw-c01")]  # --limit 2 spreads: first and middle
    assert run_eval_command(args, GoldInOrder(rows), Settings()) == 0
    lines = {line.strip().split("  ")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "conversations:conversations.jsonl" in lines["dataset"]
    assert "answer 100.0%" in lines[f"{FIRST_TURN} (2)"] and "answer 100.0%" in lines[f"{FOLLOW_UP} (4)"]
