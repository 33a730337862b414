"""Pick a chart for a query result from its column types alone.

The choice is declarative on purpose: a result gets a bar chart (a category
by a number) or a line chart (time by a number) or nothing. No code written by
a model is ever run to draw it. The UI turns a :class:`ChartChoice` into an
Altair spec; this module stays free of any UI library so it can be tested alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import pandas as pd

MAX_BARS = 30  # more bars than this are unreadable; show the table only
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}(-\d{2})?([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
_YEAR_TEXT = re.compile(r"^\d{4}$")
_ID_NAME = re.compile(r"(^id$|_id$|[a-z]Id$|ID$)")


@dataclass(frozen=True)
class ChartChoice:
    """What to draw: ``kind`` of chart, ``x`` (category or time) and ``y`` (the number)."""

    kind: Literal["bar", "line"]
    x: str
    y: str


def choose_chart(frame: pd.DataFrame | None) -> ChartChoice | None:
    """A bar chart for category-by-number, a line chart for time-by-number, else None."""
    if frame is None or len(frame) < 2 or frame.shape[1] < 2 or frame.columns.duplicated().any():
        return None
    measure = _measure_column(frame)
    if measure is None:
        return None
    others = [c for c in frame.columns if c != measure]
    time = next((c for c in others if _is_time(frame[c], str(c))), None)
    if time is not None:
        return ChartChoice("line", str(time), str(measure))
    category = next((c for c in others if _is_category(frame[c])), None)
    if category is not None and len(frame) <= MAX_BARS and frame[category].is_unique:
        return ChartChoice("bar", str(category), str(measure))
    return None


def chart_data(frame: pd.DataFrame, choice: ChartChoice) -> pd.DataFrame:
    """Two columns, ``label`` and ``value``, ready to plot (times parsed and sorted).

    Fixed column names keep odd result headers (dots, colons) away from Vega-Lite
    field syntax; the UI puts the real names back as axis titles.
    """
    data = pd.DataFrame({"label": frame[choice.x].to_numpy(), "value": frame[choice.y].to_numpy()})
    data["value"] = pd.to_numeric(data["value"], errors="coerce")
    if choice.kind == "line":
        data["label"] = _to_datetime(data["label"])
        data = data.dropna(subset=["label"]).sort_values("label")
    else:
        data["label"] = data["label"].astype(str)
    return data.reset_index(drop=True)


def _measure_column(frame: pd.DataFrame) -> str | None:
    """The last numeric column that is a measure, not a key or a year."""
    numeric = [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
        and not _ID_NAME.search(str(c))
        and not _is_year(frame[c], str(c))
    ]
    return numeric[-1] if numeric else None


def _is_time(values: pd.Series, name: str) -> bool:
    """Datetimes, ISO date text (SQLite stores dates as text) or a column of years."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    if _is_year(values, name):
        return True
    if not _is_text(values):
        return False
    present = values.dropna().astype(str)
    return len(present) > 0 and bool(present.str.match(_DATE_TEXT).all())


def _is_year(values: pd.Series, name: str) -> bool:
    """A column called like "year" holding four-digit years, as numbers or text."""
    if "year" not in name.lower():
        return False
    present = values.dropna()
    if len(present) == 0:
        return False
    if pd.api.types.is_integer_dtype(present):
        return bool(present.between(1000, 9999).all())
    return _is_text(values) and bool(present.astype(str).str.match(_YEAR_TEXT).all())


def _is_category(values: pd.Series) -> bool:
    return _is_text(values) and values.notna().all()


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)


def _to_datetime(values: pd.Series) -> pd.Series:
    """Parse times; plain years become 1 January of that year."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    text = values.astype(str)
    if text.str.match(_YEAR_TEXT).all():
        return pd.to_datetime(text, format="%Y", errors="coerce")
    return pd.to_datetime(text, format="mixed", errors="coerce")
