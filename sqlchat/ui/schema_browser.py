"""The schema browser: the tables with row counts, a table's columns and keys, and the CREATE TABLE context
sent to the model for the last question."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from sqlchat.pipeline import Answer
from sqlchat.schema.model import Schema, Table
from sqlchat.schema.reflection import reflect_schema
from sqlchat.sources.connection import Database
from sqlchat.ui.common import TURNS, problem_from, sentence, show_problem


def table_overview(schema: Schema) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table": [t.name + (" (view)" if t.is_view else "") for t in schema],
            "rows": [t.row_count for t in schema],
            "columns": [len(t.columns) for t in schema],
        }
    )


def column_details(table: Table) -> pd.DataFrame:
    references = {col: f"→ {fk.ref_table}" for fk in table.foreign_keys for col in fk.columns}
    return pd.DataFrame(
        {
            "column": [c.name for c in table.columns],
            "type": [c.type for c in table.columns],
            "key": [" ".join(filter(None, ["PK" if c.primary_key else "", references.get(c.name, "")]))
                    for c in table.columns],
            "nullable": [c.nullable for c in table.columns],
        }
    )


def names_preview(names: list[str], shown: int = 12) -> str:
    """The first few table names, so the expander's label stays one line."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def last_question() -> Answer | None:
    asked = [t.answer for t in st.session_state[TURNS] if t.question and t.answer is not None]
    return asked[-1] if asked else None


def render_schema_browser(db: Database) -> None:
    try:
        schema = reflect_schema(db)
    except Exception as error:  # noqa: BLE001
        show_problem(problem_from(error, "reading the tables"))
        return
    with st.expander(f"Tables: {sentence(names_preview(schema.names))}", icon=":material/table_view:"):
        overview, details = st.columns([2, 3])
        with overview:
            st.dataframe(table_overview(schema), hide_index=True)
        with details:
            name = st.selectbox("Columns of", schema.names, key="schema_table")
            st.dataframe(column_details(schema[name]), hide_index=True)
        answer = last_question()
        if answer is not None:
            st.markdown(f"**Sent to the model for the last question** "
                        f"(tables: {sentence(', '.join(answer.tables)) or 'none'})")
            st.code(answer.context, language="sql", wrap_lines=True)
