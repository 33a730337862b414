"""The answer card: the SQL, what it does and how sure it is, the rows with a chart, the other answers found,
the steps' timings and the feedback buttons (edit, good answer)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from sqlchat.charts import ChartChoice, chart_data, choose_chart
from sqlchat.config import Settings
from sqlchat.export import csv_bytes
from sqlchat.pipeline import Answer
from sqlchat.ui.common import Problem, SAVED_NOTE, SCHEMA_ONLY_NOTE, Turn, plain, seconds_text, sentence, show_problem
from sqlchat.ui.editor import load_editor
from sqlchat.ui.store import on_choose_alternative, on_thumbs_up


CONFIDENCE_BADGES = {"high": ("green", ":material/verified:"), "medium": ("orange", ":material/help:"),
                     "low": ("red", ":material/warning:")}
LOW_NOTE = ("Not sure: the model's attempts disagreed or found little, so this may not answer your question. "
            "Read what the SQL does above, or pick one of the other answers it found.")
UNCHECKED_NOTE = (":material/hourglass_disabled: Not rated: the model was unsure of a step, and a new question came "
                  "before other attempts could be compared with this answer.")
ALTERNATIVE_SAVED = "Saved as your verified answer: similar questions will use it as an example."


def result_summary(answer: Answer) -> str:
    rows = len(answer.frame)
    parts = [f"{rows} row{'' if rows == 1 else 's'}"]
    if answer.retried:
        parts.append("the first SQL found nothing, so the model was asked for more candidates")
    if answer.rule_notes:  # what each correction rule that made the SQL did, in words
        parts.append("sqlchat " + "; ".join(answer.rule_notes))
    elif answer.repaired:
        parts.append("the model's SQL was corrected to the schema's names, foreign keys and stored values")
    if answer.columns_added:
        parts.append("name and measure columns were added so the rows read on their own")
    if answer.limit_added:
        parts.append("a LIMIT was added because the query had none")
    if answer.capped:
        parts.append(f"capped: only the first {rows} rows were fetched")
    if answer.cap_note:
        parts.append(answer.cap_note)
    return " · ".join(parts)


def render_chart(frame: pd.DataFrame, choice: ChartChoice) -> None:
    """Bar or line chart from a fixed Altair spec: declarative, no model-written code."""
    data = chart_data(frame, choice)
    if choice.kind == "bar":
        chart = alt.Chart(data).mark_bar().encode(
            y=alt.Y("label:N", sort="-x", title=choice.x),
            x=alt.X("value:Q", title=choice.y),
            tooltip=[alt.Tooltip("label:N", title=choice.x), alt.Tooltip("value:Q", title=choice.y)],
        ).properties(height=max(160, 36 * len(data)))
    else:
        chart = alt.Chart(data).mark_line(point=True).encode(
            x=alt.X("label:T", title=choice.x),
            y=alt.Y("value:Q", title=choice.y),
            tooltip=[alt.Tooltip("label:T", title=choice.x), alt.Tooltip("value:Q", title=choice.y)],
        )
    st.altair_chart(chart, width="stretch")


def render_result(answer: Answer, key: str) -> None:
    frame = answer.frame
    st.caption(sentence(result_summary(answer)))
    choice = choose_chart(frame)
    table, chart = st.columns([3, 2]) if choice else (st.container(), None)
    with table:
        st.dataframe(frame, hide_index=True)
    if chart is not None:
        with chart:
            render_chart(frame, choice)
    st.download_button(
        "Download CSV", csv_bytes(frame), file_name=f"sqlchat-answer-{key}.csv",
        mime="text/csv", key=f"csv:{key}", on_click="ignore", icon=":material/download:",
    )


def render_examples(examples: list[tuple[str, str]]) -> None:
    """Which verified answers the model was shown, so a user can tell where its SQL came from."""
    with st.expander(f"Verified examples shown to the model ({len(examples)})", icon=":material/school:"):
        for question, sql in examples:
            st.markdown(f"**{plain(question)}**")
            st.code(sql, language="sql", wrap_lines=True)


def render_feedback(turn: Turn, key: str, settings: Settings) -> None:
    """Edit the SQL; approve a model's answer (thumbs up); say when an answer was saved as verified."""
    answer = turn.answer
    with st.container(horizontal=True):
        if answer.sql:
            st.button("Edit this SQL", key=f"edit:{key}", on_click=load_editor, args=(turn,),
                      icon=":material/edit:", type="tertiary")
        if turn.question and answer.ok and answer.chosen:
            st.button("Good answer", key=f"up:{key}", on_click=on_thumbs_up, args=(turn, settings),
                      icon=":material/thumb_up:", type="tertiary", disabled=turn.verified_sql is not None,
                      help="Save this question and SQL as a verified answer: similar questions will use it.")
    if turn.verified_sql is not None or turn.corrects:
        st.caption(f":material/verified: {SAVED_NOTE}")


