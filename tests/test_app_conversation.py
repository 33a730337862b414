"""The chat as a conversation, as a user drives it (AppTest, scripted model SQL, real Chinook): a follow-up
is asked after the turn before it, "New conversation" starts over, and an answer whose SQL the user edited
is what the next question follows."""

from __future__ import annotations

import threading

from streamlit.testing.v1 import AppTest

from tests.test_app import (  # noqa: F401 - fixtures used by name
    app, ask, connect_demo, history_file, last_reply, run_editor_sql, scripted_model,
)
from tests.test_conversation import FRANCE, FRANCE_SQL, GERMANY, GERMANY_SQL, invoices_to
from tests.test_pipeline import ScriptedBackend

FOLLOW_UP = "Follow-up question:"


def user_texts(at: AppTest) -> list[str]:
    return [m.markdown[0].value for m in at.chat_message if m.name == "user"]


def asked_after(backend: ScriptedBackend) -> str:
    """The earlier turns the model was shown with the last question (empty when it stood alone)."""
    prompt = backend.prompts[-1]
    return prompt.split("Earlier in this conversation", 1)[1] if "Earlier in this conversation" in prompt else ""


def test_a_follow_up_is_answered_after_the_previous_turn(app: AppTest, scripted_model: ScriptedBackend) -> None:
    connect_demo(app)
    scripted_model.candidates = [GERMANY_SQL]
    ask(app, GERMANY)
    assert asked_after(scripted_model) == ""
    scripted_model.candidates = [FRANCE_SQL]
    ask(app, FRANCE)
    assert f"Q: {GERMANY}\nSQL: {GERMANY_SQL};" in asked_after(scripted_model)
    assert user_texts(app) == [GERMANY, FRANCE]
    follow_up = [m for m in app.chat_message if m.name == "user"][1]
    assert any(GERMANY.rstrip("?") in c.value and "follow-up" in c.value for c in follow_up.caption)
    first, second = [m for m in app.chat_message if m.name == "assistant"]
    assert first.dataframe[0].value.iloc[0, 0] == invoices_to("Germany")
    assert second.dataframe[0].value.iloc[0, 0] == invoices_to("France")
    assert second.code[0].value.startswith(FRANCE_SQL) and second.button(key="edit:1")  # the whole card, per turn


def finish_reading_ahead() -> None:
    for thread in threading.enumerate():
        if thread.name == "sqlchat-read-ahead":
            thread.join()


def test_while_the_user_reads_an_answer_the_model_reads_what_a_follow_up_begins_with(
        app: AppTest, scripted_model: ScriptedBackend) -> None:
    connect_demo(app)
    scripted_model.candidates = [GERMANY_SQL]
    ask(app, GERMANY)
    finish_reading_ahead()
    assert len(scripted_model.read) == 1 and scripted_model.read[0].endswith(f"Q: {GERMANY}\nSQL: {GERMANY_SQL};\n{FOLLOW_UP}")
    scripted_model.candidates = [FRANCE_SQL]
    ask(app, FRANCE)
    assert scripted_model.prompts[-1].startswith(scripted_model.read[0])  # the follow-up read only its own question
    finish_reading_ahead()
    assert len(scripted_model.read) == 2 and GERMANY not in scripted_model.read[1].split("Earlier in this", 1)[1]


def test_new_conversation_empties_the_chat_and_the_next_question_stands_alone(
        app: AppTest, scripted_model: ScriptedBackend) -> None:
    connect_demo(app)
    scripted_model.candidates = [GERMANY_SQL]
    ask(app, GERMANY)
    app.button(key="new_conversation").click().run()
    assert not app.exception and not app.chat_message
    assert app.text_area(key="editor_sql").value == ""
    scripted_model.candidates = [FRANCE_SQL]
    ask(app, FRANCE)
    assert asked_after(scripted_model) == "" and FOLLOW_UP not in scripted_model.prompts[-1]
    assert user_texts(app) == [FRANCE]


def test_an_edited_sql_is_what_the_next_question_follows(app: AppTest, scripted_model: ScriptedBackend) -> None:
    connect_demo(app)
    scripted_model.candidates = ["SELECT COUNT(*) FROM Invoice"]  # the model missed the filter
    ask(app, GERMANY)
    app.button(key="edit:0").click().run()
    run_editor_sql(app, GERMANY_SQL)  # the user corrects it
    assert last_reply(app).dataframe[0].value.iloc[0, 0] == invoices_to("Germany")
    assert any("next question follows this SQL" in c.value for c in [m for m in app.chat_message if m.name == "user"][1].caption)
    scripted_model.candidates = [FRANCE_SQL]
    ask(app, FRANCE)
    shown = asked_after(scripted_model)
    assert f"Q: {GERMANY}\nSQL: {GERMANY_SQL};" in shown and "SQL: SELECT COUNT(*) FROM Invoice;" not in shown
