"""The app's trust features as a user sees them (AppTest, scripted model SQL, real Chinook):
the explanation above the result, a confidence badge on every answer, "Did you mean …?" when
unsure (choosing one saves it as the verified answer), and a plain decline."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlit.testing.v1 import AppTest

from tests.test_app import (  # noqa: F401 - fixtures used by name
    app, ask, connect_demo, history_file, last_reply, logged_questions, model_loads, run_editor_sql, scripted_model,
    verified_pairs,
)
from tests.test_pipeline import ScriptedBackend

COUNT_CUSTOMERS = "SELECT COUNT(*) FROM Customer"
COUNT_EMPLOYEES = "SELECT COUNT(*) FROM Employee"
LIST_GENRES = "SELECT Name FROM Genre ORDER BY GenreId"


def markdown_texts(reply) -> list[str]:
    return [m.value for m in reply.markdown]


def test_every_answer_shows_what_its_sql_does_and_a_confidence_badge(app: AppTest, scripted_model: ScriptedBackend) -> None:
    connect_demo(app)
    scripted_model.candidates = [COUNT_CUSTOMERS]
    ask(app, "How many customers are there?")
    reply = last_reply(app)
    texts = markdown_texts(reply)
    assert any("Counts customers" in text for text in texts)
    assert any("Confidence: medium" in text and "orange-badge" in text for text in texts)
    assert reply.dataframe[0].value.iloc[0, 0] == 59
    assert not reply.warning  # not unsure: no "Did you mean"


def test_agreeing_candidates_show_high_confidence(app: AppTest, scripted_model: ScriptedBackend) -> None:
    connect_demo(app)
    app.number_input(key="candidates").set_value(2).run()
    scripted_model.candidates = [COUNT_CUSTOMERS, "SELECT COUNT(CustomerId) FROM Customer"]
    ask(app, "How many customers are there?")
    assert any("Confidence: high" in text and "green-badge" in text for text in markdown_texts(last_reply(app)))


def test_when_unsure_the_other_answers_are_offered_and_choosing_one_saves_it(
    app: AppTest, scripted_model: ScriptedBackend, history_file: Path
) -> None:
    connect_demo(app)
    app.number_input(key="candidates").set_value(3).run()
    scripted_model.candidates = [COUNT_CUSTOMERS, COUNT_EMPLOYEES, LIST_GENRES]
    ask(app, "How many people are there?")
    reply = last_reply(app)
    texts = markdown_texts(reply)
    assert any("Confidence: low" in text and "red-badge" in text for text in texts)
    assert "Not sure" in reply.warning[0].value
    assert "**Did you mean …?**" in texts
    assert any("Counts employees" in text for text in texts) and any("Lists the name of genres" in text for text in texts)
    previews = [frame.value for frame in reply.dataframe]
    assert previews[0].iloc[0, 0] == 59 and previews[1].iloc[0, 0] == 8  # the answer, then the employees' count, under its explanation
    assert len(previews[2]) == 5  # a small preview of the 25 genres
    app.button(key="alt:0:0").click().run()
    assert not app.exception
    [pair] = verified_pairs(history_file)
    assert (pair.question, pair.sql, pair.source) == ("How many people are there?", COUNT_EMPLOYEES, "alternative")
    reply = last_reply(app)
    assert any("Saved as your verified answer" in caption.value for caption in reply.caption)
    assert app.button(key="alt:0:1").disabled


def test_an_unsure_answer_is_shown_then_settled_by_the_doubt_check(app: AppTest, scripted_model: ScriptedBackend) -> None:
    connect_demo(app)
    scripted_model.candidates = [COUNT_CUSTOMERS, COUNT_EMPLOYEES, COUNT_EMPLOYEES]
    scripted_model.least_logprob = -3.0  # unsure: its rows come first, then two sampled candidates are compared
    ask(app, "How many customers are there?")
    assert not app.exception and len(scripted_model.prompts) == 2
    reply = last_reply(app)
    assert any("Confidence: low" in text for text in markdown_texts(reply))
    assert [frame.value.iloc[0, 0] for frame in reply.dataframe] == [59, 8]  # the answer once, then the other result
    assert len(reply.code) == 1 and not any("comparing other attempts" in c.value for c in reply.caption)


def test_a_new_question_during_the_check_keeps_the_rows_shown(
    app: AppTest, scripted_model: ScriptedBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    from sqlchat.ui import conversation

    def stopped(answer) -> None:  # what Streamlit does at the next page call when a new question comes in
        raise StopException()

    connect_demo(app)
    scripted_model.candidates = [COUNT_CUSTOMERS, COUNT_EMPLOYEES, COUNT_EMPLOYEES]
    scripted_model.least_logprob = -3.0
    with monkeypatch.context() as patch:
        patch.setattr(conversation, "render_rows_while_checking", stopped)
        app.chat_input(key="question").set_value("How many customers are there?").run()
    app.run()  # the page as the next run draws it
    assert not app.exception
    reply = last_reply(app)
    assert reply.dataframe[0].value.iloc[0, 0] == 59 and len(scripted_model.prompts) == 1
    assert any("Not rated" in caption.value for caption in reply.caption)
    assert not any("Confidence:" in text for text in markdown_texts(reply))


def test_a_question_the_data_cannot_answer_is_declined_plainly(
    app: AppTest, scripted_model: ScriptedBackend, history_file: Path
) -> None:
    connect_demo(app)
    scripted_model.candidates = ["SELECT AVG(Salary) FROM Employee"]  # a column no table has
    ask(app, "What is the average salary of employees?")
    reply = last_reply(app)
    assert "“Salary”" in reply.warning[0].value
    assert not reply.dataframe and not reply.error and not reply.code  # no rows, no SQL from an unrelated query
    assert [entry.status for entry in logged_questions(history_file)] == ["unanswerable"]


def test_sql_from_the_editor_is_explained_too(app: AppTest, model_loads: list) -> None:
    connect_demo(app)
    run_editor_sql(app, "SELECT Name FROM Genre WHERE Name LIKE 'R%'")
    assert any("Lists the name of genres where genre name starts with" in t for t in markdown_texts(last_reply(app)))
    assert not model_loads