def render_footer(turn: Turn, key: str, settings: Settings) -> None:
    """Time of each step, the tables and examples sent to the model, and the feedback buttons."""
    answer = turn.answer
    steps = " · ".join(f"{step} {seconds_text(s)}" for step, s in answer.timings.items())
    tables = f" · tables sent to the model: {sentence(', '.join(answer.tables))}" if answer.tables else ""
    st.caption(f":material/timer: {steps}{tables}")
    if turn.examples:
        render_examples(turn.examples)
    render_feedback(turn, key, settings)


def render_trust(turn: Turn, key: str, settings: Settings) -> None:
    """What the SQL does and how sure the answer is, above the result; on low confidence, a plain warning."""
    answer = turn.answer
    if answer.explanation:
        st.markdown(f":material/info: {plain(answer.explanation)}")
    if answer.confidence in CONFIDENCE_BADGES:
        color, icon = CONFIDENCE_BADGES[answer.confidence]
        st.badge(f"Confidence: {answer.confidence}", color=color, icon=icon)
    if answer.confidence == "low":
        st.warning(LOW_NOTE, icon=":material/warning:")
    if answer.checking:  # a new question came before the check of these rows ended
        st.caption(UNCHECKED_NOTE)


def render_alternatives(turn: Turn, key: str, settings: Settings) -> None:
    """On low confidence, under the result: the other answers the candidates found, each with what it does."""
    if turn.answer.confidence != "low" or not turn.answer.alternatives or not turn.question:
        return
    with st.container(border=True, key=f"alternatives:{key}"):
        st.markdown("**Did you mean …?**")
        for index, alternative in enumerate(turn.answer.alternatives):
            st.markdown(plain(alternative.explanation or alternative.sql))
            st.dataframe(alternative.preview, hide_index=True)
            st.button("Use this answer", key=f"alt:{key}:{index}", on_click=on_choose_alternative,
                      args=(turn, alternative.sql, settings), icon=":material/check:", type="tertiary",
                      disabled=turn.verified_sql is not None)
            if turn.verified_sql == alternative.sql:
                st.caption(f":material/verified: {ALTERNATIVE_SAVED}")


def render_answer(turn: Turn, key: str, settings: Settings) -> None:
    answer = turn.answer
    if answer.sql:
        st.code(answer.sql, language="sql", wrap_lines=True)
    if answer.error_kind == "unanswerable":
        st.warning(sentence(answer.error), icon=":material/help:")
    elif answer.error:
        show_problem(Problem(answer.error, answer.error_detail), typed=(answer.question, answer.sql))
        if answer.question:
            st.caption("Try rephrasing the question, or fix the SQL in the editor below and run it.")
    else:
        render_trust(turn, key, settings)
        if answer.frame is not None:
            render_result(answer, key)
        else:
            st.info(SCHEMA_ONLY_NOTE)
        render_alternatives(turn, key, settings)
    render_footer(turn, key, settings)


def render_rows_while_checking(answer: Answer) -> None:
    """An unsure answer's SQL, what it does and its rows, shown while the doubt check runs (no buttons: the settled
    answer replaces them)."""
    if answer.sql:
        st.code(answer.sql, language="sql", wrap_lines=True)
    if answer.explanation:
        st.markdown(f":material/info: {plain(answer.explanation)}")
    st.caption(":material/hourglass_top: The model was unsure of a step: comparing other attempts to say how sure "
               "this answer is.")
    if answer.frame is not None:
        st.dataframe(answer.frame, hide_index=True)


def render_user(turn: Turn) -> None:
    with st.chat_message("user"):
        if turn.question:
            st.markdown(plain(turn.question))  # the user's own text: no images or links fetched from it
            if turn.follows:
                st.caption(f":material/forum: A follow-up to: {plain(turn.follows)}")
        elif turn.corrects:
            st.markdown(f"*Ran SQL from the editor, correcting:* {plain(turn.corrects)}")
        else:
            st.markdown("*Ran SQL from the editor*")
        if turn.continues:
            st.caption(f":material/forum: The next question follows this SQL, as the answer to: {plain(turn.continues)}")


def render_reply(turn: Turn, key: str, settings: Settings) -> None:
    if turn.problem is not None:
        show_problem(turn.problem)
    elif turn.answer is not None:
        render_answer(turn, key, settings)
